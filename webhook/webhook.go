// Package webhook is the signed GitHub webhook ingress: Handler serves POST /webhook, verifies
// each delivery's X-Hub-Signature-256 and publishes it to the relay topic as the webhook relay does.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prreconciler/prreconciler/events"
)

// MaxBodyBytes is GitHub's cap on a webhook payload, 25 MB: GitHub does not deliver larger
// ones, so a larger body is not a GitHub delivery.
const MaxBodyBytes = 25 << 20

// MaxMessageBytes is the largest message data the Handler publishes: Pub/Sub refuses a
// message over 10 MB, so a payload that would make a larger one is refused with 413 rather
// than answered 503 after a publish that can never succeed.
const MaxMessageBytes = 10_000_000

// DefaultPublishTimeout bounds a delivery's publish when Handler.PublishTimeout is 0: the
// answer must reach GitHub within its 10 s delivery timeout.
const DefaultPublishTimeout = 8 * time.Second

// Headers of a GitHub webhook delivery.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the body with the secret.
	HeaderSignature = "X-Hub-Signature-256"
	// HeaderEvent names the event (pull_request, check_run, ping...).
	HeaderEvent = "X-GitHub-Event"
	// HeaderDelivery is the delivery's GUID, the same on a redelivery.
	HeaderDelivery = "X-GitHub-Delivery"
	// HeaderHookID is the webhook's id.
	HeaderHookID = "X-GitHub-Hook-ID"
	// HeaderTargetType is what the webhook is on (integration for a GitHub App).
	HeaderTargetType = "X-GitHub-Hook-Installation-Target-Type"
	// HeaderTargetID is the id of what the webhook is on (the App id).
	HeaderTargetID = "X-GitHub-Hook-Installation-Target-ID"
)

// Outcomes of a delivery, as logged (field "outcome").
const (
	// OutcomePublished: on the relay topic; answered 200.
	OutcomePublished = "published"
	// OutcomePing: GitHub's ping, answered 200 and not published.
	OutcomePing = "ping"
	// OutcomeUnauthorized: no signature, or one no secret made; answered 401.
	OutcomeUnauthorized = "unauthorized"
	// OutcomeBadRequest: a header missing, a payload that is not a JSON object, another
	// method than POST; answered 400 (405 for the method).
	OutcomeBadRequest = "bad_request"
	// OutcomeTooLarge: over MaxBodyBytes, or a message over MaxMessageBytes; answered 413.
	OutcomeTooLarge = "too_large"
	// OutcomePublishFailed: the publish failed or outlived its deadline; answered 503.
	OutcomePublishFailed = "publish_failed"
)

// Publisher publishes one message to the relay topic and returns its message id once the
// topic has it. ctx carries the Handler's publish deadline.
type Publisher interface {
	Publish(ctx context.Context, data []byte, attributes map[string]string) (id string, err error)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, data []byte, attributes map[string]string) (string, error)

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, data []byte, attributes map[string]string) (string, error) {
	return f(ctx, data, attributes)
}

// Handler serves POST /webhook for a GitHub App's (or a repository's) webhook. It verifies
// X-Hub-Signature-256 over the raw body with each of Secrets before reading anything else
// (401 and nothing published when none matches or the header is missing), answers 413 above
// MaxBodyBytes, 400 without X-GitHub-Event or X-GitHub-Delivery or with a payload that is not
// a JSON object, 200 to ping without publishing, and publishes every other event in the
// webhook relay's format (see Message), answering 200 only once the topic has it, 503 when
// the publish fails or outlives PublishTimeout. It logs one record per delivery, never the
// body or a secret. Its zero value refuses every delivery (no secret); set the fields before
// the first request. A Handler is safe for concurrent use.
type Handler struct {
	// Secrets are the webhook secrets a signature may be made with: the current one, and
	// during a rotation the previous one. Empty secrets are skipped.
	Secrets []string
	// Publisher publishes to the relay topic; without it every signed delivery gets 503.
	Publisher Publisher
	// TypePrefix is the CloudEvents type prefix: ce-type is TypePrefix + "." + the event;
	// "" means events.DefaultTypePrefix.
	TypePrefix string
	// Logger receives one record per delivery; nil means slog.Default().
	Logger *slog.Logger
	// PublishTimeout bounds the publish; 0 means DefaultPublishTimeout.
	PublishTimeout time.Duration
	// Now gives the delivery's time (data "when", attribute ce-time); nil means time.Now.
	Now func() time.Time
}

// Message builds what the webhook relay publishes for a delivery: the CloudEvents attributes
// in Pub/Sub's binding (ce-id the delivery id, ce-type prefix + "." + event, ce-source,
// ce-specversion 1.0, ce-time, ce-subject owner/repo and ce-action when the payload names
// them, ce-pullrequesturl https://github.com/OWNER/REPO/pull/N for pull_request events, as the
// relay names github.com whatever the host, ce-githubhook the hook id, content-type) and the
// data {"when", "headers", "body"}, body being payload unchanged. source is ce-source (the
// relay uses the request's host). payload must be a JSON object.
func Message(prefix, source string, h http.Header, payload []byte, when time.Time) (data []byte, attributes map[string]string, err error) {
	if prefix = strings.TrimSuffix(prefix, "."); prefix == "" {
		prefix = events.DefaultTypePrefix
	}
	var p payloadFields
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, nil, fmt.Errorf("webhook: payload: %w", err)
	}
	event, delivery := h.Get(HeaderEvent), h.Get(HeaderDelivery)
	when = when.UTC()
	attrs := map[string]string{
		"ce-id":          delivery,
		"ce-type":        prefix + "." + event,
		"ce-source":      source,
		"ce-specversion": "1.0",
		"ce-time":        when.Format(time.RFC3339Nano),
		"content-type":   "application/json",
	}
	if repo := p.repository(); repo != "" {
		attrs["ce-subject"] = repo
		if n := p.number(); event == "pull_request" && n > 0 {
			attrs["ce-pullrequesturl"] = "https://github.com/" + repo + "/pull/" + strconv.Itoa(n)
		}
	}
	if p.Action != nil && *p.Action != "" {
		attrs["ce-action"] = *p.Action
	}
	if id := h.Get(HeaderHookID); id != "" {
		attrs["ce-githubhook"] = id
	}
	data, err = json.Marshal(relayData{When: when, Body: json.RawMessage(payload), Headers: relayHeaders{
		HookID:                 h.Get(HeaderHookID),
		DeliveryID:             delivery,
		UserAgent:              h.Get("User-Agent"),
		Event:                  event,
		InstallationTargetType: h.Get(HeaderTargetType),
		InstallationTargetID:   h.Get(HeaderTargetID),
	}})
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: encode message: %w", err)
	}
	return data, attrs, nil
}

// relayData is the webhook relay's message data.
type relayData struct {
	When    time.Time       `json:"when"`
	Headers relayHeaders    `json:"headers"`
	Body    json.RawMessage `json:"body"`
}

// relayHeaders are the delivery headers the relay records, under its names.
type relayHeaders struct {
	HookID                 string `json:"hook_id,omitempty"`
	DeliveryID             string `json:"delivery_id,omitempty"`
	UserAgent              string `json:"user_agent,omitempty"`
	Event                  string `json:"event,omitempty"`
	InstallationTargetType string `json:"installation_target_type,omitempty"`
	InstallationTargetID   string `json:"installation_target_id,omitempty"`
}

// payloadFields are the few payload fields the attributes and the log record name.
type payloadFields struct {
	Action     *string `json:"action"`
	Number     int     `json:"number"`
	Repository *struct {
		FullName string `json:"full_name"`
		Name     string `json:"name"`
		Owner    *struct {
			Login string `json:"login"`
		} `json:"owner"`
	} `json:"repository"`
	PullRequest *struct {
		Number int `json:"number"`
	} `json:"pull_request"`
}

func (p *payloadFields) repository() string {
	r := p.Repository
	switch {
	case r == nil:
		return ""
	case r.FullName != "":
		return r.FullName
	case r.Owner != nil && r.Owner.Login != "" && r.Name != "":
		return r.Owner.Login + "/" + r.Name
	}
	return ""
}

func (p *payloadFields) number() int {
	if p.Number > 0 {
		return p.Number
	}
	if p.PullRequest != nil {
		return p.PullRequest.Number
	}
	return 0
}

// Verify reports whether signature, an X-Hub-Signature-256 value ("sha256=" and the hex
// HMAC-SHA256 of body), was made with one of secrets. The comparison is constant-time.
func Verify(body []byte, signature string, secrets []string) bool {
	hexSum, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	match := false
	for _, s := range secrets {
		if s == "" {
			continue
		}
		mac := hmac.New(sha256.New, []byte(s))
		mac.Write(body)
		// Every secret is tried, so the time taken does not say which one matched.
		if hmac.Equal(mac.Sum(nil), got) {
			match = true
		}
	}
	return match
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for body signed with secret.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Longest X-GitHub-Event and X-GitHub-Delivery accepted: GitHub's are short (an event name,
// a GUID); anything longer is not GitHub's and would only bloat attributes and logs.
const (
	maxEventBytes    = 100
	maxDeliveryBytes = 200
)

// delivery is what the log record of one delivery says.
type delivery struct {
	event, action, id, repo, outcome, messageID, reason string
	status                                              int
}

// ServeHTTP handles one webhook delivery (see Handler).
func (h *Handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d := delivery{event: r.Header.Get(HeaderEvent), id: r.Header.Get(HeaderDelivery)}
	defer func() { h.log(r.Context(), &d, time.Since(start)) }()
	answer := func(status int, outcome, reason string) {
		d.status, d.outcome, d.reason = status, outcome, reason
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		rw.WriteHeader(status)
		io.WriteString(rw, reason+"\n")
	}
	// What is logged of an unverified request is cut short: anyone may send it.
	d.event, d.id = cut(d.event, maxEventBytes), cut(d.id, maxDeliveryBytes)
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		answer(http.StatusMethodNotAllowed, OutcomeBadRequest, "POST a GitHub webhook delivery")
		return
	}
	if r.ContentLength > MaxBodyBytes {
		// Refused before reading: the body cannot be a GitHub delivery.
		answer(http.StatusRequestEntityTooLarge, OutcomeTooLarge, fmt.Sprintf("body larger than GitHub's %d-byte cap", MaxBodyBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			answer(http.StatusRequestEntityTooLarge, OutcomeTooLarge, fmt.Sprintf("body larger than GitHub's %d-byte cap", MaxBodyBytes))
			return
		}
		answer(http.StatusBadRequest, OutcomeBadRequest, "could not read the body")
		return
	}
	sig := r.Header.Get(HeaderSignature)
	if sig == "" {
		answer(http.StatusUnauthorized, OutcomeUnauthorized, "missing "+HeaderSignature)
		return
	}
	if !Verify(body, sig, h.Secrets) {
		answer(http.StatusUnauthorized, OutcomeUnauthorized, "bad "+HeaderSignature)
		return
	}
	event, id := r.Header.Get(HeaderEvent), r.Header.Get(HeaderDelivery)
	switch {
	case event == "" || id == "":
		answer(http.StatusBadRequest, OutcomeBadRequest, "missing "+HeaderEvent+" or "+HeaderDelivery)
		return
	case len(event) > maxEventBytes || strings.IndexFunc(event, notEventRune) >= 0:
		answer(http.StatusBadRequest, OutcomeBadRequest, HeaderEvent+" is not an event name")
		return
	case len(id) > maxDeliveryBytes:
		answer(http.StatusBadRequest, OutcomeBadRequest, HeaderDelivery+" is too long")
		return
	}
	payload, err := jsonPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		answer(http.StatusBadRequest, OutcomeBadRequest, err.Error())
		return
	}
	var p payloadFields
	if json.Unmarshal(payload, &p) == nil {
		d.repo = p.repository()
		if p.Action != nil {
			d.action = *p.Action
		}
	}
	if event == "ping" {
		answer(http.StatusOK, OutcomePing, "pong")
		return
	}
	data, attrs, err := Message(h.TypePrefix, r.Host, r.Header, payload, h.now())
	if err != nil {
		answer(http.StatusBadRequest, OutcomeBadRequest, "payload is not a JSON object")
		return
	}
	if len(data) > MaxMessageBytes {
		answer(http.StatusRequestEntityTooLarge, OutcomeTooLarge, fmt.Sprintf("the message would be %d bytes, over Pub/Sub's %d", len(data), MaxMessageBytes))
		return
	}
	if h.Publisher == nil {
		answer(http.StatusServiceUnavailable, OutcomePublishFailed, "no relay topic to publish to")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.publishTimeout())
	defer cancel()
	msgID, err := h.Publisher.Publish(ctx, data, attrs)
	if err != nil {
		answer(http.StatusServiceUnavailable, OutcomePublishFailed, "could not publish the delivery; redeliver it")
		d.reason = fmt.Sprintf("publish: %v", err)
		return
	}
	d.messageID = msgID
	answer(http.StatusOK, OutcomePublished, "published as message "+msgID)
}

// jsonPayload returns the delivery's JSON payload: the body, or its payload field for a
// webhook configured with the form content type. It must be a JSON object.
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errors.New("form body does not parse")
		}
		body = []byte(form.Get("payload"))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return body, nil
}

// notEventRune reports a rune no GitHub event name has.
func notEventRune(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '_') }

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) publishTimeout() time.Duration {
	if h.PublishTimeout > 0 {
		return h.PublishTimeout
	}
	return DefaultPublishTimeout
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

// log writes the delivery's one record: info when published or a ping, warn when refused,
// error when the publish failed.
func (h *Handler) log(ctx context.Context, d *delivery, took time.Duration) {
	level := slog.LevelWarn
	switch d.outcome {
	case OutcomePublished, OutcomePing:
		level = slog.LevelInfo
	case OutcomePublishFailed:
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("event", d.event), slog.String("action", d.action),
		slog.String("delivery_id", d.id), slog.String("repository", d.repo),
		slog.String("outcome", d.outcome), slog.Int("status", d.status), slog.Duration("latency", took)}
	if d.messageID != "" {
		attrs = append(attrs, slog.String("message_id", d.messageID))
	}
	if d.outcome != OutcomePublished && d.reason != "" {
		attrs = append(attrs, slog.String("reason", d.reason))
	}
	h.logger().LogAttrs(ctx, level, "webhook delivery "+d.outcome, attrs...)
}
