package events

import (
	"errors"
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
