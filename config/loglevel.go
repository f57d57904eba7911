package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// ParseLogLevel reads LOG_LEVEL: debug, info, warn (or warning) or error, in any case. It is
// the one parser of the variable: Validate refuses what it refuses, and the logger is built
// at the level it returns.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("%q is not debug, info, warn or error", s)
}
