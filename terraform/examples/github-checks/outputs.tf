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

output "push_subscriptions" {
  description = "Push subscription ids."
  value       = module.prreconciler.push_subscriptions
}

output "dead_letter_topic" {
  description = "Dead-letter topic id."
  value       = module.prreconciler.dead_letter_topic
}

output "dead_letter_subscription" {
  description = "Pull subscription keeping the dead-lettered messages."
  value       = module.prreconciler.dead_letter_subscription
}
