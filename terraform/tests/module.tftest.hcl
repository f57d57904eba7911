# Offline plans of the module against the real Google provider's schema with mocked resources:
# `terraform test` needs the provider installed (terraform init), and no credentials. The Go test
# TestTerraformTestOffline runs it when PRRECONCILER_TF_PROVIDER_MIRROR names a filesystem
# mirror holding the provider.

mock_provider "google" {
  mock_data "google_project" {
    defaults = {
      number = "123456789012"
    }
  }
  mock_resource "google_cloud_run_v2_service" {
    defaults = {
      uri = "https://prreconciler-abc-ew.a.run.app"
    }
  }
  mock_resource "google_service_account" {
    defaults = {
      email  = "prreconciler-worker@acme-ci-prod.iam.gserviceaccount.com"
      member = "serviceAccount:prreconciler-worker@acme-ci-prod.iam.gserviceaccount.com"
    }
  }
}

variables {
  project_id                    = "acme-ci-prod"
  region                        = "europe-west1"
  image                         = "europe-west1-docker.pkg.dev/acme-ci-prod/prreconciler/worker:1"
  github_app_id                 = 123456
  github_app_private_key_secret = "prreconciler-github-app-key"
  identity                      = "prreconciler"
  relay_topics                  = { github = "github-webhooks" }
}

run "defaults" {
  # apply, on the mocked provider: every value is known, nothing leaves this machine.
  command = apply

  assert {
    condition     = !startswith(google_cloud_run_v2_service_iam_member.push_invokes_worker.member, "allUsers")
    error_message = "the worker service must not be invokable by allUsers"
  }

  assert {
    condition     = google_cloud_run_v2_service.worker.ingress != "INGRESS_TRAFFIC_ALL" || google_cloud_run_v2_service.worker.invoker_iam_disabled != true
    error_message = "the worker service must keep Cloud Run's IAM check"
  }
}

run "refuses_a_short_retry_window" {
  command = plan

  variables {
    max_delivery_attempts = 5
  }

  expect_failures = [var.max_delivery_attempts]
}

run "refuses_memory_that_does_not_fit_cpu" {
  command = plan

  # Cloud Run needs at least 2Gi with 4 CPUs; memory stays at its default 512Mi.
  variables {
    cpu = "4"
  }

  expect_failures = [var.memory]
}

run "ingress_and_redeliver" {
  command = apply

  variables {
    relay_topics    = {}
    webhook_ingress = { enabled = true, secret = "prreconciler-webhook-secret" }
    redeliver       = { enabled = true }
  }

  assert {
    condition     = google_cloud_run_v2_service_iam_member.public_invokes_ingress[0].member == "allUsers" && google_cloud_run_v2_service_iam_member.public_invokes_ingress[0].name == google_cloud_run_v2_service.ingress[0].name
    error_message = "the ingress, and only it, is public"
  }

  assert {
    condition     = !startswith(google_cloud_run_v2_service_iam_member.push_invokes_worker.member, "allUsers")
    error_message = "the worker service stays private with the ingress on"
  }

  assert {
    condition     = endswith(output.webhook_url, "/webhook")
    error_message = "webhook_url is the ingress's POST /webhook"
  }

  assert {
    condition     = contains(keys(google_pubsub_subscription.intake), "ingress")
    error_message = "the intake subscription reads the ingress's topic"
  }
}

run "ingress_needs_a_secret" {
  command = plan

  variables {
    webhook_ingress = { enabled = true }
  }

  expect_failures = [var.webhook_ingress]
}
