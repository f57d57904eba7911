resource "google_cloud_run_v2_service" "worker" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account = google_service_account.worker.email
    # The push request timeout is the subscriptions' ack deadline (600 s); the service must
    # not cut a request shorter than that.
    timeout                          = "${local.ack_deadline_seconds}s"
    max_instance_request_concurrency = var.concurrency

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image

      # PORT is set by Cloud Run from this port; it is reserved and not set below.
      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle = true
      }

      startup_probe {
        http_get {
          path = "/healthz"
        }
      }

      env {
        name  = "GITHUB_APP_ID"
        value = tostring(var.github_app_id)
      }
      env {
        name = "GITHUB_APP_PRIVATE_KEY"
        value_source {
          secret_key_ref {
            secret  = var.github_app_private_key_secret
            version = var.github_app_private_key_secret_version
          }
        }
      }
      env {
        name  = "GITHUB_API_URL"
        value = var.github_api_url
      }
      env {
        name  = "IDENTITY"
        value = var.identity
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "MAX_IN_FLIGHT"
        value = tostring(var.concurrency)
      }
      env {
        name  = "MAX_DELIVERY_ATTEMPTS"
        value = tostring(var.max_delivery_attempts)
      }
      env {
        # The intake stage publishes here.
        name  = "RECONCILE_TOPIC"
        value = google_pubsub_topic.reconcile.id
      }
      env {
        # The subscriptions' ack deadline; the worker derives each message's deadline from it.
        name  = "ACK_DEADLINE"
        value = "${local.ack_deadline_seconds}s"
      }
      env {
        # With MAX_DELIVERY_ATTEMPTS, the retry policy: the worker checks the same retry window.
        name  = "RETRY_MINIMUM_BACKOFF"
        value = var.retry_minimum_backoff
      }
      env {
        name  = "RETRY_MAXIMUM_BACKOFF"
        value = var.retry_maximum_backoff
      }
      env {
        name  = "RECONCILE_TIMEOUT"
        value = "${var.reconcile_timeout_seconds}s"
      }
      env {
        name  = "RELAY_TYPE_PREFIX"
        value = var.relay_type_prefix
      }
      env {
        name  = "LOG_LEVEL"
        value = var.log_level
      }
      env {
        name  = "LOG_DESTINATION"
        value = var.log_destination
      }
      # The reconciler's own settings, in name order; reconciler_env's validation refuses every
      # name set above (local.reconciler_env_reserved).
      dynamic "env" {
        for_each = var.reconciler_env
        content {
          name  = env.key
          value = env.value
        }
      }
    }
  }

  # The first revision must be able to read the key, publish reconcile requests and (with
  # log_destination = "api") write logs.
  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.worker_reads_app_key,
    google_pubsub_topic_iam_member.worker_publishes_reconcile,
    google_project_iam_member.worker_writes_logs,
  ]
}
