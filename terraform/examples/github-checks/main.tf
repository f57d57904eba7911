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

  # The topics the webhook relay publishes to; each gets an intake subscription (POST /intake)
  # whose requests the worker publishes to the module's reconcile topic, <name>-reconcile.
  relay_topics = var.relay_topics

  # Without a relay: the module's own webhook ingress, a public Cloud Run service that verifies
  # GitHub's signature and publishes to a topic of its own, consumed like a relay topic (key
  # "ingress"). Paste output webhook_url and the secret's value into the App's webhook settings;
  # relay_topics may then be {}.
  # webhook_ingress = {
  #   enabled = true
  #   secret  = "github-webhook-secret" # an existing Secret Manager secret, read by reference
  # }

  # Missed deliveries: a Cloud Run job running `worker redeliver -since 24h` every 6 hours
  # (off by default; `worker redeliver -since 24h` by hand does the same).
  # redeliver = {
  #   enabled  = true
  #   schedule = "0 */6 * * *"
  #   since    = "24h"
  # }

  # Who else may publish reconcile requests to <name>-reconcile (ordering key owner/repo@sha).
  reconcile_publishers = var.reconcile_publishers

  # With the default backoffs (10s..600s) 15 deliveries span a retry window of 5430 s (about
  # 90 minutes), more than GitHub's hourly rate-limit reset; the module refuses less than an hour.
  max_delivery_attempts = 15
  retry_minimum_backoff = "10s"
  retry_maximum_backoff = "600s"
  concurrency           = 10
  min_instances         = 0
  max_instances         = 5
  log_level             = "info"

  # The reconciler's own settings (diff hygiene's: HYGIENE_MAX_FILE_BYTES, HYGIENE_MAX_FILE_LINES);
  # the module refuses the names it sets itself.
  reconciler_env = var.reconciler_env

  deletion_protection = var.deletion_protection

  # Operating it: who the alerts notify (the module's README has a runbook of each alert),
  # and the APIs, enabled by the module when the applying principal may.
  notification_channels = var.notification_channels
  enable_apis           = var.enable_apis
}
