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
