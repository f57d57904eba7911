package loadtest

import (
	"fmt"
	"strings"
	"testing"
)

// emit logs one row of a BENCHMARKS.md table as a tab-separated line starting with "BENCH",
// which scripts/benchmarks picks out of `go test -json` output.
func emit(t testing.TB, table string, cols ...any) {
	t.Helper()
	s := make([]string, len(cols))
	for i, c := range cols {
		switch v := c.(type) {
		case float64:
			s[i] = fmt.Sprintf("%.2f", v)
		default:
			s[i] = fmt.Sprint(v)
		}
	}
	t.Logf("BENCH\t%s\t%s", table, strings.Join(s, "\t"))
}
