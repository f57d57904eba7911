package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/idtoken"

	"github.com/prreconciler/prreconciler/events"
	"github.com/prreconciler/prreconciler/statusmanager"
)

// DefaultMaxBodyBytes is the push body limit. A 10 MB Pub/Sub message grows by a third in
// base64 inside the JSON envelope.
const DefaultMaxBodyBytes = 15 << 20

// DefaultShutdownGrace is how long Serve and Pull let in-flight work finish at shutdown when
// no grace is configured.
const DefaultShutdownGrace = 8 * time.Second

// PushOptions configures the push endpoint.
type PushOptions struct {
	// Audience, when set, makes the endpoint verify the push's OIDC token (Authorization:
	// Bearer) for this audience, and answer 401 when it does not pass. Leave it empty
	// behind Cloud Run's own IAM check, which strips the token's signature.
	Audience string
	// ServiceAccounts are the verified emails a token may carry. With Audience at least one is
	// required, because anyone can get a Google-signed token for any audience. Several allow a
	// rotation.
	ServiceAccounts []string
	// Validator verifies tokens. nil means idtoken.Validate. Tests set their own.
	Validator Validator
	// MaxInFlight, when positive, bounds the pushes handled at once. A push beyond it waits
	// for a slot rather than get 429, because every nack uses up one of the message's
	// delivery attempts, and a burst must not push messages to the dead-letter topic
	// unreconciled.
	MaxInFlight int
	// MaxBodyBytes bounds the request body. 0 means DefaultMaxBodyBytes. A larger body gets
	// 413.
	MaxBodyBytes int64
	// ShutdownGrace is how long Serve lets in-flight requests finish after its context is
	// cancelled. 0 means DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// Intake, when set, is the intake stage that serves POST /intake. It publishes each
	// request to the ordered reconcile topic.
	Intake *Intake
}

// pushEnvelope is the wrapped push body. Pub/Sub sends both spellings of the id and time.
type pushEnvelope struct {
	Message *struct {
		Data         []byte            `json:"data"`
		Attributes   map[string]string `json:"attributes"`
		MessageID    string            `json:"messageId"`
		MessageID2   string            `json:"message_id"`
		PublishTime  string            `json:"publishTime"`
		PublishTime2 string            `json:"publish_time"`
		OrderingKey  string            `json:"orderingKey"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt"`
}

// The headers that carry a message's metadata in an unwrapped push with write_metadata.
const (
	// HeaderMessageID carries the message id. Its presence marks an unwrapped push with
	// metadata.
	HeaderMessageID = "X-Goog-Pubsub-Message-Id"
	// HeaderPublishTime carries the publish time (RFC 3339).
	HeaderPublishTime = "X-Goog-Pubsub-Publish-Time"
	// HeaderDeliveryAttempt carries the delivery attempt. Pub/Sub does not document it, and
	// it is used only when present.
	HeaderDeliveryAttempt = "X-Goog-Pubsub-Delivery-Attempt"
	// HeaderOrderingKey carries the ordering key. The emulator does not send it.
	HeaderOrderingKey = "X-Goog-Pubsub-Ordering-Key"
)

// transportHeaders are headers of HTTP and of Google's front ends, never message attributes.
var transportHeaders = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true, "Authorization": true,
	"Connection": true, "Content-Length": true, "Content-Type": true, "Cookie": true,
	"Forwarded": true, "From": true, "Host": true, "Keep-Alive": true, "Proxy-Authorization": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "User-Agent": true,
	"Via": true, "Traceparent": true, "Tracestate": true, "Grpc-Trace-Bin": true,
	"X-Cloud-Trace-Context": true, "Expect": true,
}

func isTransportHeader(name string) bool {
	return transportHeaders[name] || strings.HasPrefix(name, "X-Forwarded-") ||
		strings.HasPrefix(name, "X-Goog-") || strings.HasPrefix(name, "X-Google-") ||
		strings.HasPrefix(name, "X-Appengine-") || strings.HasPrefix(name, "X-Serverless-")
}

// ParsePush turns a push request's body and headers into a message. It accepts three forms:
//
//   - The wrapped envelope, Pub/Sub's default: a JSON object with a "message" (data in
//     base64, attributes, messageId or message_id, publishTime, orderingKey) and a
//     top-level deliveryAttempt.
//   - An unwrapped push with write_metadata: the body is the data. The id, publish time and
//     ordering key come from the headers HeaderMessageID, HeaderPublishTime and
//     HeaderOrderingKey, and the attempt from HeaderDeliveryAttempt if Pub/Sub ever sends
//     it. Every other header is an attribute, named by the header's lower-cased name. The
//     headers of HTTP and of Google's front ends are dropped, such as Authorization,
//     Content-Type, User-Agent, trace headers, X-Forwarded-*, X-Goog-*, X-Google-*,
//     X-Appengine-* and X-Serverless-*.
//   - An unwrapped push without metadata: the body is the data, with no id or attributes.
//
// A body meant as an envelope, a JSON object with "message", that does not parse as one is
// refused with an *events.InvalidMessageError that names the wrong field. The message
// returned with the error holds what could be read, such as its id. Any other body is left
// for the decoder to judge.
func ParsePush(h http.Header, body []byte) (*events.Message, error) {
	if h.Get(HeaderMessageID) != "" {
		m := &events.Message{ID: h.Get(HeaderMessageID), Data: body, Attributes: map[string]string{}}
		if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderPublishTime)); err == nil {
			m.PublishTime = t
		}
		if n, err := strconv.Atoi(h.Get(HeaderDeliveryAttempt)); err == nil && n > 0 {
			m.DeliveryAttempt = n
		}
		m.OrderingKey = h.Get(HeaderOrderingKey)
		for name, vs := range h {
			name = http.CanonicalHeaderKey(name)
			if len(vs) == 0 || isTransportHeader(name) {
				continue
			}
			m.Attributes[strings.ToLower(name)] = strings.Join(vs, ",")
		}
		return m, nil
	}
	var env pushEnvelope
	if json.Unmarshal(body, &env) == nil && env.Message != nil {
		msg := env.Message
		m := &events.Message{ID: msg.MessageID, Data: msg.Data, Attributes: msg.Attributes, DeliveryAttempt: env.DeliveryAttempt,
			OrderingKey: msg.OrderingKey}
		if m.ID == "" {
			m.ID = msg.MessageID2
		}
		pt := msg.PublishTime
		if pt == "" {
			pt = msg.PublishTime2
		}
		if t, err := time.Parse(time.RFC3339Nano, pt); err == nil {
			m.PublishTime = t
		}
		return m, nil
	}
	return notEnvelope(body)
}

// PushHandler returns the worker's push endpoints:
//
//   - POST /reconcile, or POST /, handles one pushed message with Handle.
//   - POST /intake handles one with opts.Intake, the intake stage. When opts.Intake is nil
//     it answers 503, so that a misrouted subscription loses nothing.
//   - GET or HEAD /healthz answers 200.
//
// A POST is answered 204 when the message may be acked. Otherwise the answer is a short
// reason with 400 (invalid), 401 (unauthenticated), 413 (too large) or 503 (retry), which
// Pub/Sub takes as a nack. Another method on these paths gets 405 with Allow,
// and other paths get 404. The work on a reconcile push ends at AckDeadline, less a
// margin, from its arrival.
//
// PushHandler panics, as http.Handle does with a nil handler, when the worker or
// opts.Intake is misconfigured (see Validate), or when opts.Audience is set without
// opts.ServiceAccounts. Serve and ServeListener return that error instead.
func (w *Worker[T]) PushHandler(opts PushOptions) http.Handler {
	if err := w.validatePush(opts); err != nil {
		panic(err)
	}
	reconcile := newPushEndpoint(w.logger(), opts, w.ackDeadline(), w.Handle, w.refuse)
	var intake http.Handler
	if opts.Intake != nil {
		iopts := opts
		iopts.MaxInFlight = 0 // intake only publishes: it never waits behind reconciles
		intake = newPushEndpoint(w.logger(), iopts, 0, opts.Intake.Handle, opts.Intake.refuse)
	} else {
		intake = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			w.logger().LogAttrs(r.Context(), slog.LevelError, "push to /intake refused: this worker serves no intake stage (RECONCILE_TOPIC is not set); nacked",
				label(statusmanager.LogLabelDeliveryID, r.Header.Get(HeaderMessageID)))
			reply(rw, http.StatusServiceUnavailable, "no intake stage here: set RECONCILE_TOPIC")
		})
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			healthz(rw, r)
		case "/intake", "/", "/reconcile":
			if r.Method != http.MethodPost {
				rw.Header().Set("Allow", "POST")
				reply(rw, http.StatusMethodNotAllowed, "POST a Pub/Sub push")
				return
			}
			if r.URL.Path == "/intake" {
				intake.ServeHTTP(rw, r)
			} else {
				reconcile.ServeHTTP(rw, r)
			}
		default:
			reply(rw, http.StatusNotFound, "not found: POST /intake, /reconcile or /, GET /healthz")
		}
	})
}

// validatePush reports what makes the push endpoints unable to work, or unsafe.
func (w *Worker[T]) validatePush(opts PushOptions) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if opts.Audience != "" && len(opts.ServiceAccounts) == 0 {
		return errors.New("worker: PushOptions.Audience without ServiceAccounts would accept a token of any Google identity; name the accounts that push")
	}
	if opts.Intake != nil {
		return opts.Intake.Validate()
	}
	return nil
}

// newPushEndpoint is the push endpoint of one stage. It checks the token, waits for an
// in-flight slot and limits the body. It answers with handle's outcome, or with refuse's
// when ParsePush refuses the body. deadline, when positive, bounds the handling from the
// push's arrival, less a margin.
func newPushEndpoint(log *slog.Logger, opts PushOptions, deadline time.Duration, handle func(context.Context, *events.Message) (Outcome, error),
	refuse func(context.Context, *events.Message, error) (Outcome, error)) http.Handler {
	validate := opts.Validator
	if validate == nil {
		validate = idtoken.Validate
	}
	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	var slots chan struct{}
	if opts.MaxInFlight > 0 {
		slots = make(chan struct{}, opts.MaxInFlight)
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if deadline > 0 {
			// Pub/Sub's ack deadline runs from the push, not from when a slot frees up.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, messageDeadline(time.Now(), deadline))
			defer cancel()
		}
		if opts.Audience != "" {
			if err := checkToken(r, validate, opts.Audience, opts.ServiceAccounts); err != nil {
				log.LogAttrs(ctx, slog.LevelWarn, "push refused: "+err.Error())
				reply(rw, http.StatusUnauthorized, "unauthorized")
				return
			}
		}
		if slots != nil {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				reply(rw, http.StatusServiceUnavailable, "gave up waiting for a free slot")
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				log.LogAttrs(ctx, slog.LevelError, "push refused: body too large",
					label(statusmanager.LogLabelDeliveryID, r.Header.Get(HeaderMessageID)), slog.Int64("limit", maxBody))
				reply(rw, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
				return
			}
			reply(rw, http.StatusBadRequest, "could not read the body")
			return
		}
		var o Outcome
		if m, perr := ParsePush(r.Header, body); perr != nil {
			o, err = refuse(ctx, m, perr)
		} else {
			o, err = handle(ctx, m)
		}
		switch {
		case o.Ack():
			// 204, never 202: the emulator takes a 202 for a nack.
			rw.WriteHeader(http.StatusNoContent)
		case o == OutcomeInvalid:
			reply(rw, http.StatusBadRequest, string(o)+": "+errText(err))
		default:
			reply(rw, http.StatusServiceUnavailable, string(o)+": "+errText(err))
		}
	})
}

// healthz answers the health probe. It accepts GET and HEAD only, so that a push or a
// subscription pointed at it by mistake does no work.
func healthz(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		reply(rw, http.StatusMethodNotAllowed, "GET /healthz")
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(rw, "ok\n")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func reply(rw http.ResponseWriter, status int, msg string) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(status)
	io.WriteString(rw, msg+"\n")
}

var errShutdown = errors.New("worker: shutdown grace period over")

// Serve listens on addr and serves PushHandler(opts) until ctx is cancelled. It then stops
// accepting, and lets in-flight pushes finish for opts.ShutdownGrace. The ones still running
// after that are cancelled, and answered 503 (a nack) once they stop. Serve returns nil
// after a clean shutdown.
func (w *Worker[T]) Serve(ctx context.Context, addr string, opts PushOptions) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return w.ServeListener(ctx, l, opts)
}

// ServeListener is Serve on a listener of the caller's, and it closes l. It refuses to
// start when the worker or opts.Intake is misconfigured.
func (w *Worker[T]) ServeListener(ctx context.Context, l net.Listener, opts PushOptions) error {
	if err := w.validatePush(opts); err != nil {
		l.Close()
		return err
	}
	return serve(ctx, l, w.PushHandler(opts), opts.ShutdownGrace, w.logger())
}

// serve serves h on l until ctx is cancelled, then shuts down within grace (see Serve).
func serve(ctx context.Context, l net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	if grace <= 0 {
		grace = DefaultShutdownGrace
	}
	hard, hardCancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hardCancel(nil)
	srv := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return hard },
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down the push endpoint", "grace", grace)
	stop := time.AfterFunc(grace, func() { hardCancel(errShutdown) })
	defer stop.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), grace+10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
