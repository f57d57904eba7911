# Where messages go after max_delivery_attempts: invalid requests, or transient failures that
# never cleared. Kept, never expiring, for inspection and replay.
resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name}-dead-letter"
  message_retention_duration = var.dead_letter_retention
  labels                     = var.labels

  depends_on = [google_project_service.apis]
}

# Without a subscription, dead-lettered messages would be lost.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention
  labels                     = var.labels

  expiration_policy {
    ttl = ""
  }
}

# The reconcile topic: reconcile requests, each published with ordering key owner/repo@sha
# (lower-case), by the worker's intake stage and by any publisher in reconcile_publishers.
resource "google_pubsub_topic" "reconcile" {
  project = var.project_id
  name    = "${var.name}-reconcile"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

# The reconcile stage. Ordered: Pub/Sub pushes one message per ordering key (per commit) at a
# time, whichever instance takes it, so two deliveries for one commit never race on its check run.
resource "google_pubsub_subscription" "reconcile" {
  project = var.project_id
  name    = "${var.name}-reconcile"
  topic   = google_pubsub_topic.reconcile.id
  labels  = var.labels

  enable_message_ordering = true

  # For push this is also the HTTP request timeout; the maximum, as Cloud Run recommends.
  ack_deadline_seconds = local.ack_deadline_seconds

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  push_config {
    # The wrapped push envelope, reconciled directly.
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/reconcile"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloud_run_v2_service.worker.uri
    }
  }

  # The push account's token grant (grant_pubsub_token_creator) before the first push.
  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invokes_worker,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
    google_service_account_iam_member.pubsub_agent_mints_push_tokens,
  ]
}

# The intake stage: one subscription per relay topic. The worker decodes each message into
# reconcile requests and publishes them to the reconcile topic; no ordering needed here.
resource "google_pubsub_subscription" "intake" {
  for_each = local.intake_topics

  project = var.project_id
  name    = "${var.name}-${each.key}"
  topic   = each.value
  labels  = var.labels
  filter  = local.subscription_filter

  # For push this is also the HTTP request timeout; the maximum, as Cloud Run recommends.
  ack_deadline_seconds = local.ack_deadline_seconds

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  push_config {
    # The wrapped push envelope, decoded and published to the reconcile topic.
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/intake"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloud_run_v2_service.worker.uri
    }
  }

  # The push account's token grant (grant_pubsub_token_creator) before the first push.
  lifecycle {
    precondition {
      condition     = local.subscription_filter_bytes <= 256
      error_message = "The intake subscriptions' filter built from filter_events and relay_type_prefix is ${local.subscription_filter_bytes} bytes, more than Pub/Sub's 256: list fewer events or shorten relay_type_prefix (output subscription_filter shows it)."
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invokes_worker,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
    google_service_account_iam_member.pubsub_agent_mints_push_tokens,
  ]
}

# Before the two stages, the relay subscriptions were google_pubsub_subscription.push and
# pushed to /. Their names are unchanged: an upgrade updates their endpoint in place.
moved {
  from = google_pubsub_subscription.push
  to   = google_pubsub_subscription.intake
}
