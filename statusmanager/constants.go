package statusmanager

// The statuses of a check run, for Status.Status, as GitHub names them. They are untyped
// constants, usable wherever a string is expected (Status.Status is a string).
const (
	StatusQueued     = "queued"
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
)

// The conclusions of a completed check run, for Status.Conclusion (and the worker's
// Result.Conclusion), as GitHub names them. ConclusionStale is GitHub's alone: it marks runs
// that stayed incomplete for 14 days, and an App cannot set it (SetActualState refuses it
// with ErrInvalidStatus).
const (
	ConclusionActionRequired = "action_required"
	ConclusionCancelled      = "cancelled"
	ConclusionFailure        = "failure"
	ConclusionNeutral        = "neutral"
	ConclusionSuccess        = "success"
	ConclusionSkipped        = "skipped"
	ConclusionStale          = "stale"
	ConclusionTimedOut       = "timed_out"
)
