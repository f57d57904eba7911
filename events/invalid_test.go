package events

import (
	"errors"
	"strings"
	"testing"
)

// An unknown field is named even when its name is empty or unreadable, quoted.
func TestUnknownFieldIsNamed(t *testing.T) {
	for _, tc := range []struct{ data, field string }{
		{`{"":0}`, `""`},
		{`{"\u0000":0}`, `"\x00"`},
		{`{"a b":0}`, `"a b"`},
		{`{"x.y":0}`, `"x.y"`},
		{`{"extra":0}`, `extra`},
	} {
		_, err := (&Decoder{}).Decode(&Message{ID: "m", Data: []byte(tc.data)})
		var ie *InvalidMessageError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("Decode(%s) = %v, want an error on field %s", tc.data, err, tc.field)
			continue
		}
		if want := "field " + tc.field + ": is not a field of a reconcile request"; !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s): %q does not say %q", tc.data, err, want)
		}
	}
}
