package worker_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-github/v60/github"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/internal/logbuf"
	"github.com/prreconciler/prreconciler/internal/pubsubemu"
	"github.com/prreconciler/prreconciler/worker"
)

// pstestEnv is an in-process Pub/Sub with an ordered reconcile topic and subscription.
type pstestEnv struct {
	client *pubsub.Client
	topic  string
	sub    string
}

func newPstest(t *testing.T, createTopic bool) *pstestEnv {
	t.Helper()
	c := pubsubemu.InProcess(t, "p")
	e := &pstestEnv{client: c, topic: "projects/p/topics/reconcile", sub: "projects/p/subscriptions/reconcile"}
	if createTopic {
		e.createTopic(t)
	}
	return e
}

func (e *pstestEnv) createTopic(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: e.topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: e.sub, Topic: e.topic, AckDeadlineSeconds: 10, EnableMessageOrdering: true,
	}); err != nil {
		t.Fatal(err)
	}
}

func (e *pstestEnv) publisher(t *testing.T) *pubsub.Publisher {
	t.Helper()
	p := e.client.Publisher(e.topic)
	p.EnableMessageOrdering = true
	t.Cleanup(p.Stop)
	return p
}

// receive pulls n messages from the reconcile subscription and acks them.
func (e *pstestEnv) receive(t *testing.T, n int) []*pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan *pubsub.Message, n)
	err := e.client.Subscriber(e.sub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		got <- m
		if len(got) == n {
			cancel()
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	close(got)
	var ms []*pubsub.Message
	for m := range got {
		ms = append(ms, m)
	}
	if len(ms) != n {
		t.Fatalf("received %d messages on the reconcile subscription, want %d", len(ms), n)
	}
	return ms
}

// ours is a decoder of the test App (id 1, that of checkSuite's events) and identity.
func ours() *events.Decoder { return &events.Decoder{AppID: 1, Identity: identity} }

func TestIntakeForwardsEachRequestWithItsOrderingKey(t *testing.T) {
	ps := newPstest(t, true)
	var buf logbuf.Buffer
	in := &worker.Intake{Publisher: ps.publisher(t), Decoder: ours(),
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))}

	o, err := in.Handle(context.Background(), checkSuite("101", "rerequested", strings.ToUpper(sha1)))
	if o != worker.OutcomeForwarded || err != nil {
		t.Fatalf("Handle = %s, %v; want forwarded", o, err)
	}
	got := ps.receive(t, 2)
	var prs []int
	for _, m := range got {
		if want := owner + "/" + repo + "@" + sha1; m.OrderingKey != want {
			t.Errorf("ordering key %q, want %q", m.OrderingKey, want)
		}
		res, err := (&events.Decoder{}).Decode(&events.Message{ID: m.ID, Data: m.Data})
		if err != nil || len(res.Requests) != 1 {
			t.Fatalf("the reconcile message %s does not decode to one request: %v", m.Data, err)
		}
		r := res.Requests[0]
		if r.DeliveryID != "gh-101" || !r.Rerun || r.SHA != sha1 || r.InstallationID != 1 {
			t.Errorf("forwarded request %+v lost the delivery id, rerun, SHA or installation", r)
		}
		prs = append(prs, r.Resource.Number)
	}
	slices.Sort(prs)
	if !slices.Equal(prs, []int{7, 8}) {
		t.Errorf("forwarded PRs %v, want [7 8]", prs)
	}
	contains(t, "log", buf.String(), `"reconcile_message_id"`)
}

func TestIntakeOutcomes(t *testing.T) {
	ps := newPstest(t, true)
	in := &worker.Intake{Publisher: ps.publisher(t), Decoder: ours()}
	tests := []struct {
		name string
		m    *events.Message
		want worker.Outcome
	}{
		{"invalid", &events.Message{ID: "1", Data: []byte(`{"owner":"octo-org"}`)}, worker.OutcomeInvalid},
		{"not for us", &events.Message{ID: "2", Data: []byte(`{"body":{"action":"closed"}}`),
			Attributes: map[string]string{"ce-type": events.DefaultTypePrefix + ".pull_request"}}, worker.OutcomeIgnored},
		{"request", request("3", 7, sha1, false), worker.OutcomeForwarded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := in.Handle(context.Background(), tt.m)
			if o != tt.want {
				t.Fatalf("Handle = %s (%v), want %s", o, err, tt.want)
			}
			if o == worker.OutcomeInvalid && !errors.Is(err, events.ErrInvalidMessage) {
				t.Errorf("invalid message error %v does not match events.ErrInvalidMessage", err)
			}
		})
	}
	// Only the valid request reached the reconcile topic.
	if got := ps.receive(t, 1); !strings.Contains(string(got[0].Data), `"deliveryId":"3"`) {
		t.Errorf("reconcile message %s, want the request with its delivery id", got[0].Data)
	}
	if _, err := (&worker.Intake{Decoder: ours()}).Handle(context.Background(), request("4", 7, sha1, false)); err == nil {
		t.Error("an Intake without a Publisher handled a message")
	}
	if _, err := (&worker.Intake{Publisher: ps.publisher(t)}).Handle(context.Background(), request("5", 7, sha1, false)); err == nil {
		t.Error("an Intake whose Decoder does not name our App handled a message")
	}
}

// TestIntakeResumesAKeyAfterAFailedPublish: the Go client refuses every publish of an
// ordering key after one failed, until ResumePublish; the intake must resume it, or the
// commit could never be published again by this instance.
func TestIntakeResumesAKeyAfterAFailedPublish(t *testing.T) {
	ps := newPstest(t, false) // no topic yet: the publish fails
	in := &worker.Intake{Publisher: ps.publisher(t), Decoder: ours(), PublishTimeout: 10 * time.Second}
	o, err := in.Handle(context.Background(), request("1", 7, sha1, false))
	if o != worker.OutcomeRetry || err == nil {
		t.Fatalf("Handle with no topic = %s, %v; want retry with an error", o, err)
	}
	contains(t, "error", err.Error(), "ordering key "+owner+"/"+repo+"@"+sha1)
	ps.createTopic(t)
	if o, err := in.Handle(context.Background(), request("1", 7, sha1, false)); o != worker.OutcomeForwarded {
		t.Fatalf("Handle once the topic exists = %s, %v; want forwarded", o, err)
	}
	ps.receive(t, 1)
}

func TestPushRoutes(t *testing.T) {
	e := newEnv(t, succeed)
	ps := newPstest(t, true)
	withIntake := httptest.NewServer(e.w.PushHandler(worker.PushOptions{Intake: e.w.Intake(ps.publisher(t))}))
	t.Cleanup(withIntake.Close)
	without := httptest.NewServer(e.w.PushHandler(worker.PushOptions{}))
	t.Cleanup(without.Close)

	wrapped := func(m *events.Message) []byte {
		return []byte(`{"message":{"data":"` + b64(m.Data) + `","messageId":"` + m.ID + `"},"subscription":"projects/p/subscriptions/s"}`)
	}
	tests := []struct {
		name   string
		srv    *httptest.Server
		method string
		path   string
		body   []byte
		want   int
	}{
		{"intake publishes", withIntake, "POST", "/intake", wrapped(request("10", 7, sha2, false)), http.StatusNoContent},
		{"intake refuses an invalid message", withIntake, "POST", "/intake", []byte(`{"message":{"data":"e30="}}`), http.StatusBadRequest},
		{"no intake stage here", without, "POST", "/intake", wrapped(request("11", 7, sha2, false)), http.StatusServiceUnavailable},
		{"reconcile", without, "POST", "/reconcile", wrapped(request("12", 7, sha1, false)), http.StatusNoContent},
		{"root is reconcile", without, "POST", "/", wrapped(request("13", 7, sha1, false)), http.StatusNoContent},
		{"unknown path", without, "POST", "/push", wrapped(request("14", 7, sha1, false)), http.StatusNotFound},
		{"health", withIntake, "GET", "/healthz", nil, http.StatusOK},
		{"health, HEAD", withIntake, "HEAD", "/healthz", nil, http.StatusOK},
		{"a push to the health path does no work", withIntake, "POST", "/healthz", wrapped(request("15", 7, sha2, false)), http.StatusMethodNotAllowed},
		{"GET of the reconcile path", without, "GET", "/reconcile", nil, http.StatusMethodNotAllowed},
		{"GET of the root", without, "GET", "/", nil, http.StatusMethodNotAllowed},
		{"PUT of the intake path", withIntake, "PUT", "/intake", wrapped(request("16", 7, sha2, false)), http.StatusMethodNotAllowed},
		{"unknown path, GET", without, "GET", "/metrics", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.srv.URL+tt.path, bytes.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
			if want := map[string]string{"/healthz": "GET, HEAD"}[tt.path]; tt.want == http.StatusMethodNotAllowed {
				if want == "" {
					want = "POST"
				}
				if got := resp.Header.Get("Allow"); got != want {
					t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, want)
				}
			}
		})
	}
	if got := ps.receive(t, 1); !strings.Contains(string(got[0].Data), sha2) {
		t.Errorf("intake published %s, want the request for %s", got[0].Data, sha2)
	}
	if rs := e.runs(sha2); len(rs) != 0 {
		t.Errorf("the intake stage (or a push to /healthz) wrote %d check runs", len(rs))
	}
}

// TestDeadlineAnswersBeforeTheAckDeadline: a reconciler that never returns and a GitHub
// that answers too slowly to help must not keep a message past its ack deadline.
func TestDeadlineAnswersBeforeTheAckDeadline(t *testing.T) {
	const ack = 4 * time.Second
	tests := []struct {
		name    string
		latency time.Duration
		want    worker.Outcome
	}{
		{"reconciler uses it all", 0, worker.OutcomeRetry},
		{"reconciler and GitHub use it all", 700 * time.Millisecond, worker.OutcomeRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(ctx context.Context, _ *events.Request, _ *github.Client) (*worker.Result[notes], error) {
				<-ctx.Done()
				return nil, ctx.Err()
			})
			e.w.AckDeadline = ack
			e.w.GitHubTimeout = 800 * time.Millisecond
			e.w.Timeout = 1500 * time.Millisecond // fits: 1.5 s + 2 × 0.8 s + 0.8 s margin < 4 s
			if err := e.w.Validate(); err != nil {
				t.Fatal(err)
			}
			e.gh.SetLatency(tt.latency)
			start := time.Now()
			o, err := e.w.Handle(context.Background(), request("1", 7, sha1, false))
			took := time.Since(start)
			if o != tt.want {
				t.Fatalf("Handle = %s (%v), want %s", o, err, tt.want)
			}
			if took >= ack {
				t.Fatalf("answered after %s, past the ack deadline %s", took, ack)
			}
			t.Logf("answered %s after %s (ack deadline %s): %v", o, took.Round(time.Millisecond), ack, err)
			if tt.latency == 0 {
				rs := e.runs(sha1)
				if len(rs) != 1 || rs[0].Status != "in_progress" || !strings.Contains(rs[0].Title, "will retry") {
					t.Errorf("runs %+v, want one in progress saying it will retry", rs)
				}
			}
		})
	}
}

func TestValidateRefusesWhatCannotFit(t *testing.T) {
	e := newEnv(t, succeed)
	tests := []struct {
		name    string
		set     func(w *worker.Worker[notes])
		wantErr string
	}{
		{"defaults", func(*worker.Worker[notes]) {}, ""},
		{"timeout too long", func(w *worker.Worker[notes]) { w.Timeout = 8 * time.Minute }, "do not fit in AckDeadline 10m0s"},
		{"short ack deadline", func(w *worker.Worker[notes]) { w.AckDeadline = time.Minute }, "do not fit"},
		{"no reconciler", func(w *worker.Worker[notes]) { w.Reconcile = nil }, "Reconcile func is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &worker.Worker[notes]{Manager: e.w.Manager, Clients: e.w.Clients, Reconcile: e.w.Reconcile, Timeout: e.w.Timeout}
			tt.set(w)
			err := w.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
			if err := w.ServeListener(context.Background(), mustListen(t), worker.PushOptions{}); err == nil {
				t.Fatal("ServeListener started a misconfigured worker")
			}
		})
	}
}

func mustListen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
