terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }

  # Keep the state out of the working copy, e.g.:
  # backend "gcs" {
  #   bucket = "my-terraform-state"
  #   prefix = "prreconciler"
  # }
}
