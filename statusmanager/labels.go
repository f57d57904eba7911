package statusmanager

// Cloud Logging label names shared by the worker's log records and the details URL of every
// check run: the link selects records by exactly these labels, so both sides use these
// constants and nothing else.
const (
	// LogLabelPRURL carries the pull request URL (the Resource's key).
	LogLabelPRURL = "pr_url"
	// LogLabelSHA carries the commit SHA (the generation).
	LogLabelSHA = "sha"
	// LogLabelDeliveryID carries the delivery id of the message being handled.
	LogLabelDeliveryID = "delivery_id"
	// LogLabelOutcome carries what became of the message (reconciled, skipped, ...).
	LogLabelOutcome = "outcome"
)
