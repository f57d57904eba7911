package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prreconciler/prreconciler/events"
)

func TestRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  events.Request
		want string
	}{
		{
			name: "minimal",
			req: events.Request{Resource: events.Resource{Owner: "octo-org", Repo: "hello-world", URL: "https://github.com/octo-org/hello-world/pull/7"},
				SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
			want: `{"owner":"octo-org","repo":"hello-world","url":"https://github.com/octo-org/hello-world/pull/7","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}`,
		},
		{
			name: "everything",
			req: events.Request{Resource: events.Resource{Owner: "Octo-Org", Repo: "Hello.World", URL: "https://ghe.example.com/Octo-Org/Hello.World/pull/12"},
				SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e", InstallationID: 42, Rerun: true, DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			want: `{"owner":"Octo-Org","repo":"Hello.World","url":"https://ghe.example.com/Octo-Org/Hello.World/pull/12","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","installationId":42,"rerun":true,"deliveryId":"72d3162e-cc78-11e3-81ab-4c9367dc0958"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("json.Marshal = %s\nwant %s", b, tt.want)
			}
			res, err := (&events.Decoder{}).Decode(&events.Message{ID: "999", Data: b})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(res.Requests) != 1 {
				t.Fatalf("Decode gave %d requests", len(res.Requests))
			}
			got, want := res.Requests[0], tt.req
			if want.DeliveryID == "" {
				want.DeliveryID = "999" // the message id when the request does not carry one
			}
			want.Resource.Number = got.Resource.Number
			if got != want {
				t.Fatalf("round trip = %+v, want %+v", got, want)
			}
		})
	}
}

func TestDecodeRefusesLongDeliveryID(t *testing.T) {
	data := fmt.Sprintf(`{"owner":"o","repo":"r","url":"https://github.com/o/r/pull/1","sha":"%s","deliveryId":%q}`,
		strings.Repeat("a", 40), strings.Repeat("x", 257))
	_, err := (&events.Decoder{}).Decode(&events.Message{Data: []byte(data)})
	var invalid *events.InvalidMessageError
	if !errors.As(err, &invalid) || invalid.Field != "deliveryId" {
		t.Fatalf("Decode = %v, want an invalid deliveryId", err)
	}
}

func TestOrderingKey(t *testing.T) {
	r := events.Request{Resource: events.Resource{Owner: "Octo-Org", Repo: "Hello-World"}, SHA: "6DCB09B5B57875F334F61AEBED695E2E4193DB5E"}
	if got, want := r.OrderingKey(), "octo-org/hello-world@6dcb09b5b57875f334f61aebed695e2e4193db5e"; got != want {
		t.Fatalf("OrderingKey = %q, want %q", got, want)
	}
	long := events.Request{Resource: events.Resource{Owner: strings.Repeat("o", 39), Repo: strings.Repeat("r", 100)}, SHA: strings.Repeat("a", 40)}
	if n := len(long.OrderingKey()); n > events.MaxOrderingKeyBytes {
		t.Fatalf("the longest valid key has %d bytes, over %d", n, events.MaxOrderingKeyBytes)
	}
}

func ExampleRequest_OrderingKey() {
	req := events.Request{
		Resource: events.Resource{Owner: "octo-org", Repo: "hello-world", URL: "https://github.com/octo-org/hello-world/pull/7"},
		SHA:      "6dcb09b5b57875f334f61aebed695e2e4193db5e",
	}
	data, _ := json.Marshal(req)
	// Publish data to the reconcile topic with this ordering key (the publisher needs
	// EnableMessageOrdering): Pub/Sub then hands out one message of a commit at a time.
	fmt.Println(req.OrderingKey())
	fmt.Println(string(data))
	// Output:
	// octo-org/hello-world@6dcb09b5b57875f334f61aebed695e2e4193db5e
	// {"owner":"octo-org","repo":"hello-world","url":"https://github.com/octo-org/hello-world/pull/7","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}
}
