output "service_url" {
  description = "URL of the Cloud Run service (the push endpoint and OIDC audience)."
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

output "push_subscriptions" {
  description = "Push subscription ids (projects/P/subscriptions/S), by relay_topics key."
  value       = { for k, s in google_pubsub_subscription.push : k => s.id }
}

output "dead_letter_topic" {
  description = "Id of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Id of the pull subscription that keeps dead-lettered messages."
  value       = google_pubsub_subscription.dead_letter.id
}
