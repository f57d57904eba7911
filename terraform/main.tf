# prreconciler on Cloud Run, fed by Pub/Sub push in two stages:
#   relay topics --intake subscriptions (POST /intake)--> worker, which publishes each request
#   to the reconcile topic with ordering key owner/repo@sha
#   reconcile topic --ordered subscription (POST /reconcile)--> worker, one message per commit
#   at a time across all instances
# The resources are split by concern:
#   iam.tf     service accounts and every role binding
#   run.tf     the Cloud Run service (the worker and its environment)
#   pubsub.tf  the reconcile topic, the push subscriptions, the dead-letter topic and its subscription
#   monitoring.tf  log-based metrics, alert policies and the dashboard
# The intake subscriptions' filter is built in variables.tf (Terraform evaluates it there without a provider).

data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.apis]
}

# Only with enable_apis. Left enabled on destroy: other things in the project may use them.
resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

locals {
  # One ack deadline for every push subscription, the service's request timeout and the
  # worker's ACK_DEADLINE (from which it derives each message's deadline): Pub/Sub's maximum,
  # as Cloud Run recommends for push.
  ack_deadline_seconds = 600

  # The Pub/Sub service agent forwards undeliverable messages to the dead-letter topic: it
  # publishes there and acknowledges them on the source subscription.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # The key's secret as a full path: the IAM grant on a secret of another project is made
  # there (the provider reads the project from the path; a project argument beside it would
  # disagree and replace the grant on every plan).
  app_key_secret = startswith(var.github_app_private_key_secret, "projects/") ? var.github_app_private_key_secret : "projects/${var.project_id}/secrets/${var.github_app_private_key_secret}"

  # The APIs the module calls: cloudresourcemanager for data.google_project, monitoring for
  # the alert policies and the dashboard, logging for the log-based metrics.
  apis = concat([
    "cloudresourcemanager.googleapis.com", "iam.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com",
    "pubsub.googleapis.com", "run.googleapis.com", "secretmanager.googleapis.com",
  ], var.redeliver.enabled ? ["cloudscheduler.googleapis.com"] : [])
}
