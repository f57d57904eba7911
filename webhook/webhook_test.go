package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/webhook"
)

const (
	testSecret     = "It's a Secret to Everybody"
	previousSecret = "the secret before the rotation"
	testDelivery   = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
)

// examples are the real payloads of testdata/ with the event each is a delivery of.
func examples(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in testdata: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		name := strings.TrimPrefix(filepath.Base(f), "ghes-3.5.")
		out[filepath.Base(f)] = strings.Split(name, ".")[0]
	}
	return out
}

func readPayload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// published is one message a recorder was given.
type published struct {
	data  []byte
	attrs map[string]string
}

// recorder is a Publisher that keeps what it is given, or fails with err, or, with block,
// waits for the publish deadline.
type recorder struct {
	mu    sync.Mutex
	msgs  []published
	err   error
	block bool
}

func (r *recorder) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	if r.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if r.err != nil {
		return "", r.err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, published{data, attrs})
	return strconv.Itoa(len(r.msgs)), nil
}

func (r *recorder) messages() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]published(nil), r.msgs...)
}

// deliveryRequest is GitHub's delivery of body for event, signed with signature ("" for none).
func deliveryRequest(body []byte, event, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhook", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "GitHub-Hookshot/044aadd")
	r.Header.Set(webhook.HeaderHookID, "292430182")
	r.Header.Set(webhook.HeaderTargetType, "integration")
	r.Header.Set(webhook.HeaderTargetID, "79929171")
	if event != "" {
		r.Header.Set(webhook.HeaderEvent, event)
	}
	r.Header.Set(webhook.HeaderDelivery, testDelivery)
	if signature != "" {
		r.Header.Set(webhook.HeaderSignature, signature)
	}
	return r
}

func newHandler(pub webhook.Publisher, log *bytes.Buffer) *webhook.Handler {
	h := &webhook.Handler{Secrets: []string{testSecret, previousSecret}, Publisher: pub, PublishTimeout: 300 * time.Millisecond,
		Now: func() time.Time { return time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC) }}
	if log != nil {
		h.Logger = slog.New(slog.NewJSONHandler(log, nil))
	}
	return h
}

// TestHandlerAnswers drives the handler with every real payload and each way a delivery can
// be refused: the answer, and what was published (nothing, for the refused ones).
func TestHandlerAnswers(t *testing.T) {
	for file, event := range examples(t) {
		body := readPayload(t, file)
		changed := bytes.Replace(body, []byte(`"action"`), []byte(`"action" `), 1)
		tests := []struct {
			name      string
			req       *http.Request
			pub       *recorder
			want      int
			published int
		}{
			{"signed with the secret", deliveryRequest(body, event, webhook.Sign(body, testSecret)), &recorder{}, 200, 1},
			{"signed with the previous secret, during a rotation", deliveryRequest(body, event, webhook.Sign(body, previousSecret)), &recorder{}, 200, 1},
			{"signed with a wrong secret", deliveryRequest(body, event, webhook.Sign(body, "wrong")), &recorder{}, 401, 0},
			{"no signature", deliveryRequest(body, event, ""), &recorder{}, 401, 0},
			{"body changed after signing", deliveryRequest(changed, event, webhook.Sign(body, testSecret)), &recorder{}, 401, 0},
			{"the SHA-1 signature's format", deliveryRequest(body, event, strings.Replace(webhook.Sign(body, testSecret), "sha256=", "sha1=", 1)), &recorder{}, 401, 0},
			{"a truncated signature", deliveryRequest(body, event, webhook.Sign(body, testSecret)[:40]), &recorder{}, 401, 0},
			{"no X-GitHub-Event", deliveryRequest(body, "", webhook.Sign(body, testSecret)), &recorder{}, 400, 0},
			{"an event that is not a name", deliveryRequest(body, "pull request!", webhook.Sign(body, testSecret)), &recorder{}, 400, 0},
			{"ping", deliveryRequest(body, "ping", webhook.Sign(body, testSecret)), &recorder{}, 200, 0},
			{"the publish fails", deliveryRequest(body, event, webhook.Sign(body, testSecret)), &recorder{err: errors.New("topic not found")}, 503, 0},
			{"the publish outlives its deadline", deliveryRequest(body, event, webhook.Sign(body, testSecret)), &recorder{block: true}, 503, 0},
		}
		for _, tt := range tests {
			t.Run(file+"/"+tt.name, func(t *testing.T) {
				rw := httptest.NewRecorder()
				start := time.Now()
				newHandler(tt.pub, nil).ServeHTTP(rw, tt.req)
				if rw.Code != tt.want {
					t.Errorf("answered %d %q, want %d", rw.Code, rw.Body.String(), tt.want)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("answered after %s", took)
				}
				if got := len(tt.pub.messages()); got != tt.published {
					t.Errorf("published %d messages, want %d", got, tt.published)
				}
			})
		}
	}
}

// TestHandlerRefusals covers what does not depend on the payload: headers, size, method,
// content, configuration.
func TestHandlerRefusals(t *testing.T) {
	body := readPayload(t, "pull_request.opened.json")
	noDelivery := deliveryRequest(body, "pull_request", webhook.Sign(body, testSecret))
	noDelivery.Header.Del(webhook.HeaderDelivery)
	big := bytes.Repeat([]byte(" "), webhook.MaxBodyBytes+1)
	overPubSub := append([]byte(`{"action":"opened","filler":"`), append(bytes.Repeat([]byte("x"), webhook.MaxMessageBytes), '"', '}')...)
	notJSON := []byte("action=opened")
	form := []byte("payload=" + url.QueryEscape(string(body)))
	formReq := deliveryRequest(form, "pull_request", webhook.Sign(form, testSecret))
	formReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	chunked := deliveryRequest(big, "pull_request", webhook.Sign(big, testSecret))
	chunked.ContentLength = -1 // no length announced: the read itself is cut at the cap
	get := deliveryRequest(nil, "pull_request", "")
	get.Method = http.MethodGet
	tests := []struct {
		name      string
		h         *webhook.Handler
		req       *http.Request
		want      int
		published int
	}{
		{"no X-GitHub-Delivery", nil, noDelivery, 400, 0},
		{"over GitHub's 25 MB cap", nil, deliveryRequest(big, "pull_request", webhook.Sign(big, testSecret)), 413, 0},
		{"over GitHub's cap, without a Content-Length", nil, chunked, 413, 0},
		{"over Pub/Sub's message size", nil, deliveryRequest(overPubSub, "pull_request", webhook.Sign(overPubSub, testSecret)), 413, 0},
		{"not a JSON object", nil, deliveryRequest(notJSON, "pull_request", webhook.Sign(notJSON, testSecret)), 400, 0},
		{"the form content type", nil, formReq, 200, 1},
		{"GET", nil, get, 405, 0},
		{"the zero Handler refuses everything", &webhook.Handler{}, deliveryRequest(body, "pull_request", webhook.Sign(body, "")), 401, 0},
		{"no publisher", &webhook.Handler{Secrets: []string{testSecret}}, deliveryRequest(body, "pull_request", webhook.Sign(body, testSecret)), 503, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &recorder{}
			h := tt.h
			if h == nil {
				h = newHandler(pub, nil)
			}
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, tt.req)
			if rw.Code != tt.want {
				t.Errorf("answered %d %q, want %d", rw.Code, rw.Body.String(), tt.want)
			}
			if got := len(pub.messages()); got != tt.published {
				t.Errorf("published %d, want %d", got, tt.published)
			}
			if tt.want == 405 && rw.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", rw.Header().Get("Allow"))
			}
		})
	}
}

// TestMessageFormat checks the message of a pull_request delivery field by field: the relay's
// attributes and data, the body unchanged.
func TestMessageFormat(t *testing.T) {
	body := readPayload(t, "pull_request.opened.json")
	pub := &recorder{}
	req := deliveryRequest(body, "pull_request", webhook.Sign(body, testSecret))
	req.Host = "ingress.example.com"
	rw := httptest.NewRecorder()
	newHandler(pub, nil).ServeHTTP(rw, req)
	msgs := pub.messages()
	if rw.Code != 200 || len(msgs) != 1 {
		t.Fatalf("answered %d, %d published", rw.Code, len(msgs))
	}
	wantAttrs := map[string]string{
		"ce-id": testDelivery, "ce-type": "dev.chainguard.github.pull_request", "ce-source": "ingress.example.com",
		"ce-specversion": "1.0", "ce-time": "2026-12-05T10:00:00Z", "ce-subject": "Codertocat/Hello-World",
		"ce-action": "opened", "ce-pullrequesturl": "https://github.com/Codertocat/Hello-World/pull/2",
		"ce-githubhook": "292430182", "content-type": "application/json",
	}
	if !reflect.DeepEqual(msgs[0].attrs, wantAttrs) {
		t.Errorf("attributes %v\nwant %v", msgs[0].attrs, wantAttrs)
	}
	var data struct {
		When    string            `json:"when"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(msgs[0].data, &data); err != nil {
		t.Fatal(err)
	}
	wantHeaders := map[string]string{"event": "pull_request", "delivery_id": testDelivery, "hook_id": "292430182",
		"user_agent": "GitHub-Hookshot/044aadd", "installation_target_type": "integration", "installation_target_id": "79929171"}
	if data.When != "2026-12-05T10:00:00Z" || !reflect.DeepEqual(data.Headers, wantHeaders) {
		t.Errorf("when %q, headers %v", data.When, data.Headers)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data.Body, compact.Bytes()) {
		t.Error("the body is not the payload")
	}
}

// relayed is the message the webhook relay publishes for a delivery of body, as the events
// package's tests build it: the reference the ingress must be indistinguishable from.
func relayed(t *testing.T, event string, body []byte) *events.Message {
	t.Helper()
	var p struct {
		Action     string `json:"action"`
		Number     int    `json:"number"`
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{"ce-id": testDelivery, "ce-type": events.DefaultTypePrefix + "." + event,
		"ce-source": "relay.example.com", "ce-specversion": "1.0", "ce-subject": p.Repository.FullName, "ce-action": p.Action}
	if event == "pull_request" {
		attrs["ce-pullrequesturl"] = "https://github.com/" + p.Repository.FullName + "/pull/" + strconv.Itoa(p.Number)
	}
	data, err := json.Marshal(map[string]any{"when": "2019-05-15T15:20:33Z",
		"headers": map[string]any{"event": event, "delivery_id": testDelivery, "hook_id": "1"}, "body": json.RawMessage(body)})
	if err != nil {
		t.Fatal(err)
	}
	return &events.Message{ID: "9001", Data: data, Attributes: attrs}
}

// TestRoundTrip: every example payload the ingress publishes decodes, with events.Decoder,
// to exactly what the relay's message of the same delivery decodes to, for decoders that
// know no App, the App of the check runs in the examples, and another one.
func TestRoundTrip(t *testing.T) {
	decoders := map[string]events.Decoder{"any app": {}, "app 29310 (the examples' check runs)": {AppID: 29310},
		"app 2, octocoders-linter": {AppID: 2, Identity: "octocoders-linter"}}
	requests := 0
	for file, event := range examples(t) {
		body := readPayload(t, file)
		pub := &recorder{}
		rw := httptest.NewRecorder()
		newHandler(pub, nil).ServeHTTP(rw, deliveryRequest(body, event, webhook.Sign(body, testSecret)))
		msgs := pub.messages()
		if rw.Code != 200 || len(msgs) != 1 {
			t.Fatalf("%s: answered %d, %d published", file, rw.Code, len(msgs))
		}
		ours := &events.Message{ID: "9001", Data: msgs[0].data, Attributes: msgs[0].attrs}
		for name, d := range decoders {
			got, gotErr := d.Decode(ours)
			want, wantErr := d.Decode(relayed(t, event, body))
			if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) {
				t.Errorf("%s, decoder %s: the ingress's message decodes to %+v, %v\nthe relay's to %+v, %v", file, name, got, gotErr, want, wantErr)
			}
			if gotErr != nil {
				t.Errorf("%s, decoder %s: %v", file, name, gotErr)
			}
			requests += len(got.Requests)
		}
	}
	if requests == 0 {
		t.Error("no example decoded to a request: the round trip proves nothing")
	}
}

// TestOneLogRecordPerDelivery: each delivery, published or refused, gives one record naming
// the event, action, delivery, repository and outcome, and never the body or a secret.
func TestOneLogRecordPerDelivery(t *testing.T) {
	body := readPayload(t, "pull_request.synchronize.json")
	tests := []struct {
		name    string
		req     *http.Request
		pub     *recorder
		level   string
		outcome string
	}{
		{"published", deliveryRequest(body, "pull_request", webhook.Sign(body, testSecret)), &recorder{}, "INFO", webhook.OutcomePublished},
		{"bad signature", deliveryRequest(body, "pull_request", webhook.Sign(body, "wrong")), &recorder{}, "WARN", webhook.OutcomeUnauthorized},
		{"ping", deliveryRequest(body, "ping", webhook.Sign(body, testSecret)), &recorder{}, "INFO", webhook.OutcomePing},
		{"publish failed", deliveryRequest(body, "pull_request", webhook.Sign(body, testSecret)), &recorder{err: errors.New("unavailable")}, "ERROR", webhook.OutcomePublishFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			newHandler(tt.pub, &log).ServeHTTP(httptest.NewRecorder(), tt.req)
			lines := strings.Split(strings.TrimSpace(log.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d records: %s", len(lines), log.String())
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["level"] != tt.level || rec["outcome"] != tt.outcome || rec["delivery_id"] != testDelivery {
				t.Errorf("record %v", rec)
			}
			if tt.outcome != webhook.OutcomeUnauthorized && (rec["event"] != "pull_request" && rec["event"] != "ping" ||
				rec["action"] != "synchronize" || rec["repository"] != "Codertocat/Hello-World") {
				t.Errorf("record %v does not name the event, action and repository", rec)
			}
			for _, secret := range []string{testSecret, previousSecret, "Hello-World\\\" "} {
				if strings.Contains(log.String(), secret) {
					t.Errorf("the record carries %q", secret)
				}
			}
			if strings.Contains(log.String(), "pull_request\":{") || strings.Contains(log.String(), "Codertocat/Hello-World/pull/") {
				t.Error("the record carries the body")
			}
		})
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	tests := []struct {
		name    string
		sig     string
		secrets []string
		want    bool
	}{
		{"current", webhook.Sign(body, "a"), []string{"a", "b"}, true},
		{"previous", webhook.Sign(body, "b"), []string{"a", "b"}, true},
		{"neither", webhook.Sign(body, "c"), []string{"a", "b"}, false},
		{"no secrets", webhook.Sign(body, ""), nil, false},
		{"an empty secret is never used", webhook.Sign(body, ""), []string{""}, false},
		{"upper-case hex", strings.ToUpper(webhook.Sign(body, "a")[7:]), []string{"a"}, false},
		{"prefix in upper case hex digits", "sha256=" + strings.ToUpper(webhook.Sign(body, "a")[7:]), []string{"a"}, true},
		{"not hex", "sha256=zz", []string{"a"}, false},
		{"empty", "", []string{"a"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := webhook.Verify(body, tt.sig, tt.secrets); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	// GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
	if got := webhook.Sign([]byte("Hello, World!"), testSecret); got != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("Sign of GitHub's example = %s", got)
	}
}
