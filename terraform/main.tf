# prreconciler on Cloud Run, fed by Pub/Sub push in two stages:
#   relay topics --intake subscriptions (POST /intake)--> worker, which publishes each request
#   to the reconcile topic with ordering key owner/repo@sha
#   reconcile topic --ordered subscription (POST /reconcile)--> worker, one message per commit
#   at a time across all instances
# The resources are split by concern:
#   iam.tf     service accounts and every role binding
#   run.tf     the Cloud Run service (the worker and its environment)
#   pubsub.tf  the reconcile topic, the push subscriptions, the dead-letter topic and its subscription

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # One ack deadline for every push subscription, the service's request timeout and the
  # worker's ACK_DEADLINE (from which it derives each message's deadline): Pub/Sub's maximum,
  # as Cloud Run recommends for push.
  ack_deadline_seconds = 600

  # The Pub/Sub service agent forwards undeliverable messages to the dead-letter topic: it
  # publishes there and acknowledges them on the source subscription.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # Deliver plain reconcile requests (no ce-type attribute) and the relay events the worker
  # acts on; Pub/Sub acknowledges everything else without delivering it.
  subscription_filter = length(var.filter_events) == 0 ? "" : join(" OR ", concat(
    ["NOT attributes:ce-type"],
    [for e in var.filter_events : "attributes.ce-type = \"${var.relay_type_prefix}.${e}\""],
  ))
}
