resource "google_cloud_run_v2_service" "worker" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account = google_service_account.worker.email
    # The push request timeout is the subscription's ack deadline (600 s); the service must
    # not cut a request shorter than that.
    timeout                          = "600s"
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
    }
  }

  # The first revision must be able to read the key.
  depends_on = [google_secret_manager_secret_iam_member.worker_reads_app_key]
}
