package statusmanager

import (
	"encoding/json"
	"testing"
)

// jsonNormalize returns v as it reads back after a JSON round trip.
func jsonNormalize[T any](t testing.TB, v *T) *T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}
