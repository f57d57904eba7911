package cloudlog

import (
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
	"google.golang.org/protobuf/types/known/structpb"
)

// Defaults of Options.
const (
	// DefaultLogID is the log the API writes to: projects/PROJECT/logs/prreconciler.
	DefaultLogID = "prreconciler"
	// DefaultNamespace is the namespace label of the generic_task resource.
	DefaultNamespace = "prreconciler"
	// DefaultJob is the job label of the generic_task resource.
	DefaultJob = "worker"
	// DefaultBufferedByteLimit bounds the entries the client holds: a few thousand records.
	DefaultBufferedByteLimit = 8 << 20
	// DefaultWriteTimeout bounds one write of a batch of entries, its retries included.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultReportInterval is how often dropped entries are reported while running.
	DefaultReportInterval = time.Minute
	// DefaultFlushTimeout is the time to give Close at shutdown. With an 8s shutdown grace it
	// fits in Cloud Run's 10s between SIGTERM and SIGKILL.
	DefaultFlushTimeout = 2 * time.Second
)

// Options configure New. Only Stdout is required.
type Options struct {
	// Destination is where records go; "" is Auto.
	Destination Destination
	// Format is how records written to Stdout look; "" is Text on a terminal, else JSON.
	// With the API, what is written to Stdout is always JSON.
	Format Format
	// Project is the configured project (GOOGLE_CLOUD_PROJECT); "" takes the credentials' one.
	Project string
	// Stdout receives the records, or with the API the reports of dropped entries and the
	// records written after Close.
	Stdout io.Writer
	// Handler holds the slog options (level, source, ReplaceAttr) of both destinations.
	Handler *slog.HandlerOptions
	// Env is where the destination and the resource are looked up. OSEnv(nil) is used when
	// its Getenv is nil.
	Env Env

	// LogID names the API's log (DefaultLogID when empty).
	LogID string
	// Namespace, Job and TaskID are the generic_task resource's labels off Cloud Run
	// (DefaultNamespace, DefaultJob, and host-pid when empty).
	Namespace, Job, TaskID string
	// Location is the resource's location. When empty it is the Cloud Run region or the
	// Compute Engine zone from the metadata server, else "global".
	Location string
	// ClientOptions are passed to logging.NewClient. They must not replace the gRPC
	// connection, because written entries are counted by a dial option of this package.
	ClientOptions []option.ClientOption

	// BufferedByteLimit bounds the entries the client holds, in bytes. Records beyond it are
	// dropped and counted (DefaultBufferedByteLimit when 0).
	BufferedByteLimit int
	// WriteTimeout bounds one write to the API, retries included (DefaultWriteTimeout when 0).
	WriteTimeout time.Duration
	// DelayThreshold is how long an entry may wait for a batch (the client's default when 0).
	DelayThreshold time.Duration
	// ReportInterval is how often dropped entries are reported (DefaultReportInterval when 0).
	ReportInterval time.Duration
}

// Logging is the process's log destination: a slog handler writing to stdout or through the
// Cloud Logging API, and for the API the client to flush at shutdown.
//
// With the API, logging never blocks or fails the caller. The client buffers entries up to
// Options.BufferedByteLimit and writes them in batches. An entry it refuses, or that a failed
// write loses, is dropped and counted. The count is reported on stdout, and through the API
// while it works, every ReportInterval and at Close.
type Logging struct {
	choice   Choice
	handler  slog.Handler
	stdout   slog.Handler // JSON on Stdout: where the API's reports go
	logName  string
	resource *mrpb.MonitoredResource

	api         *apiWriter // nil for Stdout
	reportEvery time.Duration
	stopReports chan struct{}
	reportsDone chan struct{}
	reportMu    sync.Mutex
	reported    int64 // dropped entries already reported
	closeOnce   sync.Once
	closeErr    error
}

// New picks the destination with Choose and returns the Logging writing there. It logs the
// choice in one record, at WARNING when Auto fell back to stdout. With Auto, a Cloud Logging
// client that cannot be made falls back to stdout too; with API it is an error.
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
			l.choice = Choice{Destination: Stdout, Fallback: true, Reason: fmt.Sprintf("no Cloud Logging client (%v)", err)}
		}
	}
	if l.api != nil {
		slog.New(l.handler).Info("logs written through the Cloud Logging API", "log_destination", string(l.choice.Destination),
			"reason", l.choice.Reason, "log_name", l.logName, "resource_type", l.resource.GetType(), "resource_labels", l.resource.GetLabels())
		return l, nil
	}
	l.handler = l.stdout
	if o.Format == Text || (o.Format == "" && isTerminal(o.Stdout)) {
		l.handler = NewTextHandler(o.Stdout, o.Handler)
	}
	lvl := slog.LevelInfo
	if l.choice.Fallback {
		lvl = slog.LevelWarn
	}
	slog.New(l.handler).Log(ctx, lvl, "logs written to stdout", "log_destination", string(l.choice.Destination), "reason", l.choice.Reason)
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

// Dropped returns how many records the API lost so far: refused by the client's full buffer,
// lost in a failed write, or not written by Close. It is 0 for Stdout.
func (l *Logging) Dropped() int64 {
	if l.api == nil {
		return 0
	}
	return l.api.dropped()
}

// Close flushes the API's entries within ctx, reports the dropped ones on stdout and closes
// the client. Records written afterwards go to stdout. Writes still pending when ctx ends are
// abandoned and counted as dropped. Close returns the client's errors. For Stdout it does
// nothing.
func (l *Logging) Close(ctx context.Context) error {
	if l.api == nil {
		return nil
	}
	l.closeOnce.Do(func() { l.closeErr = l.close(ctx) })
	return l.closeErr
}

func (l *Logging) close(ctx context.Context) error {
	a := l.api
	close(l.stopReports)
	<-l.reportsDone
	l.report(ctx, true) // through the API too, while it may still be written
	a.mu.Lock()
	a.closed = true // no Log after the client's Close, which would send on its closed error channel
	a.mu.Unlock()

	done := make(chan error, 1)
	go func() { done <- a.client.Close() }() // flushes every buffered entry
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		a.cancel() // the pending writes fail at once
		select {
		case err = <-done:
		case <-time.After(time.Second):
		}
		err = errors.Join(fmt.Errorf("flush: %w", context.Cause(ctx)), err)
	}
	a.final.Store(a.accepted.Load() - a.written.Load())
	a.settled.Store(true)
	l.report(ctx, false)
	if err != nil {
		return fmt.Errorf("cloudlog: close: %w", err)
	}
	return nil
}

// report writes a WARNING record about the entries dropped since the last report, if any. It
// goes to stdout, and through the API when toAPI and the last write succeeded: during an
// outage it would only be dropped in turn.
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

// startAPI makes the client, its logger and the handler writing through them.
func (l *Logging) startAPI(ctx context.Context, o Options) error {
	logID := orDefault(o.LogID, DefaultLogID)
	writeTimeout := orDefault(o.WriteTimeout, DefaultWriteTimeout)
	l.reportEvery = orDefault(o.ReportInterval, DefaultReportInterval)
	project := l.choice.Project
	l.resource = o.resource(ctx, project)
	l.logName = "projects/" + project + "/logs/" + logID

	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &apiWriter{fallback: o.Stdout, cancel: cancel}
	copts := append([]option.ClientOption{
		option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(a.intercept)),
	}, o.ClientOptions...)
	client, err := logging.NewClient(ctx, project, copts...)
	if err != nil {
		cancel()
		return fmt.Errorf("cloudlog: logging client: %w", err)
	}
	client.OnError = a.onError // before any other use of the client
	lopts := []logging.LoggerOption{
		logging.CommonResource(l.resource),
		logging.BufferedByteLimit(orDefault(o.BufferedByteLimit, DefaultBufferedByteLimit)),
		logging.PartialSuccess(),
		logging.ContextFunc(func() (context.Context, func()) { return a.writeContext(base, writeTimeout) }),
	}
	if o.DelayThreshold > 0 {
		lopts = append(lopts, logging.DelayThreshold(o.DelayThreshold))
	}
	a.client = client
	a.logger = client.Logger(logID, lopts...)
	l.api = a
	l.handler = NewHandler(a, o.Handler)
	l.stopReports = make(chan struct{})
	l.reportsDone = make(chan struct{})
	go l.reportLoop()
	return nil
}

// orDefault returns v, or def when v is not positive.
func orDefault[T int | time.Duration | string](v, def T) T {
	var zero T
	if v <= zero {
		return def
	}
	return v
}

// resource returns the monitored resource of the API's entries. On Cloud Run it is the
// revision or job, as the platform records stdout there; elsewhere a generic_task.
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
	task := o.TaskID
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
		"project_id": project, "location": orDefault(loc, "global"), "namespace": orDefault(o.Namespace, DefaultNamespace),
		"job": orDefault(o.Job, DefaultJob), "task_id": task,
	}}
}

// apiWriter receives the JSON lines of NewHandler and logs each as the entry the logging agent
// would make of it. It counts what it hands to the client and what the client writes, to
// report what was lost.
type apiWriter struct {
	client   *logging.Client
	logger   *logging.Logger
	fallback io.Writer // stdout, after Close
	cancel   context.CancelFunc

	mu     sync.RWMutex // held for reading around each Log
	closed bool

	accepted atomic.Int64 // handed to the client
	written  atomic.Int64 // in writes that succeeded
	failed   atomic.Int64 // in writes that failed
	rejected atomic.Int64 // refused by the client (its byte limit, an oversized entry)
	final    atomic.Int64 // accepted and never written, once settled
	settled  atomic.Bool  // set by Close

	lastWriteFailed atomic.Bool
	errMu           sync.Mutex
	lastErr         error
}

// dropped counts the entries lost so far. Until Close it relies on the client's error
// callback, which may miss errors in a burst. After Close the count is exact.
func (a *apiWriter) dropped() int64 {
	if a.settled.Load() {
		return a.final.Load()
	}
	return a.failed.Load() + a.rejected.Load()
}

func (a *apiWriter) lastError() error {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	return a.lastErr
}

func (a *apiWriter) setLastError(err error) {
	a.errMu.Lock()
	a.lastErr = err
	a.errMu.Unlock()
}

// Write logs one JSON line of NewHandler. The time, severity, labels and source location become
// entry fields, as the logging agent makes them, and the rest the jsonPayload. It never
// blocks. A lost entry is counted, not returned as an error.
func (a *apiWriter) Write(line []byte) (int, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return a.fallback.Write(line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return 0, fmt.Errorf("cloudlog: %w", err)
	}
	e := logging.Entry{Timestamp: time.Now(), Severity: logging.Default} // the agent's time when the line has none
	if s, ok := m[TimeKey].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			e.Timestamp = t
			delete(m, TimeKey)
		}
	}
	if s, ok := m[SeverityKey].(string); ok {
		e.Severity = logging.ParseSeverity(s)
		delete(m, SeverityKey)
	}
	if labels, ok := m[LabelsKey].(map[string]any); ok {
		e.Labels = make(map[string]string, len(labels))
		for k, v := range labels {
			e.Labels[k] = fmt.Sprint(v)
		}
		delete(m, LabelsKey)
	}
	if src, ok := m[SourceLocationKey].(map[string]any); ok {
		file, _ := src["file"].(string)
		fn, _ := src["function"].(string)
		line, _ := src["line"].(string)
		n, _ := strconv.ParseInt(line, 10, 64)
		e.SourceLocation = &logpb.LogEntrySourceLocation{File: file, Line: n, Function: fn}
		delete(m, SourceLocationKey)
	}
	p, err := structpb.NewStruct(m)
	if err != nil {
		return 0, fmt.Errorf("cloudlog: %w", err)
	}
	e.Payload = p
	a.accepted.Add(1)
	a.logger.Log(e)
	return len(line), nil
}

// onError receives the client's errors. It counts refused entries. Failed writes are counted
// by writeContext and only remembered here.
func (a *apiWriter) onError(err error) {
	if errors.Is(err, logging.ErrOverflow) || errors.Is(err, logging.ErrOversizedEntry) {
		a.rejected.Add(1)
	}
	a.setLastError(err)
}

type writeKey struct{}

// writeResult is what intercept saw of the last attempt of one write. The client calls the
// ContextFunc, makes the attempts and calls afterCall in one goroutine, so it needs no lock.
type writeResult struct {
	entries int
	failed  int
	err     error
}

// writeContext is the client's ContextFunc. Each write gets timeout under base, and when it
// is over its entries are counted as written or failed. The client's error callback cannot
// count them: it does not say how many entries an error lost.
func (a *apiWriter) writeContext(base context.Context, timeout time.Duration) (context.Context, func()) {
	ctx, cancel := context.WithTimeout(base, timeout)
	r := &writeResult{}
	return context.WithValue(ctx, writeKey{}, r), func() {
		cancel()
		if r.err != nil {
			a.setLastError(r.err)
		}
		if r.entries > 0 {
			a.lastWriteFailed.Store(r.err != nil)
		}
		a.failed.Add(int64(r.failed))
		a.written.Add(int64(r.entries - r.failed))
	}
}

// intercept records for writeContext how many of our entries each WriteLogEntries attempt
// carried and how many failed: all of them, or those a partial success names.
func (a *apiWriter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
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
	r.entries, r.failed, r.err = n, failed, err
	return err
}
