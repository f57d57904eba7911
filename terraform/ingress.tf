# The webhook ingress (webhook_ingress.enabled): a public Cloud Run service running the worker's
# image with MODE=ingress. It verifies GitHub's signature and publishes each delivery to a relay
# topic, which the intake stage consumes like any other relay topic (key "ingress").

locals {
  ingress_enabled = var.webhook_ingress.enabled

  # The relay topic the ingress publishes to, as a full topic name (RELAY_TOPIC): the given one,
  # or <name>-webhooks created below.
  ingress_topic = !local.ingress_enabled ? null : (
    var.webhook_ingress.topic == null ? google_pubsub_topic.webhooks[0].id :
    startswith(var.webhook_ingress.topic, "projects/") ? var.webhook_ingress.topic :
    "projects/${var.project_id}/topics/${var.webhook_ingress.topic}"
  )

  # The intake subscriptions' topics: the relay topics, and the ingress's topic.
  intake_topics = merge(var.relay_topics, local.ingress_enabled ? { ingress = local.ingress_topic } : {})

  # The webhook secrets as full paths, for the IAM grants (a secret may live in another project).
  ingress_secrets = !local.ingress_enabled ? {} : { for k, s in {
    current  = var.webhook_ingress.secret
    previous = var.webhook_ingress.previous_secret
  } : k => startswith(s, "projects/") ? s : "projects/${var.project_id}/secrets/${s}" if s != null }
}

resource "google_pubsub_topic" "webhooks" {
  count = local.ingress_enabled && var.webhook_ingress.topic == null ? 1 : 0

  project = var.project_id
  name    = "${var.name}-webhooks"
  labels  = var.labels

  depends_on = [google_project_service.apis]
}

# The ingress's identity: publishes to its topic and reads the webhook secret(s). Nothing else.
resource "google_service_account" "ingress" {
  count = local.ingress_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-hook"
  display_name = "${var.name} webhook ingress (Cloud Run)"
  description  = "Runs the ${var.name} webhook ingress: reads the webhook secret, publishes deliveries to the relay topic."

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "ingress_publishes_webhooks" {
  count = local.ingress_enabled ? 1 : 0

  project = var.project_id
  topic   = local.ingress_topic
  role    = "roles/pubsub.publisher"
  member  = google_service_account.ingress[0].member
}

resource "google_secret_manager_secret_iam_member" "ingress_reads_webhook_secret" {
  for_each = local.ingress_secrets

  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.ingress[0].member

  depends_on = [google_project_service.apis]
}

resource "google_cloud_run_v2_service" "ingress" {
  count = local.ingress_enabled ? 1 : 0

  project             = var.project_id
  name                = "${var.name}-webhook"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account = google_service_account.ingress[0].email
    # GitHub gives up on a delivery after 10 s; the ingress answers within its publish deadline.
    timeout                          = "30s"
    max_instance_request_concurrency = var.webhook_ingress.concurrency

    scaling {
      min_instance_count = var.webhook_ingress.min_instances
      max_instance_count = var.webhook_ingress.max_instances
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = true
      }

      startup_probe {
        http_get {
          path = "/healthz"
        }
      }

      env {
        name  = "MODE"
        value = "ingress"
      }
      env {
        name  = "RELAY_TOPIC"
        value = local.ingress_topic
      }
      env {
        name = "WEBHOOK_SECRET"
        value_source {
          secret_key_ref {
            secret  = var.webhook_ingress.secret
            version = var.webhook_ingress.secret_version
          }
        }
      }
      dynamic "env" {
        for_each = var.webhook_ingress.previous_secret == null ? [] : [var.webhook_ingress.previous_secret]
        content {
          name = "WEBHOOK_SECRET_PREVIOUS"
          value_source {
            secret_key_ref {
              secret  = env.value
              version = var.webhook_ingress.previous_secret_version
            }
          }
        }
      }
      env {
        name  = "RELAY_TYPE_PREFIX"
        value = var.relay_type_prefix
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      dynamic "env" {
        for_each = var.webhook_ingress.publish_timeout == null ? [] : [var.webhook_ingress.publish_timeout]
        content {
          name  = "WEBHOOK_PUBLISH_TIMEOUT"
          value = env.value
        }
      }
      env {
        name  = "LOG_LEVEL"
        value = var.log_level
      }
    }
  }

  # The first revision must be able to read the secret and publish.
  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.ingress_reads_webhook_secret,
    google_pubsub_topic_iam_member.ingress_publishes_webhooks,
  ]
}

# Public: GitHub calls it without credentials; the signature is the authentication. Only this
# service; the worker stays private.
resource "google_cloud_run_v2_service_iam_member" "public_invokes_ingress" {
  count = local.ingress_enabled ? 1 : 0

  project  = var.project_id
  location = google_cloud_run_v2_service.ingress[0].location
  name     = google_cloud_run_v2_service.ingress[0].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
