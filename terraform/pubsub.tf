# Where messages go after max_delivery_attempts: invalid requests, or transient failures that
# never cleared. Kept, never expiring, for inspection and replay.
resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name}-dead-letter"
  message_retention_duration = var.dead_letter_retention
  labels                     = var.labels
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

resource "google_pubsub_subscription" "push" {
  for_each = var.relay_topics

  project = var.project_id
  name    = "${var.name}-${each.key}"
  topic   = each.value
  labels  = var.labels
  filter  = local.subscription_filter

  # For push this is also the HTTP request timeout; the maximum, as Cloud Run recommends.
  ack_deadline_seconds = 600

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
    # The worker takes the wrapped push envelope on POST /.
    push_endpoint = google_cloud_run_v2_service.worker.uri

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = google_cloud_run_v2_service.worker.uri
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.subscription_filter) <= 256
      error_message = "The subscription filter built from filter_events and relay_type_prefix exceeds Pub/Sub's 256 bytes; list fewer events."
    }
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invokes_worker,
    google_pubsub_topic_iam_member.pubsub_agent_publishes_dead_letters,
  ]
}
