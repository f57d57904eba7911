# The worker's identity: reads the App key, publishes to the reconcile topic (and, with
# log_destination = "api", writes logs). Nothing else.
resource "google_service_account" "worker" {
  project      = var.project_id
  account_id   = "${var.name}-worker"
  display_name = "${var.name} worker (Cloud Run)"
  description  = "Runs the ${var.name} Cloud Run service: reads the GitHub App key, publishes reconcile requests."

  depends_on = [google_project_service.apis]
}

# The identity Pub/Sub signs push requests with; the only principal allowed to invoke the service.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.name}-push"
  display_name = "${var.name} Pub/Sub push"
  description  = "OIDC identity of the Pub/Sub push subscriptions delivering to ${var.name}."

  depends_on = [google_project_service.apis]
}

# The full path and no project argument: the secret may live in another project.
resource "google_secret_manager_secret_iam_member" "worker_reads_app_key" {
  secret_id = local.app_key_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.worker.member

  depends_on = [google_project_service.apis]
}

# Only when the worker writes through the Cloud Logging API: on Cloud Run it writes JSON lines
# to stdout (auto, stdout), which Cloud Run ingests without any role.
resource "google_project_iam_member" "worker_writes_logs" {
  count = var.log_destination == "api" ? 1 : 0

  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.worker.member
}

resource "google_cloud_run_v2_service_iam_member" "push_invokes_worker" {
  project  = var.project_id
  location = google_cloud_run_v2_service.worker.location
  name     = google_cloud_run_v2_service.worker.name
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

# Only for projects whose Pub/Sub service agent predates 2021-04-08: it then needs to mint
# tokens for the push account, and for that account only.
resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  count = var.grant_pubsub_token_creator ? 1 : 0

  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.id
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_subscribes_intake" {
  for_each = google_pubsub_subscription.intake

  project      = var.project_id
  subscription = each.value.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

moved {
  from = google_pubsub_subscription_iam_member.pubsub_agent_subscribes_source
  to   = google_pubsub_subscription_iam_member.pubsub_agent_subscribes_intake
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_subscribes_reconcile" {
  project      = var.project_id
  subscription = google_pubsub_subscription.reconcile.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# The intake stage publishes each request it decodes to the reconcile topic.
resource "google_pubsub_topic_iam_member" "worker_publishes_reconcile" {
  project = var.project_id
  topic   = google_pubsub_topic.reconcile.id
  role    = "roles/pubsub.publisher"
  member  = google_service_account.worker.member
}

# Other publishers of reconcile requests (a CI job, another service), by choice.
resource "google_pubsub_topic_iam_member" "reconcile_publishers" {
  for_each = toset(var.reconcile_publishers)

  project = var.project_id
  topic   = google_pubsub_topic.reconcile.id
  role    = "roles/pubsub.publisher"
  member  = each.value
}
