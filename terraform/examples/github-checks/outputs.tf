output "service_url" {
  description = "URL of the worker's Cloud Run service."
  value       = module.prreconciler.service_url
}

output "service_name" {
  description = "Name of the worker's Cloud Run service."
  value       = module.prreconciler.service_name
}

output "worker_service_account_email" {
  description = "Service account the worker runs as."
  value       = module.prreconciler.worker_service_account_email
}

output "push_service_account_email" {
  description = "Service account of the push subscriptions."
  value       = module.prreconciler.push_service_account_email
}

output "intake_subscriptions" {
  description = "Intake push subscription ids, by relay topic key."
  value       = module.prreconciler.intake_subscriptions
}

output "reconcile_topic" {
  description = "Reconcile topic id: publish reconcile requests here with ordering key owner/repo@sha."
  value       = module.prreconciler.reconcile_topic
}

output "reconcile_subscription" {
  description = "Ordered push subscription of the reconcile stage."
  value       = module.prreconciler.reconcile_subscription
}

output "dead_letter_topic" {
  description = "Dead-letter topic id."
  value       = module.prreconciler.dead_letter_topic
}

output "dead_letter_subscription" {
  description = "Pull subscription keeping the dead-lettered messages."
  value       = module.prreconciler.dead_letter_subscription
}

output "worker_service_account_member" {
  description = "IAM member of the worker's service account."
  value       = module.prreconciler.worker_service_account_member
}

output "push_service_account_member" {
  description = "IAM member of the push service account."
  value       = module.prreconciler.push_service_account_member
}

output "intake_subscription_names" {
  description = "Intake push subscription names, by relay topic key."
  value       = module.prreconciler.intake_subscription_names
}

output "reconcile_topic_name" {
  description = "Reconcile topic name."
  value       = module.prreconciler.reconcile_topic_name
}

output "reconcile_subscription_name" {
  description = "Reconcile subscription name."
  value       = module.prreconciler.reconcile_subscription_name
}

output "dead_letter_topic_name" {
  description = "Dead-letter topic name."
  value       = module.prreconciler.dead_letter_topic_name
}

output "dead_letter_subscription_name" {
  description = "Dead-letter subscription name (what worker redrive reads)."
  value       = module.prreconciler.dead_letter_subscription_name
}

output "subscription_filter" {
  description = "Filter of the intake subscriptions."
  value       = module.prreconciler.subscription_filter
}

output "log_metrics" {
  description = "Metric types of the log-based metrics."
  value       = module.prreconciler.log_metrics
}

output "alert_policies" {
  description = "Alert policy names, by alert."
  value       = module.prreconciler.alert_policies
}

output "dashboard_url" {
  description = "Cloud Console URL of the worker's dashboard."
  value       = module.prreconciler.dashboard_url
}

output "webhook_url" {
  description = "With webhook_ingress enabled: the URL to paste into the GitHub App's webhook settings."
  value       = module.prreconciler.webhook_url
}

output "webhook_topic" {
  description = "With webhook_ingress enabled: the relay topic the ingress publishes to."
  value       = module.prreconciler.webhook_topic
}

output "redeliver_job" {
  description = "With redeliver enabled: the Cloud Run job running worker redeliver."
  value       = module.prreconciler.redeliver_job
}
