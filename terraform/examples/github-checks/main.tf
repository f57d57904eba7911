# A complete deployment of prreconciler: copy this directory, fill in terraform.tfvars
# (see terraform.tfvars.example), then `terraform init && terraform apply`.

provider "google" {
  project = var.project_id
  region  = var.region
}

module "prreconciler" {
  source = "../.."

  project_id = var.project_id
  region     = var.region
  name       = "prreconciler"
  image      = var.image

  github_app_id                 = var.github_app_id
  github_app_private_key_secret = var.github_app_private_key_secret
  identity                      = var.identity

  # The topics the webhook relay (and anything else sending reconcile requests) publishes to.
  relay_topics = var.relay_topics

  max_delivery_attempts = 10
  concurrency           = 10
  min_instances         = 0
  max_instances         = 5
  log_level             = "info"

  deletion_protection = var.deletion_protection
}
