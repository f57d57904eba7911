package cloudlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/logging"
	logpb "cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/api/option"
	mrpb "google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Defaults of Options.
const (
	// DefaultLogID is the log the API writes to: projects/PROJECT/logs/prreconciler.
	DefaultLogID = "prreconciler"
	// DefaultNamespace is the namespace label of the generic_task resource.
	DefaultNamespace = "prreconciler"
	// DefaultJob is the job label of the generic_task resource when Options.Job is empty.
	DefaultJob = "worker"
	// DefaultMaxBufferedEntries bounds the entries accepted and not yet written.
	DefaultMaxBufferedEntries = 5000
	// DefaultBufferedByteLimit bounds the bytes the client buffers.
	DefaultBufferedByteLimit = 64 << 20
	// DefaultWriteTimeout bounds one write of a batch of entries, its retries included.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultReportInterval is how often dropped entries are reported while running.
	DefaultReportInterval = time.Minute
	// DefaultFlushTimeout is the flush budget at shutdown that cmd/worker gives Close, after the
	// in-flight work's SHUTDOWN_GRACE (8 s + 2 s fit Cloud Run's 10 s between SIGTERM and SIGKILL).
	DefaultFlushTimeout = 2 * time.Second
)

// Options configure New. Only Stdout is required.
type Options struct {
	// Destination is where records go; "" is Auto.
	Destination Destination
	// Project is the configured project (GOOGLE_CLOUD_PROJECT); "" to take the credentials' one.
	Project string
	// Stdout receives the JSON lines when the destination is Stdout; with the API it receives
	// the records written after Close and the reports of dropped entries.
	Stdout io.Writer
	// Handler holds the slog options (level, source, ReplaceAttr), the same for both destinations.
	Handler *slog.HandlerOptions
	// Env is where the destination and the monitored resource are looked up; OSEnv(nil) when
	// its Getenv is nil.
	Env Env

	// LogID names the API's log (DefaultLogID when empty).
	LogID string
	// Namespace, Job and TaskID are the generic_task resource's labels off Cloud Run
	// (DefaultNamespace, DefaultJob, and host-pid when empty).
	Namespace, Job, TaskID string
	// Location is the resource's location: empty for the Cloud Run region or the Compute
	// Engine zone from the metadata server, else "global".
	Location string
	// ClientOptions are passed to logging.NewClient (an endpoint and credentials, say). They
	// should not replace the gRPC connection (option.WithGRPCConn): the count of written and
	// dropped entries rests on a dial option of this package.
	ClientOptions []option.ClientOption

	// MaxBufferedEntries bounds the entries accepted and not yet written: beyond it records are
	// dropped, and counted (DefaultMaxBufferedEntries when 0).
	MaxBufferedEntries int
	// BufferedByteLimit bounds the client's buffer (DefaultBufferedByteLimit when 0).
	BufferedByteLimit int
	// WriteTimeout bounds one write to the API, retries included (DefaultWriteTimeout when 0).
	WriteTimeout time.Duration
	// DelayThreshold is how long an entry may wait for a batch (the client's default when 0).
	DelayThreshold time.Duration
	// ReportInterval is how often dropped entries are reported (DefaultReportInterval when 0).
	ReportInterval time.Duration
}

// Logging is the process's log destination: a slog handler writing either stdout JSON or
// Cloud Logging API entries, the same records with the same severities and labels, and for
// the API the client to flush at shutdown.
//
// With the API, a record is encoded in the caller's goroutine and handed to a bounded buffer;
// a background goroutine passes it to the client, which batches and writes in the background.
// A record that finds the buffer full, or that a failed write loses, is dropped and counted;
// the count is reported (a WARNING record on Stdout and through the API) every ReportInterval
// and at Close. Logging therefore never blocks nor fails the caller, whatever the API does.
type Logging struct {
	choice   Choice
	handler  slog.Handler
	stdout   slog.Handler // the Stdout handler: the destination, or where reports go
	logName  string
	resource *mrpb.MonitoredResource

	api         *apiSink // nil for Stdout
	reportEvery time.Duration
	stopReports chan struct{}
	reportsDone chan struct{}
	reportMu    sync.Mutex
	reported    int64 // dropped entries already reported
	closeOnce   sync.Once
	closeErr    error
}

// New picks the destination (see Choose) and returns the Logging writing there. The choice is
// reported once, in a record of the new handler: at INFO, or at WARNING when Auto fell back to
// stdout. With Auto, a Cloud Logging client that cannot be made also falls back to stdout; with
// API it is an error.
func New(ctx context.Context, o Options) (*Logging, error) {
	if o.Stdout == nil {
		return nil, errors.New("cloudlog: Options.Stdout is nil")
	}
	if o.Env.Getenv == nil {
		o.Env = OSEnv(nil)
	}
	choice, err := Choose(ctx, o.Destination, o.Project, o.Env)
	if err != nil {
		return nil, err
	}
	l := &Logging{choice: choice, stdout: NewHandler(o.Stdout, o.Handler)}
	if choice.Destination == API {
		err := l.startAPI(ctx, o)
		if err != nil && o.Destination == API {
			return nil, err
		}
		if err != nil {
			l.choice = Choice{Destination: Stdout, Fallback: true,
				Reason: fmt.Sprintf("no Cloud Logging client (%v)", err)}
		}
	}
	if l.api == nil {
		l.handler = l.stdout
		lvl := slog.LevelInfo
		if l.choice.Fallback {
			lvl = slog.LevelWarn
		}
		slog.New(l.handler).Log(ctx, lvl, "logs written to stdout", "log_destination", string(l.choice.Destination), "reason", l.choice.Reason)
		return l, nil
	}
	slog.New(l.handler).Info("logs written through the Cloud Logging API", "log_destination", string(l.choice.Destination),
		"reason", l.choice.Reason, "log_name", l.logName, "resource_type", l.resource.GetType(), "resource_labels", l.resource.GetLabels())
	return l, nil
}

// Handler returns the slog handler writing to the destination.
func (l *Logging) Handler() slog.Handler { return l.handler }

// Choice returns the destination in use and why.
func (l *Logging) Choice() Choice { return l.choice }

// LogName returns the full log name the API writes to, "" for Stdout.
func (l *Logging) LogName() string { return l.logName }

// Resource returns the monitored resource of the API's entries, nil for Stdout.
func (l *Logging) Resource() *mrpb.MonitoredResource { return l.resource }

// Dropped returns how many records the API lost so far: refused by the full buffer, or in a
// write that failed, or (after Close) still unwritten when the flush ran out of time. 0 for Stdout.
func (l *Logging) Dropped() int64 {
	if l.api == nil {
		return 0
	}
	return l.api.dropped()
}

// Close flushes the API's buffered entries within ctx, reports the dropped ones on Stdout, and
// closes the client; records written afterwards go to Stdout. When ctx ends first, the writes
// still pending are abandoned and counted as dropped. Close returns the client's errors, if
// any, for the record; the drops are already reported. Nothing to do for Stdout.
func (l *Logging) Close(ctx context.Context) error {
	if l.api == nil {
		return nil
	}
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

func (l *Logging) close(ctx context.Context) error {
	s := l.api
	close(l.stopReports)
	<-l.reportsDone
	l.report(ctx, true) // through the API too, while it may still be written
	s.closed.Store(true)
	close(s.stop)
	<-s.drained

	done := make(chan error, 1)
	go func() { done <- s.client.Close() }() // flushes every buffered entry
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		s.cancel() // the pending writes fail at once
		select {
		case err = <-done:
		case <-time.After(time.Second):
		}
		err = errors.Join(fmt.Errorf("flush: %w", context.Cause(ctx)), err)
	}
	s.settleRest()
	l.report(ctx, false)
	if err != nil {
		return fmt.Errorf("cloudlog: close: %w", err)
	}
	return nil
}

// report writes a WARNING record about the entries dropped since the last report, if any: on
// Stdout, and through the API when toAPI and the API works.
func (l *Logging) report(ctx context.Context, toAPI bool) {
	l.reportMu.Lock()
	defer l.reportMu.Unlock()
	d := l.api.dropped()
	if d <= l.reported {
		return
	}
	attrs := []slog.Attr{slog.Int64("dropped", d), slog.Int64("dropped_since_last_report", d-l.reported),
		slog.Int64("written", l.api.written.Load()), slog.String("log_name", l.logName)}
	if err := l.api.lastError(); err != nil {
		attrs = append(attrs, slog.String("last_error", err.Error()))
	}
	l.reported = d
	const msg = "cloud logging dropped entries"
	slog.New(l.stdout).LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	// Through the API only while its last write succeeded: a report during an outage would
	// only be dropped, and itself be reported next time.
	if toAPI && !l.api.lastWriteFailed.Load() {
		slog.New(l.handler).LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	}
}

func (l *Logging) reportLoop() {
	defer close(l.reportsDone)
	t := time.NewTicker(l.reportEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stopReports:
			return
		case <-t.C:
			l.report(context.Background(), true)
		}
	}
}

// startAPI makes the client, the logger and the handler writing through them.
func (l *Logging) startAPI(ctx context.Context, o Options) error {
	logID := o.LogID
	if logID == "" {
		logID = DefaultLogID
	}
	maxEntries := o.MaxBufferedEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxBufferedEntries
	}
	byteLimit := o.BufferedByteLimit
	if byteLimit <= 0 {
		byteLimit = DefaultBufferedByteLimit
	}
	writeTimeout := o.WriteTimeout
	if writeTimeout <= 0 {
		writeTimeout = DefaultWriteTimeout
	}
	l.reportEvery = o.ReportInterval
	if l.reportEvery <= 0 {
		l.reportEvery = DefaultReportInterval
	}
	project := l.choice.Project
	l.resource = o.resource(ctx, project)
	l.logName = "projects/" + project + "/logs/" + logID

	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &apiSink{
		fallback:     l.stdout.(*handler).out,
		queue:        make(chan logging.Entry, maxEntries),
		max:          int64(maxEntries),
		base:         base,
		cancel:       cancel,
		writeTimeout: writeTimeout,
		stop:         make(chan struct{}),
		drained:      make(chan struct{}),
	}
	copts := append([]option.ClientOption{
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(s.intercept)),
	}, o.ClientOptions...)
	client, err := logging.NewClient(ctx, project, copts...)
	if err != nil {
		cancel()
		return fmt.Errorf("cloudlog: logging client: %w", err)
	}
	client.OnError = s.onError // before any other use of the client
	lopts := []logging.LoggerOption{
		logging.CommonResource(l.resource),
		logging.BufferedByteLimit(byteLimit),
		logging.PartialSuccess(),
		logging.ContextFunc(s.writeContext),
	}
	if o.DelayThreshold > 0 {
		lopts = append(lopts, logging.DelayThreshold(o.DelayThreshold))
	}
	s.client = client
	s.logger = client.Logger(logID, lopts...)
	l.api = s
	l.handler = &handler{opts: l.stdout.(*handler).opts, out: s}
	l.stopReports = make(chan struct{})
	l.reportsDone = make(chan struct{})
	go s.drain()
	go l.reportLoop()
	return nil
}

// resource returns the monitored resource of the API's entries: the Cloud Run revision (or
// job) on Cloud Run, so the details link's resource terms match what stdout would have
// written there; a generic_task elsewhere.
func (o Options) resource(ctx context.Context, project string) *mrpb.MonitoredResource {
	env := o.Env
	region := func() string {
		if o.Location != "" {
			return o.Location
		}
		return lastSegment(env.metadata(ctx, "instance/region"))
	}
	if svc := env.getenv("K_SERVICE"); svc != "" {
		return &mrpb.MonitoredResource{Type: "cloud_run_revision", Labels: map[string]string{
			"project_id": project, "location": region(), "service_name": svc,
			"revision_name": env.getenv("K_REVISION"), "configuration_name": env.getenv("K_CONFIGURATION"),
		}}
	}
	if job := env.getenv("CLOUD_RUN_JOB"); job != "" {
		return &mrpb.MonitoredResource{Type: "cloud_run_job", Labels: map[string]string{
			"project_id": project, "location": region(), "job_name": job,
		}}
	}
	loc := o.Location
	if loc == "" && env.onGCE() {
		loc = lastSegment(env.metadata(ctx, "instance/zone"))
	}
	if loc == "" {
		loc = "global"
	}
	ns, job, task := o.Namespace, o.Job, o.TaskID
	if ns == "" {
		ns = DefaultNamespace
	}
	if job == "" {
		job = DefaultJob
	}
	if task == "" {
		host := "localhost"
		if env.Hostname != nil {
			if h, err := env.Hostname(); err == nil && h != "" {
				host = h
			}
		}
		task = host + "-" + strconv.Itoa(os.Getpid())
	}
	return &mrpb.MonitoredResource{Type: "generic_task", Labels: map[string]string{
		"project_id": project, "location": loc, "namespace": ns, "job": job, "task_id": task,
	}}
}

// apiSink hands entries to the Cloud Logging client without ever waiting on it, and accounts
// for every entry: accepted = written + failed + rejected + still buffered.
type apiSink struct {
	client       *logging.Client
	logger       *logging.Logger
	fallback     sink // after Close
	queue        chan logging.Entry
	max          int64
	base         context.Context // of every write; cancelled when the flush runs out of time
	cancel       context.CancelFunc
	writeTimeout time.Duration
	stop         chan struct{}
	drained      chan struct{}
	closed       atomic.Bool

	inflight atomic.Int64 // accepted and not yet settled
	accepted atomic.Int64
	written  atomic.Int64 // in writes that succeeded
	failed   atomic.Int64 // in writes that failed
	refused  atomic.Int64 // the buffer was full
	rejected atomic.Int64 // the client refused them (its byte limit, an oversized entry)
	lost     atomic.Int64 // still unwritten at Close

	lastWriteFailed atomic.Bool
	blind           atomic.Bool // writes are not intercepted (a gRPC connection was given): no entry bound

	mu      sync.Mutex
	lastErr error
}

func (s *apiSink) dropped() int64 {
	return s.refused.Load() + s.failed.Load() + s.rejected.Load() + s.lost.Load()
}

func (s *apiSink) lastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *apiSink) setLastError(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// write converts e in the caller's goroutine (so later changes to its values cannot race) and
// queues it, or counts it as dropped when the buffer is full. It never blocks.
func (s *apiSink) write(e *entry) error {
	if s.closed.Load() {
		return s.fallback.write(e)
	}
	if s.inflight.Add(1) > s.max && !s.blind.Load() {
		s.inflight.Add(-1)
		s.refused.Add(1)
		return nil
	}
	select {
	case s.queue <- toLogEntry(e):
		s.accepted.Add(1)
	default:
		s.inflight.Add(-1)
		s.refused.Add(1)
	}
	return nil
}

// toLogEntry is the LogEntry the logging agent would make of e's JSON line: the time,
// severity, labels and source location as entry fields, the message and the other fields as
// the jsonPayload.
func toLogEntry(e *entry) logging.Entry {
	le := logging.Entry{Severity: logging.Default}
	if e.hasTime && e.timeVal == nil {
		le.Timestamp = e.time
	} else {
		le.Timestamp = time.Now() // what the agent would use: the time it read the line
	}
	if e.hasSev {
		le.Severity = logging.ParseSeverity(e.severity)
	}
	if len(e.labels) > 0 {
		le.Labels = make(map[string]string, len(e.labels))
		for _, l := range e.labels {
			le.Labels[l.key] = l.value
		}
	}
	if e.source != nil {
		le.SourceLocation = &logpb.LogEntrySourceLocation{File: e.source.File, Line: int64(e.source.Line), Function: e.source.Function}
	}
	p := &object{}
	if e.hasMsg {
		p.set(MessageKey, e.message)
	}
	if e.timeVal != nil {
		p.set(TimeKey, e.timeVal)
	}
	if e.sourceVal != nil {
		p.set(SourceLocationKey, e.sourceVal)
	}
	for i, k := range e.fields.keys {
		p.set(k, e.fields.vals[i])
	}
	var b bytes.Buffer
	writeJSON(&b, p)
	le.Payload = json.RawMessage(b.Bytes())
	return le
}

// drain passes the queued entries to the client (whose Log only buffers) until stop, then
// passes what is left.
func (s *apiSink) drain() {
	defer close(s.drained)
	for {
		select {
		case e := <-s.queue:
			s.logger.Log(e)
		case <-s.stop:
			for {
				select {
				case e := <-s.queue:
					s.logger.Log(e)
				default:
					return
				}
			}
		}
	}
}

// onError receives the client's errors: a refused entry is settled here; a failed write is
// settled by writeContext's afterCall, and only remembered here.
func (s *apiSink) onError(err error) {
	if errors.Is(err, logging.ErrOverflow) || errors.Is(err, logging.ErrOversizedEntry) {
		s.rejected.Add(1)
		s.inflight.Add(-1)
	}
	s.setLastError(err)
}

type writeKey struct{}

// writeResult is what intercept saw of the last attempt of one write.
type writeResult struct {
	mu      sync.Mutex
	seen    bool
	entries int
	failed  int
	err     error
}

// writeContext is the client's ContextFunc: every write gets WriteTimeout (under base), and
// when it is over, its entries are settled as written or failed.
func (s *apiSink) writeContext() (context.Context, func()) {
	ctx, cancel := context.WithTimeout(s.base, s.writeTimeout)
	r := &writeResult{}
	ctx = context.WithValue(ctx, writeKey{}, r)
	return ctx, func() {
		cancel()
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.seen {
			// The client wrote without our interceptor (ClientOptions replaced the connection):
			// the entries cannot be settled, so only the client's byte limit bounds the buffer.
			s.blind.Store(true)
			return
		}
		if r.err != nil {
			s.setLastError(r.err)
		}
		if r.entries > 0 {
			s.lastWriteFailed.Store(r.err != nil)
		}
		s.failed.Add(int64(r.failed))
		s.written.Add(int64(r.entries - r.failed))
		s.inflight.Add(-int64(r.entries))
	}
}

// intercept records, for writeContext, how many of our entries each WriteLogEntries attempt
// carried and how many of them failed (all of them, or those a partial success names).
func (s *apiSink) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	r, ok := ctx.Value(writeKey{}).(*writeResult)
	wr, isWrite := req.(*logpb.WriteLogEntriesRequest)
	if !ok || !isWrite {
		return err
	}
	n := 0
	for _, e := range wr.GetEntries() {
		if e.GetLogName() == "" { // not the client's own diagnostic entry
			n++
		}
	}
	failed := 0
	if err != nil {
		failed = n
		if st, ok := status.FromError(err); ok {
			for _, d := range st.Details() {
				if pe, ok := d.(*logpb.WriteLogEntriesPartialErrors); ok && len(pe.GetLogEntryErrors()) < n {
					failed = len(pe.GetLogEntryErrors())
				}
			}
		}
	}
	r.mu.Lock()
	r.seen, r.entries, r.failed, r.err = true, n, failed, err
	r.mu.Unlock()
	return err
}

// settleRest counts what was accepted and never settled (the flush ran out of time) as lost.
func (s *apiSink) settleRest() {
	rest := s.accepted.Load() - s.written.Load() - s.failed.Load() - s.rejected.Load() - s.lost.Load()
	if rest > 0 {
		s.lost.Add(rest)
	}
}
