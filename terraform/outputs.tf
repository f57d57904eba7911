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

output "worker_service_account_member" {
  description = "IAM member of the worker's service account (serviceAccount:EMAIL), to grant it more, e.g. on a relay topic of another project."
  value       = google_service_account.worker.member
}

output "push_service_account_member" {
  description = "IAM member of the push service account (serviceAccount:EMAIL)."
  value       = google_service_account.push.member
}

output "intake_subscription_names" {
  description = "Intake push subscription names (as Cloud Monitoring's subscription_id label shows them), by relay_topics key."
  value       = { for k, s in google_pubsub_subscription.intake : k => s.name }
}

output "reconcile_topic_name" {
  description = "Name of the reconcile topic (NAME-reconcile)."
  value       = google_pubsub_topic.reconcile.name
}

output "reconcile_subscription_name" {
  description = "Name of the ordered push subscription of the reconcile stage."
  value       = google_pubsub_subscription.reconcile.name
}

output "dead_letter_topic_name" {
  description = "Name of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.name
}

output "dead_letter_subscription_name" {
  description = "Name of the pull subscription that keeps dead-lettered messages (what worker redrive reads)."
  value       = google_pubsub_subscription.dead_letter.name
}

output "subscription_filter" {
  description = "The filter of the intake subscriptions, as Pub/Sub applies it (\"\" when filter_events is empty)."
  value       = local.subscription_filter
}

output "log_metrics" {
  description = "Cloud Monitoring metric types of the log-based metrics (logging.googleapis.com/user/NAME/...), by short name."
  value       = { for k, m in google_logging_metric.log : k => "${local.user_metric}${m.name}" }
}

output "alert_policies" {
  description = "Alert policy names (projects/P/alertPolicies/ID), by alert: dead_letters, unacked_age, backlog, push_errors, failures, github_budget."
  value = {
    dead_letters  = google_monitoring_alert_policy.dead_letters.name
    unacked_age   = google_monitoring_alert_policy.unacked_age.name
    backlog       = google_monitoring_alert_policy.backlog.name
    push_errors   = google_monitoring_alert_policy.push_errors.name
    failures      = google_monitoring_alert_policy.failures.name
    github_budget = google_monitoring_alert_policy.github_budget.name
  }
}

output "dashboard_url" {
  description = "Cloud Console URL of the worker's dashboard."
  value       = "https://console.cloud.google.com/monitoring/dashboards/builder/${basename(google_monitoring_dashboard.worker.id)}?project=${var.project_id}"
}

output "webhook_url" {
  description = "With webhook_ingress.enabled: the URL to paste into the GitHub App's webhook settings (the ingress service's URI + /webhook); null otherwise."
  value       = local.ingress_enabled ? "${google_cloud_run_v2_service.ingress[0].uri}/webhook" : null
}

output "webhook_topic" {
  description = "With webhook_ingress.enabled: the relay topic the ingress publishes to; null otherwise."
  value       = local.ingress_topic
}

output "redeliver_job" {
  description = "With redeliver.enabled: the Cloud Run job running `worker redeliver` (gcloud run jobs execute NAME --region REGION runs it by hand); null otherwise."
  value       = local.redeliver_enabled ? google_cloud_run_v2_job.redeliver[0].name : null
}
