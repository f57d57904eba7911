package events

import (
	"errors"
	"strings"
	"testing"
)

// A message the transport could not unwrap is refused with the transport's reason, naming
// the message.
func TestDecodeTransportInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		msg    *Message
		wantID string
	}{
		{"id from the message", &Message{ID: "p2", Data: []byte(`{"owner":"o"}`),
			Invalid: &InvalidMessageError{Field: "message.data", Reason: "is not base64"}}, "p2"},
		{"id of the error kept", &Message{ID: "p2",
			Invalid: &InvalidMessageError{MessageID: "p3", Field: "message.data", Reason: "is not base64"}}, "p3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := *tc.msg.Invalid
			res, err := (&Decoder{}).Decode(tc.msg)
			var inv *InvalidMessageError
			if !errors.As(err, &inv) || !errors.Is(err, ErrInvalidMessage) || len(res.Requests) != 0 {
				t.Fatalf("Decode = %+v, %v", res, err)
			}
			if inv.Field != "message.data" || inv.MessageID != tc.wantID {
				t.Errorf("error %+v, want field message.data of message %s", inv, tc.wantID)
			}
			if want := "invalid message " + tc.wantID + ": field message.data: is not base64"; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if *tc.msg.Invalid != before {
				t.Errorf("Decode changed the message's error: %+v", tc.msg.Invalid)
			}
		})
	}
}

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
