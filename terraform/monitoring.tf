# Operating the worker: log-based metrics from its own records, alert policies on Pub/Sub and
# those metrics, and one dashboard. The module README's runbook says what each alert means and
# what to do.

locals {
  # The names the worker's records carry (worker.LogField*, statusmanager.LogLabelOutcome,
  # worker.StageReconcile): the metrics' filters and extractors are built from these alone, and
  # monitoring_test.go keeps them equal to the Go constants.
  log_field = {
    stage            = "stage"
    duration         = "duration_seconds"
    github_requests  = "github_requests"
    github_points    = "github_points"
    github_remaining = "github_remaining"
    installation_id  = "installation_id"
  }
  log_label_outcome = "outcome"
  stage_reconcile   = "reconcile"

  # The worker's records, wherever they are written from (stdout or the Logging API, both on
  # the Cloud Run revision's resource).
  worker_logs = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloud_run_v2_service.worker.name}\""
  # One record per outcome: per request of the reconcile stage, per message forwarded,
  # invalid or ignored; only these carry the stage field.
  outcome_records = "${local.worker_logs} AND jsonPayload.${local.log_field.stage}:*"
  # One record per request of the reconcile stage.
  reconcile_records = "${local.worker_logs} AND jsonPayload.${local.log_field.stage}=\"${local.stage_reconcile}\""

  # Every subscription the worker is pushed from: each intake subscription and the reconcile one.
  push_subscription_names = concat(sort([for s in google_pubsub_subscription.intake : s.name]), [google_pubsub_subscription.reconcile.name])
  push_subscriptions      = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=one_of(${join(", ", [for n in local.push_subscription_names : "\"${n}\""])})"

  # Cloud Monitoring's type of a log-based metric.
  user_metric = "logging.googleapis.com/user/"

  runbook = "https://github.com/prreconciler/prreconciler/blob/main/terraform/README.md#runbook"
}

# The log-based metrics, by short name. A metric with a field is a distribution of that field
# over the reconcile stage's records, in the buckets given. One without counts the records of
# its filter. Each label has its extractor.
locals {
  # What a metric has unless it says otherwise: a distribution of the reconcile stage's
  # records by outcome.
  log_metric = {
    filter              = null
    field               = null
    unit                = "1"
    labels              = { outcome = { description = "What became of the request.", extractor = "EXTRACT(labels.${local.log_label_outcome})" } }
    exponential_buckets = null
    explicit_buckets    = null
  }
  log_metrics = {
    # Outcomes by kind and stage: reconciled, skipped, failed, retry, gave_up (reconcile);
    # forwarded, retry (intake); invalid, ignored (either).
    outcomes = merge(local.log_metric, {
      description  = "Outcomes of the ${var.name} worker: one per request reconciled and per message forwarded, invalid or ignored."
      display_name = "${var.name} outcomes"
      filter       = local.outcome_records
      labels = {
        outcome = { description = "What became of the request or message.", extractor = "EXTRACT(labels.${local.log_label_outcome})" }
        stage   = { description = "intake or reconcile.", extractor = "EXTRACT(jsonPayload.${local.log_field.stage})" }
      }
    })
    # How long a request of the reconcile stage took, GitHub waits included: 50 ms to about
    # 27 minutes, beyond the 600 s ack deadline.
    reconcile_duration = merge(local.log_metric, {
      description         = "Seconds each request of the ${var.name} reconcile stage took, by outcome."
      display_name        = "${var.name} reconcile duration"
      field               = local.log_field.duration
      unit                = "s"
      exponential_buckets = { num_finite_buckets = 15, growth_factor = 2, scale = 0.05 }
    })
    # GitHub requests each request of the reconcile stage sent, retries included.
    github_requests = merge(local.log_metric, {
      description         = "GitHub requests per request of the ${var.name} reconcile stage, retries included, by outcome."
      display_name        = "${var.name} GitHub requests per request"
      field               = local.log_field.github_requests
      exponential_buckets = { num_finite_buckets = 12, growth_factor = 2, scale = 1 }
    })
    # Rate-limit points each request of the reconcile stage cost.
    github_points = merge(local.log_metric, {
      description         = "GitHub rate-limit points per request of the ${var.name} reconcile stage, by outcome."
      display_name        = "${var.name} GitHub points per request"
      field               = local.log_field.github_points
      exponential_buckets = { num_finite_buckets = 12, growth_factor = 2, scale = 1 }
    })
    # The installation's remaining rate-limit points after each request of the reconcile stage
    # (records that know them). A distribution, since a log-based metric has no gauge: its low
    # percentile over a few minutes is the budget left. The buckets are fine where the alert
    # looks (a few hundred points) and coarse above; an installation has 5000 to 12500 points
    # an hour (15000 on Enterprise Cloud).
    github_remaining = merge(local.log_metric, {
      description  = "Remaining GitHub rate-limit points of an installation after each request of the ${var.name} reconcile stage."
      display_name = "${var.name} GitHub points remaining"
      field        = local.log_field.github_remaining
      labels = {
        installation_id = { description = "The GitHub App installation the budget belongs to.", extractor = "EXTRACT(jsonPayload.${local.log_field.installation_id})" }
      }
      explicit_buckets = [0, 50, 100, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 7500, 10000, 12500, 15000]
    })
  }
}

resource "google_logging_metric" "log" {
  for_each = local.log_metrics

  project         = var.project_id
  name            = "${var.name}/${each.key}"
  description     = each.value.description
  filter          = each.value.field == null ? each.value.filter : "${local.reconcile_records} AND jsonPayload.${each.value.field}:*"
  value_extractor = each.value.field == null ? null : "EXTRACT(jsonPayload.${each.value.field})"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = each.value.field == null ? "INT64" : "DISTRIBUTION"
    unit         = each.value.unit
    display_name = each.value.display_name

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.key
        description = labels.value.description
      }
    }
  }

  label_extractors = { for k, l in each.value.labels : k => l.extractor }

  dynamic "bucket_options" {
    for_each = each.value.field == null ? [] : [each.value]
    content {
      dynamic "exponential_buckets" {
        for_each = bucket_options.value.exponential_buckets == null ? [] : [bucket_options.value.exponential_buckets]
        content {
          num_finite_buckets = exponential_buckets.value.num_finite_buckets
          growth_factor      = exponential_buckets.value.growth_factor
          scale              = exponential_buckets.value.scale
        }
      }
      dynamic "explicit_buckets" {
        for_each = bucket_options.value.explicit_buckets == null ? [] : [bucket_options.value.explicit_buckets]
        content {
          bounds = explicit_buckets.value
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

moved {
  from = google_logging_metric.outcomes
  to   = google_logging_metric.log["outcomes"]
}

moved {
  from = google_logging_metric.reconcile_duration
  to   = google_logging_metric.log["reconcile_duration"]
}

moved {
  from = google_logging_metric.github_requests
  to   = google_logging_metric.log["github_requests"]
}

moved {
  from = google_logging_metric.github_points
  to   = google_logging_metric.log["github_points"]
}

moved {
  from = google_logging_metric.github_remaining
  to   = google_logging_metric.log["github_remaining"]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${var.name}: messages in the dead-letter topic"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "undelivered messages on ${google_pubsub_subscription.dead_letter.name} > 0"

    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: messages in the dead-letter topic"
    content   = <<-EOT
      Messages reached the dead-letter topic `${google_pubsub_topic.dead_letter.name}` after ${var.max_delivery_attempts} deliveries without an acknowledgement: invalid messages, deliveries never answered (a crash or a timeout each time), or a failure the worker could not even record on the check run. (A transient failure that outlasts the retry window is not here: the worker completes its check run as failed, `gave_up`, and acknowledges it.)

      1. Find why: the worker's records with `labels.outcome="invalid"` or `"retry"` (severity WARNING and up) in the logs panel of the `${var.name}` dashboard, and the revision's crashes.
      2. Look without removing: `worker redrive -dry-run ${google_pubsub_subscription.dead_letter.name}` (the worker image's own command) or `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter.name} --limit 10` (without `--auto-ack`).
      3. Once the cause is fixed: `worker redrive ${google_pubsub_subscription.dead_letter.name}` moves them back to the topics they came from. Invalid messages stay (they would only be refused again) until retention drops them.

      Runbook: ${local.runbook}
    EOT
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "unacked_age" {
  project               = var.project_id
  display_name          = "${var.name}: oldest unacknowledged message too old"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "oldest unacked message age > ${var.alert_unacked_age_seconds} s"

    condition_threshold {
      filter          = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_unacked_age_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: a message waits longer than ${var.alert_unacked_age_seconds} s on $${resource.label.subscription_id}"
    content   = <<-EOT
      A message on subscription `$${resource.label.subscription_id}` has waited more than ${var.alert_unacked_age_seconds} s without being acknowledged: the worker keeps nacking it (it is retried until ${var.max_delivery_attempts} deliveries, then dead-lettered), or does not answer at all. On the ordered reconcile subscription it also holds back the later messages of its commit.

      1. The dashboard's outcomes: `retry` means a transient failure (GitHub 5xx, rate limit, timeout); its records' `error` field says which.
      2. The push responses panel: `remote_server_5xx` = the worker nacked, `deadline_exceeded`/`unreachable` = it did not answer within 600 s or did not start (Cloud Run errors in the logs panel).
      3. An exhausted rate limit clears within the hour (see the GitHub budget alert); a GitHub outage needs nothing but patience within the retry window; a crash-looping revision needs a rollback.

      Runbook: ${local.runbook}
    EOT
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "backlog" {
  project               = var.project_id
  display_name          = "${var.name}: subscription backlog"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "undelivered messages > ${var.alert_backlog_messages}"

    condition_threshold {
      filter          = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_backlog_messages
      duration        = "600s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: more than ${var.alert_backlog_messages} messages waiting on $${resource.label.subscription_id}"
    content   = <<-EOT
      Subscription `$${resource.label.subscription_id}` has more than ${var.alert_backlog_messages} undelivered messages for 10 minutes: the worker takes them in slower than they arrive.

      1. Cloud Run instances on the dashboard: at max_instances (${var.max_instances}) with concurrency ${var.concurrency}, the service is saturated; raise max_instances if the GitHub budget allows it.
      2. The GitHub budget panel: near zero, the worker waits for the hourly reset (admission by budget) and the backlog drains after it.
      3. Many `retry` outcomes or push errors: see the push error alert; a backlog that only grows on the reconcile subscription with few instances busy is one commit's messages held back by ordering behind a message that keeps failing.

      Runbook: ${local.runbook}
    EOT
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "push_errors" {
  project               = var.project_id
  display_name          = "${var.name}: push requests not acknowledged"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "share of push requests not acked > ${var.alert_push_error_ratio}"

    condition_threshold {
      filter             = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/push_request_count\" AND metric.labels.response_class!=\"ack\""
      denominator_filter = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/push_request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_push_error_ratio
      duration           = "600s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }

      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: push requests to the worker fail on $${resource.label.subscription_id}"
    content   = <<-EOT
      More than ${var.alert_push_error_ratio * 100}% of the push requests of `$${resource.label.subscription_id}` were not acknowledged for 10 minutes.

      The push responses panel of the `${var.name}` dashboard says which class:
      * `remote_server_5xx`: the worker nacked (outcome `retry`: GitHub 5xx, rate limit, timeout; `invalid`: an undecodable message). The records' `error` and `reason` fields say why.
      * `remote_server_4xx`: 401/403 means the push account lost `roles/run.invoker` or the OIDC audience no longer matches the service URL; 404 an endpoint path the worker does not serve.
      * `deadline_exceeded`, `unreachable`: the worker did not answer within 600 s or could not start (see the revision's logs and Cloud Run instances).

      Runbook: ${local.runbook}
    EOT
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "failures" {
  project               = var.project_id
  display_name          = "${var.name}: failed, given-up or invalid messages"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "failure outcomes > 0"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.user_metric}${google_logging_metric.log["outcomes"].name}\" AND metric.labels.outcome=one_of(\"failed\", \"gave_up\", \"invalid\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.outcome", "metric.label.stage"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: $${metric.label.outcome} outcomes in the $${metric.label.stage} stage"
    content   = <<-EOT
      The worker recorded `$${metric.label.outcome}` outcomes in the `$${metric.label.stage}` stage:
      * `failed`: the reconciler failed permanently; the check run was completed as a failure with the error in its summary.
      * `gave_up`: a transient failure lasted through the last of ${var.max_delivery_attempts} deliveries; the check run was completed as a failure ("gave up after N attempts") and the message acknowledged.
      * `invalid`: a message that can never be decoded; it goes to the dead-letter topic after its deliveries.

      Find the records: `labels.outcome="$${metric.label.outcome}"` in the logs panel of the `${var.name}` dashboard (their `error` or `reason` field says why; `pr_url` and `sha` name the commit). A `failed` or `gave_up` run is rerun from its check run's "Re-run" button once the cause is fixed; `invalid` messages are in the dead-letter topic (see that alert).

      Runbook: ${local.runbook}
    EOT
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "github_budget" {
  project               = var.project_id
  display_name          = "${var.name}: GitHub rate limit nearly spent"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = var.labels

  conditions {
    display_name = "remaining GitHub points < ${var.alert_github_remaining_points}"

    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.user_metric}${google_logging_metric.log["github_remaining"].name}\""
      comparison      = "COMPARISON_LT"
      threshold_value = var.alert_github_remaining_points
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_05"
        cross_series_reducer = "REDUCE_MIN"
        group_by_fields      = ["metric.label.installation_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name}: installation $${metric.label.installation_id} has fewer than ${var.alert_github_remaining_points} GitHub points left"
    content   = <<-EOT
      GitHub App installation `$${metric.label.installation_id}` had fewer than ${var.alert_github_remaining_points} rate-limit points left after the worker's recent requests. The limit resets hourly; the worker admits messages by budget, so when it runs out messages wait (outcome `retry`) and are delivered again after the reset, within the retry window.

      1. The GitHub budget and points-per-request panels of the `${var.name}` dashboard: a burst (a large push, a backfill published to the reconcile topic) passes by itself.
      2. Sustained: more pull requests than the budget carries, or more requests per message than usual (BENCHMARKS.md has the expected numbers); another deployment with the same App spends the same installation budget.
      3. Lower max_instances or concurrency to spread the work, or wait for the reset.

      Runbook: ${local.runbook}
    EOT
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_dashboard" "worker" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.name} worker"
    mosaicLayout = {
      columns = 48
      tiles = [for i, w in local.dashboard_widgets : {
        xPos   = (i % 2) * 24
        yPos   = floor(i / 2) * 16
        width  = 24
        height = 16
        widget = w
      }]
    }
  })

  depends_on = [google_project_service.apis]
}

locals {
  # A line chart of one or more time series queries.
  dashboard_widgets = [
    { title = "Undelivered messages by subscription", xyChart = { dataSets = [{
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.subscription_id"] }
      } }
    }] } },
    { title = "Oldest unacked message age (s) by subscription", xyChart = { dataSets = [{
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_MAX", groupByFields = ["resource.label.subscription_id"] }
      } }
    }] } },
    { title = "Push requests by response class (per second)", xyChart = { dataSets = [{
      plotType = "STACKED_BAR", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/push_request_count\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_RATE", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["resource.label.subscription_id", "metric.label.response_class"] }
      } }
    }] } },
    { title = "Push latency p50 and p99 (ms) by subscription", xyChart = { dataSets = [for p in ["50", "99"] : {
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "${local.push_subscriptions} AND metric.type=\"pubsub.googleapis.com/subscription/push_request_latencies\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_${p}", groupByFields = ["resource.label.subscription_id"] }
      } }
    }] } },
    { title = "Outcomes by kind and stage", xyChart = { dataSets = [{
      plotType = "STACKED_BAR", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.user_metric}${google_logging_metric.log["outcomes"].name}\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_SUM", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.outcome", "metric.label.stage"] }
      } }
    }] } },
    { title = "Reconcile duration p50 and p95 (s)", xyChart = { dataSets = [for p in ["50", "95"] : {
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.user_metric}${google_logging_metric.log["reconcile_duration"].name}\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_${p}", groupByFields = [] }
      } }
    }] } },
    { title = "GitHub requests and points per request (p95)", xyChart = { dataSets = [for m in [google_logging_metric.log["github_requests"].name, google_logging_metric.log["github_points"].name] : {
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.user_metric}${m}\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_95", groupByFields = [] }
      } }
    }] } },
    { title = "GitHub points remaining by installation (p05)", xyChart = { dataSets = [{
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"cloud_run_revision\" AND metric.type=\"${local.user_metric}${google_logging_metric.log["github_remaining"].name}\""
        aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_05", groupByFields = ["metric.label.installation_id"] }
      } }
    }] } },
    { title = "Cloud Run instances", xyChart = { dataSets = [{
      plotType = "STACKED_AREA", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloud_run_v2_service.worker.name}\" AND metric.type=\"run.googleapis.com/container/instance_count\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX", crossSeriesReducer = "REDUCE_SUM", groupByFields = ["metric.label.state"] }
      } }
    }] } },
    { title = "Container CPU and memory utilization (p95)", xyChart = { dataSets = [for m in ["cpu", "memory"] : {
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloud_run_v2_service.worker.name}\" AND metric.type=\"run.googleapis.com/container/${m}/utilizations\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_DELTA", crossSeriesReducer = "REDUCE_PERCENTILE_95", groupByFields = [] }
      } }
    }] } },
    { title = "Dead-lettered messages waiting", xyChart = { dataSets = [{
      plotType = "LINE", targetAxis = "Y1"
      timeSeriesQuery = { timeSeriesFilter = {
        filter      = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.dead_letter.name}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        aggregation = { alignmentPeriod = "60s", perSeriesAligner = "ALIGN_MAX" }
      } }
    }] } },
    { title = "Worker warnings and errors", logsPanel = {
      filter        = "${local.worker_logs} AND severity>=WARNING"
      resourceNames = ["projects/${var.project_id}"]
    } },
  ]
}
