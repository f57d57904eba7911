package worker_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/worker"
)

// A wrapped push whose envelope is broken is refused with the envelope's field named, not
// read as a reconcile request with an unknown field "message".
func TestPushBadEnvelopeNamesTheField(t *testing.T) {
	good := b64(request("", 7, sha1, false).Data)
	for _, tt := range []struct {
		name, body, field, reason string
		id                        string
	}{
		{name: "data not base64", body: `{"message":{"data":"%%%not base64%%%","messageId":"p2"},"subscription":"projects/p/subscriptions/s"}`,
			field: "message.data", reason: "is not base64", id: "p2"},
		{name: "data base64 URL encoding", body: `{"message":{"data":"` + strings.NewReplacer("+", "-", "/", "_").Replace(good) + `-_","messageId":"p3"}}`,
			field: "message.data", reason: "is not base64", id: "p3"},
		{name: "data a number", body: `{"message":{"data":12,"message_id":"p4"}}`,
			field: "message.data", reason: "is a JSON number, want a base64 string", id: "p4"},
		{name: "attributes not strings", body: `{"message":{"data":"` + good + `","attributes":{"a":1},"messageId":"p5"}}`,
			field: "message.attributes", reason: "is a JSON number, want an object of strings", id: "p5"},
		{name: "deliveryAttempt a string", body: `{"message":{"data":"` + good + `","messageId":"p6"},"deliveryAttempt":"5"}`,
			field: "deliveryAttempt", reason: "is a JSON string, want an integer", id: "p6"},
		{name: "message a string", body: `{"message":"hello"}`, field: "message", reason: "is a JSON string, want an object"},
		{name: "message null", body: `{"message":null}`, field: "message", reason: "is null, want an object"},
		{name: "field names in another case", body: `{"Message":{"Data":"!!","MessageId":"p7"}}`,
			field: "message.data", reason: "is not base64", id: "p7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &counter{}
			e := newEnv(t, c.reconcile)
			var got error
			e.w.OnOutcome = func(m *events.Message, o worker.Outcome, err error) {
				if o != worker.OutcomeInvalid {
					t.Errorf("outcome %s, want invalid", o)
				}
				got = err
			}
			rw := post(t, e.w.PushHandler(worker.PushOptions{}), []byte(tt.body), nil)
			if rw.Code != http.StatusBadRequest {
				t.Fatalf("answered %d, want 400", rw.Code)
			}
			if !strings.Contains(rw.Body.String(), "field "+tt.field+": "+tt.reason) {
				t.Errorf("answer %q does not name field %s (%s)", rw.Body.String(), tt.field, tt.reason)
			}
			var inv *events.InvalidMessageError
			if !errors.As(got, &inv) || inv.Field != tt.field || !strings.Contains(inv.Reason, tt.reason) || inv.MessageID != tt.id {
				t.Errorf("error %#v, want field %s, reason %q, message %q", got, tt.field, tt.reason, tt.id)
			}
			if !errors.Is(got, events.ErrInvalidMessage) {
				t.Errorf("%v is not ErrInvalidMessage", got)
			}
			if c.n() != 0 || len(e.runs(sha1)) != 0 {
				t.Errorf("reconciled %d times, %d runs", c.n(), len(e.runs(sha1)))
			}
		})
	}
}

// Bodies that are not meant as an envelope are still the data of an unwrapped push.
func TestParsePushNotAnEnvelope(t *testing.T) {
	for _, body := range []string{`{"owner":"o"}`, `not json`, `[]`, `{"data":"!!"}`} {
		m, err := worker.ParsePush(http.Header{}, []byte(body))
		if err != nil || string(m.Data) != body {
			t.Errorf("ParsePush(%s) = %+v, %v; want the body as data", body, m, err)
		}
	}
}
