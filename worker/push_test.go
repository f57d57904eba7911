package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"google.golang.org/api/idtoken"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/worker"
)

func envelope(m *events.Message, attempt int) []byte {
	b, _ := json.Marshal(map[string]any{
		"subscription": "projects/p/subscriptions/s",
		"message": map[string]any{"data": m.Data, "attributes": m.Attributes, "messageId": m.ID, "message_id": m.ID,
			"publishTime": "2026-11-23T23:07:24.998Z", "publish_time": "2026-11-23T23:07:24.998Z"},
		"deliveryAttempt": attempt,
	})
	return b
}

func post(t *testing.T, h http.Handler, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/?token=abc", bytes.NewReader(body))
	for k, vs := range header {
		r.Header[k] = vs
	}
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, r)
	if rw.Code == http.StatusAccepted {
		t.Fatalf("answered 202, which the emulator treats as a nack")
	}
	return rw
}

func TestPushHandler(t *testing.T) {
	transient := &counter{fn: func(context.Context, *events.Request, *github.Client) (*worker.Result[notes], error) {
		return nil, worker.Transient(errors.New("later"))
	}}
	for _, tt := range []struct {
		name     string
		rec      *counter
		body     []byte
		header   http.Header
		want     int
		wantRuns int
	}{
		{name: "wrapped", body: envelope(request("1", 7, sha1, false), 1), want: 204, wantRuns: 1},
		{name: "wrapped, message_id only", body: []byte(`{"message":{"data":"` +
			b64(request("", 7, sha1, false).Data) + `","message_id":"9"}}`), want: 204, wantRuns: 1},
		{name: "unwrapped with metadata", body: request("", 7, sha1, false).Data,
			header: http.Header{"X-Goog-Pubsub-Message-Id": {"25"}, "X-Goog-Pubsub-Publish-Time": {"2026-11-23T23:10:29.580Z"},
				"Content-Type": {"application/x-www-form-urlencoded"}, "User-Agent": {"Java/17"}},
			want: 204, wantRuns: 1},
		{name: "unwrapped without metadata", body: request("", 7, sha1, false).Data, want: 204, wantRuns: 1},
		{name: "unwrapped relay event with attributes as headers", body: []byte(`{}`),
			header: http.Header{"X-Goog-Pubsub-Message-Id": {"26"}, "Ce-Type": {events.DefaultTypePrefix + ".push"}},
			want:   204},
		{name: "bad JSON", body: []byte(`{"message":`), want: 400},
		{name: "invalid request", body: envelope(request("1", 7, "abc", false), 1), want: 400},
		{name: "transient failure", rec: transient, body: envelope(request("1", 7, sha1, false), 1), want: 503, wantRuns: 1},
		{name: "transient failure at the last attempt", rec: transient, body: envelope(request("1", 7, sha1, false), 5), want: 204, wantRuns: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.rec
			if c == nil {
				c = &counter{}
			}
			e := newEnv(t, c.reconcile)
			rw := post(t, e.w.PushHandler(worker.PushOptions{}), tt.body, tt.header)
			if rw.Code != tt.want {
				t.Errorf("status %d (%q), want %d", rw.Code, rw.Body.String(), tt.want)
			}
			if n := len(e.runs(sha1)); n != tt.wantRuns {
				t.Errorf("%d runs, want %d", n, tt.wantRuns)
			}
		})
	}
}

func b64(b []byte) string {
	s, _ := json.Marshal(b)
	return strings.Trim(string(s), `"`)
}

func TestParsePush(t *testing.T) {
	h := http.Header{
		"X-Goog-Pubsub-Message-Id":        {"25"},
		"X-Goog-Pubsub-Publish-Time":      {"2026-11-23T23:10:29.580Z"},
		"X-Goog-Pubsub-Subscription-Name": {"projects/p/subscriptions/s"},
		"Ce-Type":                         {"dev.chainguard.github.pull_request"},
		"Another-Attr":                    {"v2"},
		"Content-Type":                    {"application/x-www-form-urlencoded"},
		"User-Agent":                      {"Java/17"},
		"Authorization":                   {"Bearer x"},
		"X-Forwarded-For":                 {"1.2.3.4"},
		"Traceparent":                     {"00-abc"},
	}
	m, err := worker.ParsePush(h, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "25" || string(m.Data) != "data" || m.PublishTime.IsZero() {
		t.Errorf("message = %+v", m)
	}
	want := map[string]string{"ce-type": "dev.chainguard.github.pull_request", "another-attr": "v2"}
	if len(m.Attributes) != len(want) {
		t.Errorf("attributes = %v, want %v", m.Attributes, want)
	}
	for k, v := range want {
		if m.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, m.Attributes[k], v)
		}
	}

	m, err = worker.ParsePush(http.Header{}, envelope(&events.Message{ID: "6", Data: []byte("x"), Attributes: map[string]string{"a": "b"}}, 3))
	if err != nil || m.ID != "6" || string(m.Data) != "x" || m.Attributes["a"] != "b" || m.DeliveryAttempt != 3 || m.PublishTime.IsZero() {
		t.Errorf("wrapped message = %+v", m)
	}
}

func TestPushHandlerHTTP(t *testing.T) {
	e := newEnv(t, (&counter{}).reconcile)
	h := e.w.PushHandler(worker.PushOptions{MaxBodyBytes: 100})

	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rw.Code != 200 {
		t.Errorf("GET /healthz: %d, want 200", rw.Code)
	}
	rw = httptest.NewRecorder()
	h.ServeHTTP(rw, httptest.NewRequest(http.MethodGet, "/", nil))
	if rw.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /: %d, want 405", rw.Code)
	}
	if rw := post(t, h, bytes.Repeat([]byte("x"), 101), nil); rw.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d, want 413", rw.Code)
	}
}

func TestPushOIDC(t *testing.T) {
	const aud, sa = "https://worker.example.com", "pusher@p.iam.gserviceaccount.com"
	validator := func(_ context.Context, tok, audience string) (*idtoken.Payload, error) {
		if audience != aud {
			return nil, errors.New("wrong audience")
		}
		switch tok {
		case "good":
			return &idtoken.Payload{Issuer: "https://accounts.google.com", Audience: aud, Claims: map[string]any{"email": sa, "email_verified": true}}, nil
		case "other-sa":
			return &idtoken.Payload{Issuer: "https://accounts.google.com", Audience: aud, Claims: map[string]any{"email": "x@y", "email_verified": true}}, nil
		case "unverified":
			return &idtoken.Payload{Issuer: "https://accounts.google.com", Audience: aud, Claims: map[string]any{"email": sa, "email_verified": false}}, nil
		case "other-issuer":
			return &idtoken.Payload{Issuer: "https://evil.example.com", Audience: aud, Claims: map[string]any{"email": sa, "email_verified": true}}, nil
		case "stranger":
			// Anyone can have Google sign a token for any audience: a valid token proves nothing
			// about who pushes.
			return &idtoken.Payload{Issuer: "accounts.google.com", Audience: aud, Claims: map[string]any{"email": "stranger@gmail.com", "email_verified": true}}, nil
		case "next-sa":
			return &idtoken.Payload{Issuer: "accounts.google.com", Audience: aud, Claims: map[string]any{"email": "next@p.iam.gserviceaccount.com", "email_verified": true}}, nil
		case "no-verified-claim":
			return &idtoken.Payload{Issuer: "https://accounts.google.com", Audience: aud, Claims: map[string]any{"email": sa}}, nil
		}
		return nil, errors.New("bad signature")
	}
	rotation := []string{sa, "next@p.iam.gserviceaccount.com"}
	for _, tt := range []struct {
		name, audience, auth string
		accounts             []string
		want                 int
	}{
		{"off, no token", "", "", nil, 204},
		{"on, good token", aud, "Bearer good", nil, 204},
		{"on, no token", aud, "", nil, 401},
		{"on, not bearer", aud, "Basic good", nil, 401},
		{"on, bad signature", aud, "Bearer forged", nil, 401},
		{"on, other service account", aud, "Bearer other-sa", nil, 401},
		{"on, email not verified", aud, "Bearer unverified", nil, 401},
		{"on, no email_verified claim", aud, "Bearer no-verified-claim", nil, 401},
		{"on, other issuer", aud, "Bearer other-issuer", nil, 401},
		{"on, a stranger's Google token", aud, "Bearer stranger", nil, 401},
		{"rotation, the old account", aud, "Bearer good", rotation, 204},
		{"rotation, the new account", aud, "Bearer next-sa", rotation, 204},
		{"rotation, a stranger", aud, "Bearer stranger", rotation, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &counter{}
			e := newEnv(t, c.reconcile)
			accounts := tt.accounts
			if accounts == nil {
				accounts = []string{sa}
			}
			h := e.w.PushHandler(worker.PushOptions{Audience: tt.audience, ServiceAccounts: accounts, Validator: validator})
			header := http.Header{}
			if tt.auth != "" {
				header.Set("Authorization", tt.auth)
			}
			rw := post(t, h, envelope(request("1", 7, sha1, false), 1), header)
			if rw.Code != tt.want {
				t.Errorf("status %d, want %d", rw.Code, tt.want)
			}
			if wantCalls := map[bool]int{true: 1, false: 0}[tt.want == 204]; c.n() != wantCalls {
				t.Errorf("reconciler called %d times, want %d", c.n(), wantCalls)
			}
		})
	}
}

// An audience without accounts would accept any Google identity: the endpoint does not start.
func TestPushOIDCFailsClosed(t *testing.T) {
	e := newEnv(t, succeed)
	opts := worker.PushOptions{Audience: "https://worker.example.com"}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("PushHandler with an audience and no service accounts did not panic")
			}
		}()
		e.w.PushHandler(opts)
	}()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.w.ServeListener(context.Background(), l, opts); err == nil || !strings.Contains(err.Error(), "ServiceAccounts") {
		t.Errorf("ServeListener = %v, want an error naming ServiceAccounts", err)
	}
}

// TestServeShutdown: at shutdown an in-flight push whose work outlives the grace is cancelled
// and answered 503, and Serve returns nil.
func TestServeShutdown(t *testing.T) {
	started := make(chan struct{})
	c := &counter{fn: func(ctx context.Context, _ *events.Request, _ *github.Client) (*worker.Result[notes], error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	e := newEnv(t, c.reconcile)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.w.ServeListener(ctx, l, worker.PushOptions{ShutdownGrace: 1}) }()

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+l.Addr().String()+"/", "application/json", bytes.NewReader(envelope(request("1", 7, sha1, false), 1)))
		if err != nil {
			answered <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-started
	cancel()
	if code := <-answered; code != http.StatusServiceUnavailable {
		t.Errorf("in-flight push answered %d at shutdown, want 503", code)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if rs := e.runs(sha1); len(rs) != 1 || rs[0].Status != "in_progress" {
		t.Errorf("runs = %+v, want one left in progress", rs)
	}
}
