package worker

import (
	"log/slog"

	"github.com/prreconciler/prreconciler/cloudlog"
)

// label is a Cloud Logging label of a record about a message (names from statusmanager).
func label(key, value string) slog.Attr { return cloudlog.Label(key, value) }
