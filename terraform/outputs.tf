output "service_url" {
  description = "URL of the Cloud Run service (the OIDC audience; the push endpoints are its /intake and /reconcile)."
  value       = google_cloud_run_v2_service.worker.uri
}

output "service_name" {
  description = "Name of the Cloud Run service."
  value       = google_cloud_run_v2_service.worker.name
}

output "worker_service_account_email" {
  description = "Email of the service account the worker runs as."
  value       = google_service_account.worker.email
}

output "push_service_account_email" {
  description = "Email of the service account Pub/Sub push requests are signed with (the only run.invoker)."
  value       = google_service_account.push.email
}

output "intake_subscriptions" {
  description = "Intake push subscription ids (projects/P/subscriptions/S), by relay_topics key."
  value       = { for k, s in google_pubsub_subscription.intake : k => s.id }
}

output "reconcile_topic" {
  description = "Id of the reconcile topic (projects/P/topics/NAME-reconcile). Publish reconcile requests here with ordering key owner/repo@sha (lower-case) and message ordering enabled."
  value       = google_pubsub_topic.reconcile.id
}

output "reconcile_subscription" {
  description = "Id of the ordered push subscription of the reconcile stage."
  value       = google_pubsub_subscription.reconcile.id
}

output "dead_letter_topic" {
  description = "Id of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Id of the pull subscription that keeps dead-lettered messages."
  value       = google_pubsub_subscription.dead_letter.id
}
