variable "project_id" {
  description = "Project the worker, its service accounts, subscriptions and dead-letter topic live in."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 characters: lower-case letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region of the Cloud Run service, e.g. europe-west1."
  type        = string
}

variable "name" {
  description = "Base name: the Cloud Run service's name, and the prefix of the service accounts (<name>-worker, <name>-push), the topics (<name>-reconcile, <name>-dead-letter) and the subscriptions."
  type        = string
  default     = "prreconciler"

  validation {
    # <name>-worker must fit a service account id (6-30 characters).
    condition     = can(regex("^[a-z]([-a-z0-9]{0,21}[a-z0-9])?$", var.name))
    error_message = "name must be 1-23 characters of lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "image" {
  description = "Container image of the worker (built from the repository's Dockerfile), preferably pinned by digest: REGION-docker.pkg.dev/PROJECT/REPO/prreconciler@sha256:..."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "github_app_id" {
  description = "The GitHub App's numeric id (GITHUB_APP_ID)."
  type        = number

  validation {
    condition     = var.github_app_id >= 1 && floor(var.github_app_id) == var.github_app_id
    error_message = "github_app_id must be a positive integer."
  }
}

variable "github_app_private_key_secret" {
  description = "Existing Secret Manager secret holding the App's PEM private key: its secret id (same project) or projects/PROJECT/secrets/SECRET. Exposed to the worker as GITHUB_APP_PRIVATE_KEY; only the worker's service account may read it."
  type        = string

  validation {
    condition     = can(regex("^(projects/[^/]+/secrets/)?[A-Za-z0-9_-]{1,255}$", var.github_app_private_key_secret))
    error_message = "github_app_private_key_secret must be a secret id or projects/PROJECT/secrets/SECRET."
  }
}

variable "github_app_private_key_secret_version" {
  description = "Version of the key's secret the worker reads: \"latest\" (new revisions pick up a rotated key) or a version number."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.github_app_private_key_secret_version))
    error_message = "github_app_private_key_secret_version must be \"latest\" or a positive version number."
  }
}

variable "identity" {
  description = "The reconciler's identity: the name of the check run it writes (IDENTITY)."
  type        = string

  validation {
    condition     = length(var.identity) >= 1 && length(var.identity) <= 100 && !can(regex("[<>\\r\\n]", var.identity))
    error_message = "identity must be 1-100 characters without '<', '>' or line breaks."
  }
}

variable "github_api_url" {
  description = "GitHub REST API root (GITHUB_API_URL): https://api.github.com/ or, for GitHub Enterprise Server, https://HOST/api/v3/."
  type        = string
  default     = "https://api.github.com/"

  validation {
    condition     = can(regex("^https?://[^/]+", var.github_api_url))
    error_message = "github_api_url must be an http(s) URL."
  }
}

variable "relay_topics" {
  description = "Topics the intake stage consumes, keyed by a short name: { key = topic }. The topic is a topic id (projects/PROJECT/topics/TOPIC, any project) or a bare topic name in project_id. Each gets one intake push subscription (POST /intake) named <name>-<key>. The topics carry webhook relay CloudEvents and/or reconcile requests."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.relay_topics) >= 1 || var.webhook_ingress.enabled
    error_message = "relay_topics must name at least one topic, unless webhook_ingress.enabled feeds the worker."
  }

  validation {
    condition     = alltrue([for k in keys(var.relay_topics) : can(regex("^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$", k))])
    error_message = "relay_topics keys become subscription names: 1-42 lower-case letters, digits and hyphens."
  }

  validation {
    # <name>-reconcile and <name>-dead-letter are the module's own subscriptions.
    condition     = !contains(keys(var.relay_topics), "reconcile") && !contains(keys(var.relay_topics), "dead-letter") && !contains(keys(var.relay_topics), "ingress")
    error_message = "relay_topics keys \"reconcile\", \"dead-letter\" and \"ingress\" are taken by the module's own subscriptions (\"ingress\" is webhook_ingress's topic)."
  }

  validation {
    condition     = alltrue([for t in values(var.relay_topics) : can(regex("^(projects/[^/]+/topics/)?[A-Za-z][-A-Za-z0-9._~+%]{2,254}$", t))])
    error_message = "relay_topics values must be topic names or projects/PROJECT/topics/TOPIC."
  }
}

variable "relay_type_prefix" {
  description = "CloudEvents type prefix of the webhook relay (RELAY_TYPE_PREFIX): the relay sets attribute ce-type = <prefix>.<github event>."
  type        = string
  default     = "dev.chainguard.github"

  validation {
    condition     = length(var.relay_type_prefix) > 0 && !can(regex("[\"\\\\]", var.relay_type_prefix))
    error_message = "relay_type_prefix must be non-empty and contain no quote or backslash (it is quoted in the subscription filter)."
  }
}

variable "filter_events" {
  description = "GitHub events the intake subscriptions deliver, by the relay's ce-type attribute; messages without ce-type (plain reconcile requests) always pass. Others are acknowledged by Pub/Sub without delivery, and so is check_suite \"requested\" while the filter has room (the worker ignores it). At most 256 bytes (output subscription_filter). Empty: no filter. Changing it recreates the intake subscriptions (a filter is immutable), dropping their backlog."
  type        = list(string)
  default     = ["pull_request", "check_run", "check_suite"]

  validation {
    condition     = alltrue([for e in var.filter_events : can(regex("^[a-z_]+$", e))])
    error_message = "filter_events must be GitHub event names such as pull_request."
  }
}

locals {
  # The intake subscriptions' filter (pubsub.tf; their precondition refuses more than 256
  # bytes). Here, so that Terraform can evaluate it from variables.tf alone, without a
  # provider (module tests do). Deliver plain reconcile requests (no ce-type attribute) and the
  # relay events the worker acts on; Pub/Sub acknowledges the rest without delivering it. No
  # spaces around "=": the limit is 256 bytes, and each byte saved leaves room for events.
  filter_plain = join(" OR ", concat(["NOT attributes:ce-type"], [for e in var.filter_events : "attributes.ce-type=\"${var.relay_type_prefix}.${e}\""]))
  # check_suite "requested" duplicates pull_request opened/synchronize for every push and the
  # worker only ignores it: dropped too, when that still fits ("rerequested" is a rerun and
  # passes). It saves deliveries only, so a list of events that leaves no room keeps it.
  filter_lean = join(" OR ", concat(["NOT attributes:ce-type"], [for e in var.filter_events : e == "check_suite"
    ? "(attributes.ce-type=\"${var.relay_type_prefix}.${e}\" AND NOT attributes.ce-action=\"requested\")"
  : "attributes.ce-type=\"${var.relay_type_prefix}.${e}\""]))
  subscription_filter = length(var.filter_events) == 0 ? "" : local.filter_lean_bytes <= 256 ? local.filter_lean : local.filter_plain

  # Pub/Sub's limit is in bytes and length() counts characters: count the base64 digits
  # instead (4 for every 3 bytes, padding dropped).
  filter_lean_bytes         = floor(length(replace(base64encode(local.filter_lean), "=", "")) * 3 / 4)
  subscription_filter_bytes = floor(length(replace(base64encode(local.subscription_filter), "=", "")) * 3 / 4)
}

variable "max_delivery_attempts" {
  description = "Dead-letter policy of every push subscription: deliveries of a message before it goes to the dead-letter topic (5-100). Also the worker's MAX_DELIVERY_ATTEMPTS: at the last attempt a transient failure completes the check run as failed. With the retry backoffs it sets the retry window, which must cover an hour (see the module README)."
  type        = number
  default     = 15

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be an integer from 5 to 100 (Pub/Sub's limits)."
  }

  validation {
    # The retry window: between delivery k and k+1 (k = 1 .. N-1) Pub/Sub waits
    # min(maximum_backoff, minimum_backoff * 2^(k-1)); their sum must cover GitHub's hourly
    # rate-limit reset. The module README explains it; the worker checks the same at start-up.
    condition     = try(sum([for k in range(1, var.max_delivery_attempts) : min(tonumber(trimsuffix(var.retry_maximum_backoff, "s")), tonumber(trimsuffix(var.retry_minimum_backoff, "s")) * pow(2, k - 1))]) >= 3600, false)
    error_message = "The retry window of max_delivery_attempts = ${var.max_delivery_attempts} with backoffs ${var.retry_minimum_backoff}..${var.retry_maximum_backoff} is ${try(sum([for k in range(1, var.max_delivery_attempts) : min(tonumber(trimsuffix(var.retry_maximum_backoff, "s")), tonumber(trimsuffix(var.retry_minimum_backoff, "s")) * pow(2, k - 1))]), "?")} s, shorter than GitHub's hour-long rate-limit reset (3600 s): raise max_delivery_attempts (the module README has a table)."
  }
}

variable "retry_minimum_backoff" {
  description = "Retry policy of every push subscription: the delay before the second delivery of a nacked message, doubling for each later one up to retry_maximum_backoff; seconds with an s suffix (0s-600s). Also the worker's RETRY_MINIMUM_BACKOFF."
  type        = string
  default     = "10s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.retry_minimum_backoff)) && try(tonumber(trimsuffix(var.retry_minimum_backoff, "s")) <= 600, false)
    error_message = "retry_minimum_backoff must be a duration such as \"10s\", at most 600s."
  }
}

variable "retry_maximum_backoff" {
  description = "Retry policy of every push subscription: the longest delay between two deliveries of a nacked message; seconds with an s suffix, at least retry_minimum_backoff and at most 600s (Pub/Sub's cap). Also the worker's RETRY_MAXIMUM_BACKOFF."
  type        = string
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.retry_maximum_backoff)) && try(tonumber(trimsuffix(var.retry_maximum_backoff, "s")) <= 600, false)
    error_message = "retry_maximum_backoff must be a duration such as \"600s\", at most 600s."
  }

  validation {
    condition     = try(tonumber(trimsuffix(var.retry_maximum_backoff, "s")) >= tonumber(trimsuffix(var.retry_minimum_backoff, "s")), true)
    error_message = "retry_maximum_backoff (${var.retry_maximum_backoff}) must not be below retry_minimum_backoff (${var.retry_minimum_backoff})."
  }
}

variable "dead_letter_retention" {
  description = "How long the dead-letter topic and its pull subscription keep messages, in seconds with an s suffix (at most 31 days, 2678400s)."
  type        = string
  default     = "2678400s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.dead_letter_retention)) && try(tonumber(trimsuffix(var.dead_letter_retention, "s")) >= 600 && tonumber(trimsuffix(var.dead_letter_retention, "s")) <= 2678400, false)
    error_message = "dead_letter_retention must be between 600s and 2678400s (31 days)."
  }
}

variable "concurrency" {
  description = "Requests (messages) one instance handles at once: Cloud Run's max_instance_request_concurrency and the worker's MAX_IN_FLIGHT."
  type        = number
  default     = 10

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 1000 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be an integer from 1 to 1000."
  }

  validation {
    # Cloud Run serves one request at a time on an instance with less than one CPU.
    condition     = var.concurrency == 1 || try(local.cpu_count >= 1, true)
    error_message = "concurrency = ${var.concurrency} needs cpu of at least 1 (cpu is ${var.cpu}): Cloud Run handles one request at a time with less than 1 CPU. Set concurrency = 1 or cpu = \"1\" or more."
  }
}

variable "min_instances" {
  description = "Minimum number of instances (0 scales to zero between deliveries)."
  type        = number
  default     = 0

  validation {
    condition     = var.min_instances >= 0 && floor(var.min_instances) == var.min_instances
    error_message = "min_instances must be a non-negative integer."
  }
}

variable "max_instances" {
  description = "Maximum number of instances; with concurrency it bounds the GitHub calls made at once."
  type        = number
  default     = 5

  validation {
    condition     = var.max_instances >= 1 && floor(var.max_instances) == var.max_instances
    error_message = "max_instances must be a positive integer."
  }
}

variable "reconcile_timeout_seconds" {
  description = "Deadline of the reconciler in seconds (RECONCILE_TIMEOUT). At most 360: with the worker's status reads and writes (up to a minute each) a message must end within the 600 s request timeout and ack deadline."
  type        = number
  default     = 300

  validation {
    condition     = var.reconcile_timeout_seconds >= 1 && var.reconcile_timeout_seconds <= 360 && floor(var.reconcile_timeout_seconds) == var.reconcile_timeout_seconds
    error_message = "reconcile_timeout_seconds must be an integer from 1 to 360 (the status writes need the rest of the 600 s request timeout)."
  }
}

variable "log_level" {
  description = "Worker log level (LOG_LEVEL): debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "reconciler_env" {
  description = "Environment variables of the reconciler itself, by name: the settings of its own configuration, e.g. diff hygiene's HYGIENE_MAX_FILE_BYTES and HYGIENE_MAX_FILE_LINES (hygiene.Config; a reconciler of your own lists its with config.VariablesOf). Each becomes an env entry of the container, in plain text (in the Terraform state and the service's spec): never a secret. Names the module sets itself, Cloud Run's reserved ones and those that would undo the push deployment are refused."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.reconciler_env) : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k))])
    error_message = "reconciler_env names must be environment variable names: letters, digits and underscores, not starting with a digit."
  }

  validation {
    condition     = alltrue([for k in keys(var.reconciler_env) : !contains(local.reconciler_env_reserved, k)])
    error_message = "reconciler_env must not set ${join(", ", [for k in keys(var.reconciler_env) : k if contains(local.reconciler_env_reserved, k)])}: the module sets it from its own inputs, Cloud Run reserves it, or it would undo the push deployment (see the module README)."
  }
}

locals {
  # The names reconciler_env may not set (here, beside the variable whose validation uses them:
  # variables.tf alone is what module tests give Terraform).
  reconciler_env_reserved = concat(
    # Every name run.tf sets (module_test.go keeps this list equal to run.tf's env blocks).
    [
      "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_API_URL", "IDENTITY", "GOOGLE_CLOUD_PROJECT",
      "MAX_IN_FLIGHT", "MAX_DELIVERY_ATTEMPTS", "RECONCILE_TOPIC", "ACK_DEADLINE", "RETRY_MINIMUM_BACKOFF",
      "RETRY_MAXIMUM_BACKOFF", "RECONCILE_TIMEOUT", "RELAY_TYPE_PREFIX", "LOG_LEVEL", "LOG_DESTINATION",
    ],
    # Cloud Run's reserved names.
    ["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"],
    # The worker's own that would undo this deployment: push tokens verified again (Cloud Run
    # strips their signature), pull mode instead of the push subscriptions, a key file beside
    # the secret's key (the worker refuses both).
    ["PUSH_AUDIENCE", "PUSH_SERVICE_ACCOUNT", "PUBSUB_SUBSCRIPTION", "INTAKE_SUBSCRIPTION", "GITHUB_APP_PRIVATE_KEY_FILE"],
  )
}

variable "cpu" {
  description = "CPU limit of the container: 1, 2, 4, 6 or 8, or a fraction from 0.08 to 1 (e.g. \"0.5\" or \"500m\"; below 1 CPU concurrency must be 1). Checked with memory and concurrency against Cloud Run's limits."
  type        = string
  default     = "1"

  validation {
    # The for binds the parsed value (a local of it would depend on this validation).
    condition     = try(alltrue([for c in [can(regex("^[0-9]+m$", var.cpu)) ? tonumber(trimsuffix(var.cpu, "m")) / 1000 : tonumber(var.cpu)] : c >= 0.08 && c < 1 || contains([1, 2, 4, 6, 8], c)]), false)
    error_message = "cpu = \"${var.cpu}\" is not a Cloud Run CPU limit: 1, 2, 4, 6 or 8, or a fraction from 0.08 to 1 such as \"0.5\" or \"500m\"."
  }
}

locals {
  # cpu as a number of CPUs for the memory and concurrency validations (here, beside them:
  # variables.tf alone is what module tests give Terraform); null when unreadable, which cpu's
  # own validation refuses.
  cpu_count = try(can(regex("^[0-9]+m$", var.cpu)) ? tonumber(trimsuffix(var.cpu, "m")) / 1000 : tonumber(var.cpu), null)

  # How memory's validations read a size into MiB. Each validation parses var.memory itself,
  # and there is no local of memory in MiB: Terraform finds a cycle when a variable's validation
  # uses a local computed from that variable. The check against cpu stays a validation of
  # memory. On cpu it would have to parse cpu itself, for the same reason. A check block only
  # warns. A precondition on the service would not be in a plan of variables.tf alone, which
  # is how the tests run every validation.
  memory_size  = "^([0-9]+)(Mi|Gi|M|G)$"
  memory_units = { Mi = 1, Gi = 1024, M = 1000000 / 1048576, G = 1000000000 / 1048576 }
}

variable "memory" {
  description = "Memory limit of the container in Mi or Gi (also M, G), e.g. \"512Mi\" or \"2Gi\": from 128Mi to 32Gi, at least 2Gi with 4 CPUs and 4Gi with 6 or 8, at most 512Mi below 0.5 CPU, 1Gi below 1 CPU and 4Gi per CPU from 1 CPU (Cloud Run's limits)."
  type        = string
  default     = "512Mi"

  validation {
    condition     = try(alltrue([for m in [for p in [regex(local.memory_size, var.memory)] : tonumber(p[0]) * local.memory_units[p[1]]] : m >= 128 && m <= 32768]), false)
    error_message = "memory = \"${var.memory}\" is not a size from 128Mi to 32Gi such as \"512Mi\" or \"2Gi\" (units Mi, Gi, M, G)."
  }

  validation {
    # In MiB, against cpu. An unreadable memory or cpu is refused by its own validation.
    condition     = try(alltrue([for m in [for p in [regex(local.memory_size, var.memory)] : tonumber(p[0]) * local.memory_units[p[1]]] : m >= (local.cpu_count >= 6 ? 4096 : local.cpu_count >= 4 ? 2048 : 0) && m <= (local.cpu_count < 0.5 ? 512 : local.cpu_count < 1 ? 1024 : local.cpu_count * 4096)]), true)
    error_message = "memory = \"${var.memory}\" does not fit cpu = \"${var.cpu}\": Cloud Run needs at least 2Gi with 4 CPUs and 4Gi with 6 or 8, and allows at most 512Mi below 0.5 CPU, 1Gi below 1 CPU and 4Gi per CPU from 1 CPU."
  }
}

variable "log_destination" {
  description = "Where the worker writes its logs (LOG_DESTINATION): auto (stdout on Cloud Run), stdout (JSON lines Cloud Run ingests) or api (the Cloud Logging API). Only api grants the worker roles/logging.logWriter on the project; the log-based metrics read either."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "stdout", "api"], var.log_destination)
    error_message = "log_destination must be auto, stdout or api."
  }
}

variable "ingress" {
  description = "Network ingress of the service: INGRESS_TRAFFIC_ALL (default; access is still IAM-only, only the push account may invoke), INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER. See the module README before restricting it."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"

  validation {
    condition     = contains(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"], var.ingress)
    error_message = "ingress must be INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  }
}

variable "deletion_protection" {
  description = "Whether Terraform refuses to destroy the Cloud Run service."
  type        = bool
  default     = true
}

variable "grant_pubsub_token_creator" {
  description = "Grant the Pub/Sub service agent roles/iam.serviceAccountTokenCreator on the push service account only. Needed for projects created before 2021-04-08 to mint the push OIDC tokens."
  type        = bool
  default     = false
}

variable "reconcile_publishers" {
  description = "Further principals allowed to publish reconcile requests to the reconcile topic (roles/pubsub.publisher on it), as IAM members: serviceAccount:EMAIL, group:EMAIL, user:EMAIL. The worker's own account is always granted. Publishers must set the ordering key owner/repo@sha (lower-case) and enable message ordering."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.reconcile_publishers : can(regex("^(serviceAccount|group|user|domain):[^\\s]+$|^principal(Set)?://[^\\s]+$", m))])
    error_message = "reconcile_publishers must be IAM members such as serviceAccount:EMAIL or group:EMAIL (never a public principal)."
  }
}

variable "labels" {
  description = "Labels put on the service, topic and subscriptions."
  type        = map(string)
  default     = {}
}

variable "enable_apis" {
  description = "Enable the APIs the module needs in project_id (google_project_service; destroying the module leaves them enabled). Off by default: enabling APIs takes roles/serviceusage.serviceUsageAdmin, which the applying principal often lacks."
  type        = bool
  default     = false
}

variable "notification_channels" {
  description = "Notification channels of every alert policy (projects/PROJECT/notificationChannels/ID). Empty: the alerts open incidents in Cloud Monitoring without notifying anyone."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "notification_channels must be channel ids: projects/PROJECT/notificationChannels/ID."
  }
}

variable "alert_unacked_age_seconds" {
  description = "Alert when the oldest unacknowledged message of an intake or the reconcile subscription is older than this, in seconds, for 5 minutes. The default is GitHub's hourly rate-limit reset: a message older than that is more than a spent budget."
  type        = number
  default     = 3600

  validation {
    condition     = var.alert_unacked_age_seconds >= 60
    error_message = "alert_unacked_age_seconds must be at least 60."
  }
}

variable "alert_backlog_messages" {
  description = "Alert when an intake or the reconcile subscription has more undelivered messages than this for 10 minutes."
  type        = number
  default     = 1000

  validation {
    condition     = var.alert_backlog_messages >= 1
    error_message = "alert_backlog_messages must be at least 1."
  }
}

variable "alert_push_error_ratio" {
  description = "Alert when more than this share (0-1) of a push subscription's requests is not acknowledged (the worker answered non-2xx, or did not answer) for 10 minutes."
  type        = number
  default     = 0.2

  validation {
    condition     = var.alert_push_error_ratio > 0 && var.alert_push_error_ratio < 1
    error_message = "alert_push_error_ratio must be between 0 and 1, e.g. 0.2."
  }
}

variable "alert_github_remaining_points" {
  description = "Alert when an installation's remaining GitHub rate-limit points, as the worker last saw them, fall below this."
  type        = number
  default     = 500

  validation {
    condition     = var.alert_github_remaining_points >= 1
    error_message = "alert_github_remaining_points must be at least 1."
  }
}

variable "webhook_ingress" {
  description = "The webhook ingress: a public Cloud Run service <name>-webhook, same image with MODE=ingress, that verifies GitHub's signature and publishes each delivery to a relay topic consumed by the intake stage (key \"ingress\"). Off by default. enabled; topic (an existing topic name or projects/PROJECT/topics/TOPIC; null creates <name>-webhooks); secret (Secret Manager secret id or projects/PROJECT/secrets/SECRET holding the App's webhook secret, read by reference) and secret_version; previous_secret and previous_secret_version (optional, accepted during a rotation); publish_timeout (WEBHOOK_PUBLISH_TIMEOUT, e.g. \"5s\", under GitHub's 10 s; null keeps the binary's default); min_instances, max_instances, concurrency of the service."
  type = object({
    enabled                 = optional(bool, false)
    topic                   = optional(string)
    secret                  = optional(string)
    secret_version          = optional(string, "latest")
    previous_secret         = optional(string)
    previous_secret_version = optional(string, "latest")
    publish_timeout         = optional(string)
    min_instances           = optional(number, 0)
    max_instances           = optional(number, 3)
    concurrency             = optional(number, 80)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.webhook_ingress.enabled || var.webhook_ingress.secret != null
    error_message = "webhook_ingress.secret must name the Secret Manager secret holding the webhook secret when webhook_ingress.enabled is true."
  }

  validation {
    condition     = alltrue([for s in [var.webhook_ingress.secret, var.webhook_ingress.previous_secret] : s == null || can(regex("^(projects/[^/]+/secrets/)?[A-Za-z0-9_-]{1,255}$", s))])
    error_message = "webhook_ingress.secret and webhook_ingress.previous_secret must be a secret id or projects/PROJECT/secrets/SECRET."
  }

  validation {
    condition     = var.webhook_ingress.previous_secret == null || var.webhook_ingress.previous_secret != var.webhook_ingress.secret || var.webhook_ingress.previous_secret_version != var.webhook_ingress.secret_version
    error_message = "webhook_ingress.previous_secret must differ from webhook_ingress.secret (another secret, or another version of it)."
  }

  validation {
    condition     = alltrue([for v in [var.webhook_ingress.secret_version, var.webhook_ingress.previous_secret_version] : can(regex("^(latest|[1-9][0-9]*)$", v))])
    error_message = "webhook_ingress.secret_version and webhook_ingress.previous_secret_version must be \"latest\" or a positive version number."
  }

  validation {
    condition     = var.webhook_ingress.topic == null || can(regex("^(projects/[^/]+/topics/)?[A-Za-z][-A-Za-z0-9._~+%]{2,254}$", coalesce(var.webhook_ingress.topic, "x")))
    error_message = "webhook_ingress.topic must be a topic name or projects/PROJECT/topics/TOPIC (null creates <name>-webhooks)."
  }

  validation {
    # GitHub waits 10 s for the answer, which comes after the publish.
    condition     = var.webhook_ingress.publish_timeout == null || try(can(regex("^[0-9]+(\\.[0-9]+)?s$", var.webhook_ingress.publish_timeout)) && tonumber(trimsuffix(var.webhook_ingress.publish_timeout, "s")) > 0 && tonumber(trimsuffix(var.webhook_ingress.publish_timeout, "s")) < 10, false)
    error_message = "webhook_ingress.publish_timeout must be a duration in seconds such as \"5s\", above 0 and below GitHub's 10s delivery timeout."
  }

  validation {
    condition     = var.webhook_ingress.min_instances >= 0 && floor(var.webhook_ingress.min_instances) == var.webhook_ingress.min_instances && var.webhook_ingress.max_instances >= 1 && var.webhook_ingress.max_instances <= 100 && floor(var.webhook_ingress.max_instances) == var.webhook_ingress.max_instances && var.webhook_ingress.min_instances <= var.webhook_ingress.max_instances
    error_message = "webhook_ingress.min_instances and webhook_ingress.max_instances must be integers with 0 <= min_instances <= max_instances and 1 <= max_instances <= 100."
  }

  validation {
    condition     = var.webhook_ingress.concurrency >= 1 && var.webhook_ingress.concurrency <= 1000 && floor(var.webhook_ingress.concurrency) == var.webhook_ingress.concurrency
    error_message = "webhook_ingress.concurrency must be an integer from 1 to 1000."
  }
}

variable "redeliver" {
  description = "The redeliver job, off by default: a Cloud Run job <name>-redeliver running `worker redeliver -since <since>` (the same image, as the worker's account: App id, key and API URL only), started by a Cloud Scheduler job on schedule. It asks GitHub to redeliver each webhook delivery of the window that never got a 2xx (a delivery the ingress answered 5xx or missed). enabled; schedule (cron, 5 fields; default every 6 hours); time_zone (IANA, default Etc/UTC); since (the window, a duration in h or m from 10m to 72h, GitHub's delivery history; default 24h, which covers the schedule)."
  type = object({
    enabled   = optional(bool, false)
    schedule  = optional(string, "0 */6 * * *")
    time_zone = optional(string, "Etc/UTC")
    since     = optional(string, "24h")
  })
  default  = {}
  nullable = false

  validation {
    condition     = can(regex("^[^\\s]+( [^\\s]+){4}$", var.redeliver.schedule))
    error_message = "redeliver.schedule must be a cron schedule of 5 fields such as \"0 */6 * * *\"."
  }

  validation {
    condition     = can(regex("^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$", var.redeliver.time_zone))
    error_message = "redeliver.time_zone must be an IANA time zone such as \"Etc/UTC\" or \"Europe/Berlin\"."
  }

  validation {
    # In minutes: GitHub lists the deliveries of the past 3 days.
    condition     = try(alltrue([for m in [tonumber(regex("^([1-9][0-9]*)(h|m)$", var.redeliver.since)[0]) * (regex("^([1-9][0-9]*)(h|m)$", var.redeliver.since)[1] == "h" ? 60 : 1)] : m >= 10 && m <= 4320]), false)
    error_message = "redeliver.since must be a duration in hours or minutes such as \"24h\", from 10m to 72h (GitHub keeps 3 days of deliveries)."
  }
}
