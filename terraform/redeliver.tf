# The redeliver job (redeliver.enabled): GitHub does not redeliver a webhook delivery that failed
# or was lost while the ingress was down. A Cloud Run job runs `worker redeliver -since <window>`
# on a schedule; it asks GitHub once for each delivery of the window that never got a 2xx.

locals {
  redeliver_enabled = var.redeliver.enabled

  # The Run Admin API's method that starts an execution of the job.
  redeliver_run_uri = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${var.name}-redeliver:run"
}

# Runs as the worker's account: it already reads the App key, the only thing the job needs.
resource "google_cloud_run_v2_job" "redeliver" {
  count = local.redeliver_enabled ? 1 : 0

  project             = var.project_id
  name                = "${var.name}-redeliver"
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    task_count = 1

    template {
      service_account = google_service_account.worker.email
      timeout         = "1800s"
      # The next scheduled run retries; a run is safe to repeat.
      max_retries = 0

      containers {
        image = var.image
        args  = ["redeliver", "-since", var.redeliver.since]

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
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_secret_manager_secret_iam_member.worker_reads_app_key,
  ]
}

# The identity Cloud Scheduler calls the Run Admin API with: allowed to run the job, nothing else.
resource "google_service_account" "scheduler" {
  count = local.redeliver_enabled ? 1 : 0

  project      = var.project_id
  account_id   = "${var.name}-sched"
  display_name = "${var.name} redeliver scheduler"
  description  = "Runs the ${var.name}-redeliver Cloud Run job from Cloud Scheduler."

  depends_on = [google_project_service.apis]
}

# roles/run.invoker on the job holds run.jobs.run: it starts executions without overrides.
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_redeliver" {
  count = local.redeliver_enabled ? 1 : 0

  project  = var.project_id
  location = google_cloud_run_v2_job.redeliver[0].location
  name     = google_cloud_run_v2_job.redeliver[0].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler[0].member
}

resource "google_cloud_scheduler_job" "redeliver" {
  count = local.redeliver_enabled ? 1 : 0

  project     = var.project_id
  name        = "${var.name}-redeliver"
  region      = var.region
  description = "Runs ${var.name}-redeliver: redelivers the GitHub webhook deliveries of the last ${var.redeliver.since} that never succeeded."
  schedule    = var.redeliver.schedule
  time_zone   = var.redeliver.time_zone

  # Starting an execution returns at once; the job's own timeout bounds the run.
  attempt_deadline = "60s"

  retry_config {
    retry_count = 1
  }

  http_target {
    uri         = local.redeliver_run_uri
    http_method = "POST"

    oauth_token {
      service_account_email = google_service_account.scheduler[0].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [
    google_project_service.apis,
    google_cloud_run_v2_job_iam_member.scheduler_runs_redeliver,
  ]
}
