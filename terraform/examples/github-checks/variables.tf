variable "project_id" {
  description = "Project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run service."
  type        = string
  default     = "europe-west1"
}

variable "image" {
  description = "Worker image in Artifact Registry, pinned by digest."
  type        = string
}

variable "github_app_id" {
  description = "The GitHub App's id (App settings, About)."
  type        = number
}

variable "github_app_private_key_secret" {
  description = "Existing Secret Manager secret (id) holding the App's PEM private key."
  type        = string
  default     = "prreconciler-github-app-key"
}

variable "identity" {
  description = "Check run name the reconciler writes."
  type        = string
  default     = "prreconciler"
}

variable "relay_topics" {
  description = "Relay topics to consume, keyed by short name (used in the intake subscription names)."
  type        = map(string)
}

variable "reconcile_publishers" {
  description = "Further IAM members allowed to publish reconcile requests to the reconcile topic, e.g. serviceAccount:ci@PROJECT.iam.gserviceaccount.com."
  type        = list(string)
  default     = []
}

variable "reconciler_env" {
  description = "The reconciler's own environment variables, by name, e.g. diff hygiene's HYGIENE_MAX_FILE_LINES; plain text, never a secret."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Whether Terraform refuses to destroy the Cloud Run service."
  type        = bool
  default     = true
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channels of the alerts (projects/PROJECT/notificationChannels/ID)."
  type        = list(string)
  default     = []
}

variable "enable_apis" {
  description = "Let the module enable the APIs it needs (needs roles/serviceusage.serviceUsageAdmin)."
  type        = bool
  default     = false
}
