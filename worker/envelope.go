package worker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/prreconciler/prreconciler/events"
)

// notEnvelope is the message of a push body that did not parse as a wrapped push envelope.
// When the body is meant as one, a JSON object with a "message" member, it also returns an
// *events.InvalidMessageError that names the wrong envelope field and why. So a message.data
// that is not base64 is reported as such, not as an unknown field "message" of a reconcile
// request. Any other body is the data of an unwrapped push, left for the decoder to judge.
func notEnvelope(body []byte) (*events.Message, error) {
	m := &events.Message{Data: body}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return m, nil
	}
	raw, ok := member(top, "message")
	if !ok {
		return m, nil
	}
	invalid := func(field, want string, err error) (*events.Message, error) {
		return m, &events.InvalidMessageError{MessageID: m.ID, Field: field, Reason: envelopeReason(err, want), Err: err}
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &msg); err != nil {
		return invalid("message", "an object", err)
	}
	if msg == nil {
		return invalid("message", "an object", errors.New("is null, want an object"))
	}
	// The id first, so that the refusal names the message in the logs.
	for _, k := range []string{"messageId", "message_id"} {
		if r, ok := member(msg, k); ok {
			var id string
			if json.Unmarshal(r, &id) == nil && id != "" {
				m.ID = id
				break
			}
		}
	}
	fields := []struct {
		path, want string
		in         map[string]json.RawMessage
		v          any
	}{
		{"message.data", "a base64 string", msg, new([]byte)},
		{"message.attributes", "an object of strings", msg, new(map[string]string)},
		{"message.messageId", "a string", msg, new(string)},
		{"message.message_id", "a string", msg, new(string)},
		{"message.publishTime", "a string", msg, new(string)},
		{"message.publish_time", "a string", msg, new(string)},
		{"message.orderingKey", "a string", msg, new(string)},
		{"subscription", "a string", top, new(string)},
		{"deliveryAttempt", "an integer", top, new(int)},
	}
	for _, f := range fields {
		name := f.path[strings.LastIndex(f.path, ".")+1:]
		if r, ok := member(f.in, name); ok {
			if err := json.Unmarshal(r, f.v); err != nil {
				return invalid(f.path, f.want, err)
			}
		}
	}
	return m, nil
}

// member finds a member of a JSON object the way encoding/json matches struct fields: by
// exact name, else without regard to case.
func member(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if r, ok := obj[name]; ok {
		return r, true
	}
	for k, r := range obj {
		if strings.EqualFold(k, name) {
			return r, true
		}
	}
	return nil, false
}

// envelopeReason says what is wrong with an envelope field, from its decoding error. want
// describes what the field should be.
func envelopeReason(err error, want string) string {
	var b64 base64.CorruptInputError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &b64):
		return fmt.Sprintf("is not base64 (standard encoding, with padding): illegal data at input byte %d", int64(b64))
	case errors.As(err, &typ):
		return fmt.Sprintf("is a JSON %s, want %s", typ.Value, want)
	}
	return err.Error()
}
