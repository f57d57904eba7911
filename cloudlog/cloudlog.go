// Package cloudlog is the worker's log/slog handler for Cloud Logging, plus GCP environment look-ups.
//
// One handler path builds each record's Cloud Logging entry (severity, time, message, labels,
// source location, jsonPayload) and writes it either as the structured JSON line that the Cloud
// Run and GKE logging agents ingest (NewHandler), or through the Cloud Logging API with
// cloud.google.com/go/logging where no agent reads stdout (New with API, or Auto off those
// platforms): the same records, severities and labels either way, so one details link query
// finds them. Label marks the attributes that become entry labels; their names are the caller's
// (the worker uses statusmanager's LogLabel constants, which the details link queries).
package cloudlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Keys of the JSON lines that the logging agent lifts into LogEntry fields.
const (
	// LabelsKey holds the entry's labels, an object of strings.
	LabelsKey = "logging.googleapis.com/labels"
	// SourceLocationKey holds the entry's source location ({file, line, function}).
	SourceLocationKey = "logging.googleapis.com/sourceLocation"
	// SeverityKey holds the entry's severity.
	SeverityKey = "severity"
	// MessageKey holds the entry's message.
	MessageKey = "message"
	// TimeKey holds the entry's timestamp (RFC 3339).
	TimeKey = "time"
)

// label is the value of an attribute made by Label. It is a LogValuer, so any other handler
// resolves it to its plain string; this package's handler recognises it before resolving.
type label string

// LogValue returns the label's value as a plain string.
func (l label) LogValue() slog.Value { return slog.StringValue(string(l)) }

// Label returns an attribute that NewHandler's handler writes as a Cloud Logging label (queryable as
// labels.KEY="VALUE") instead of a jsonPayload field; any other slog handler sees an ordinary string
// attribute. Labels from Logger.With and from the record are merged into one labels object per line,
// later values winning; groups do not apply to labels.
func Label(key, value string) slog.Attr {
	return slog.Any(key, label(value))
}

// NewHandler returns a slog.Handler writing one JSON object per line in the format the Cloud Run
// logging agent lifts into LogEntry fields: "time" (RFC 3339 with nanoseconds, UTC), "severity"
// (DEBUG, INFO, WARNING, ERROR; CRITICAL from slog.LevelError+4), "message",
// "logging.googleapis.com/sourceLocation" when opts.AddSource is set, and the labels (see Label) under
// "logging.googleapis.com/labels". Other attributes become jsonPayload fields, nested by groups.
//
// opts works as for slog's own handlers: Level (default Info), AddSource, and ReplaceAttr, which is
// called for the built-in attributes (with slog's keys: slog.TimeKey, slog.LevelKey, slog.MessageKey,
// slog.SourceKey; a level replaced by a string is used as the severity as it is), for every other
// non-group attribute, and for labels (with their value as a string). opts may be nil.
func NewHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	h := &handler{out: &jsonSink{w: w, mu: &sync.Mutex{}}}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

// frame holds the attributes added by WithAttrs inside the group named by the frame (the root
// frame has no name).
type frame struct {
	name  string
	attrs []slog.Attr
}

type handler struct {
	opts   slog.HandlerOptions
	out    sink    // shared by the handlers derived from one NewHandler
	frames []frame // frames[0] is the root
	labels []kv    // labels from WithAttrs, merged
}

type kv struct{ key, value string }

func (h *handler) Enabled(_ context.Context, l slog.Level) bool {
	minLevel := slog.LevelInfo
	if h.opts.Level != nil {
		minLevel = h.opts.Level.Level()
	}
	return l >= minLevel
}

func (h *handler) clone() *handler {
	h2 := *h
	h2.frames = slices.Clone(h.frames)
	if len(h2.frames) == 0 {
		h2.frames = []frame{{}}
	}
	h2.labels = slices.Clone(h.labels)
	return &h2
}

func (h *handler) groups() []string {
	var g []string
	for _, f := range h.frames {
		if f.name != "" {
			g = append(g, f.name)
		}
	}
	return g
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := h.clone()
	last := &h2.frames[len(h2.frames)-1]
	groups := h2.groups()
	for _, a := range attrs {
		if l, ok := h2.label(groups, a); ok {
			h2.labels = setLabel(h2.labels, l)
			continue
		}
		// Labels inside groups given to With are pulled out too.
		if a.Value.Kind() == slog.KindGroup {
			a = h2.extractLabels(groups, a, func(l kv) { h2.labels = setLabel(h2.labels, l) })
		}
		last.attrs = append(slices.Clip(last.attrs), a)
	}
	return h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := h.clone()
	h2.frames = append(h2.frames, frame{name: name})
	return h2
}

// label reports whether a is a label and returns it after ReplaceAttr.
func (h *handler) label(groups []string, a slog.Attr) (kv, bool) {
	if a.Value.Kind() != slog.KindLogValuer {
		return kv{}, false
	}
	l, ok := a.Value.Any().(label)
	if !ok {
		return kv{}, false
	}
	r := slog.String(a.Key, string(l))
	if h.opts.ReplaceAttr != nil {
		r = h.opts.ReplaceAttr(groups, r)
		r.Value = r.Value.Resolve()
	}
	if r.Key == "" {
		return kv{}, true // dropped
	}
	return kv{r.Key, r.Value.String()}, true
}

// extractLabels returns group attribute a without its labels, handing each to add.
func (h *handler) extractLabels(groups []string, a slog.Attr, add func(kv)) slog.Attr {
	var kept []slog.Attr
	sub := groups
	if a.Key != "" {
		sub = append(slices.Clip(groups), a.Key)
	}
	for _, c := range a.Value.Group() {
		if l, ok := h.label(sub, c); ok {
			if l.key != "" {
				add(l)
			}
			continue
		}
		if c.Value.Kind() == slog.KindGroup {
			c = h.extractLabels(sub, c, add)
		}
		kept = append(kept, c)
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(kept...)}
}

func setLabel(labels []kv, l kv) []kv {
	if l.key == "" {
		return labels
	}
	for i := range labels {
		if labels[i].key == l.key {
			labels = slices.Clone(labels)
			labels[i].value = l.value
			return labels
		}
	}
	return append(slices.Clip(labels), l)
}

// Severity returns the Cloud Logging severity of a slog level: DEBUG below Info, INFO below Warn,
// WARNING below Error, ERROR below Error+4, CRITICAL from there.
func Severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	case l < slog.LevelError+4:
		return "ERROR"
	}
	return "CRITICAL"
}

// entry is one record as Cloud Logging sees it, built once by Handle and written by a sink: as a
// JSON line (jsonSink) or as a LogEntry through the Logging API (apiSink).
type entry struct {
	hasTime   bool
	time      time.Time // the record's time, when hasTime and timeVal is nil
	timeVal   any       // a time attribute ReplaceAttr turned into something else
	hasSev    bool
	severity  string
	hasMsg    bool
	message   any
	source    *slog.Source // the source location, when AddSource
	sourceVal any          // a source attribute ReplaceAttr turned into something else
	labels    []kv
	fields    *object // jsonPayload fields besides the message; reserved keys already renamed
}

// sink writes entries; write must be safe for concurrent use.
type sink interface {
	write(e *entry) error
}

// jsonSink writes each entry as one JSON line in the format the logging agent parses.
type jsonSink struct {
	w  io.Writer
	mu *sync.Mutex // one Write per line
}

func (s *jsonSink) write(e *entry) error {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	field := func(key string, v any) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeJSON(&buf, key)
		buf.WriteByte(':')
		writeJSON(&buf, v)
	}
	if e.hasTime {
		if e.timeVal != nil {
			field(TimeKey, e.timeVal)
		} else {
			field(TimeKey, e.time.UTC().Format(time.RFC3339Nano))
		}
	}
	if e.hasSev {
		field(SeverityKey, e.severity)
	}
	if e.hasMsg {
		field(MessageKey, e.message)
	}
	if e.source != nil {
		field(SourceLocationKey, map[string]string{"file": e.source.File, "line": strconv.Itoa(e.source.Line), "function": e.source.Function})
	} else if e.sourceVal != nil {
		field(SourceLocationKey, e.sourceVal)
	}
	if len(e.labels) > 0 {
		lo := &object{}
		for _, l := range e.labels {
			lo.set(l.key, l.value)
		}
		field(LabelsKey, lo)
	}
	for i, k := range e.fields.keys {
		field(k, e.fields.vals[i])
	}
	buf.WriteString("}\n")

	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.w.Write(buf.Bytes())
	return err
}

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	return h.out.write(h.build(r))
}

// build turns a record into an entry: the built-in attributes through ReplaceAttr, the labels
// merged, the other attributes nested by groups.
func (h *handler) build(r slog.Record) *entry {
	rep := h.opts.ReplaceAttr
	e := &entry{}

	// Built-in attributes, through ReplaceAttr as slog's handlers do.
	builtin := func(a slog.Attr) (slog.Attr, bool) {
		if rep != nil {
			a = rep(nil, a)
			a.Value = a.Value.Resolve()
		}
		return a, a.Key != ""
	}
	if !r.Time.IsZero() {
		if a, ok := builtin(slog.Time(slog.TimeKey, r.Time)); ok {
			e.hasTime = true
			if a.Value.Kind() == slog.KindTime {
				e.time = a.Value.Time()
			} else {
				e.timeVal = value(a.Value)
			}
		}
	}
	if a, ok := builtin(slog.Any(slog.LevelKey, r.Level)); ok {
		e.hasSev = true
		if l, isLevel := a.Value.Any().(slog.Level); isLevel {
			e.severity = Severity(l)
		} else {
			e.severity = a.Value.String()
		}
	}
	if a, ok := builtin(slog.String(slog.MessageKey, r.Message)); ok {
		e.hasMsg = true
		e.message = value(a.Value)
	}
	if h.opts.AddSource && r.PC != 0 {
		fs := runtime.CallersFrames([]uintptr{r.PC})
		f, _ := fs.Next()
		src := &slog.Source{Function: f.Function, File: f.File, Line: f.Line}
		if a, ok := builtin(slog.Any(slog.SourceKey, src)); ok {
			if s, isSrc := a.Value.Any().(*slog.Source); isSrc {
				e.source = s
			} else {
				e.sourceVal = value(a.Value)
			}
		}
	}

	// Fields: the frames of With/WithGroup, the record's attributes in the innermost one.
	root := &object{}
	labels := h.labels
	addLabel := func(l kv) { labels = setLabel(labels, l) }
	frames := h.frames
	if len(frames) == 0 {
		frames = []frame{{}}
	}
	var groups []string
	objs := []*object{root}
	cur := root
	for i, f := range frames {
		if i > 0 {
			groups = append(groups, f.name)
			child := &object{}
			cur.set(f.name, child)
			cur = child
			objs = append(objs, cur)
		}
		for _, a := range f.attrs {
			h.addAttr(cur, groups, a, addLabel)
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		if l, ok := h.label(groups, a); ok {
			addLabel(l)
			return true
		}
		if a.Value.Kind() == slog.KindGroup {
			a = h.extractLabels(groups, a, addLabel)
		}
		h.addAttr(cur, groups, a, addLabel)
		return true
	})
	// Groups left without attributes are omitted, as slog's handlers do.
	for i := len(objs) - 1; i > 0; i-- {
		if len(objs[i].keys) == 0 {
			objs[i-1].remove(frames[i].name)
		}
	}
	e.labels = labels
	e.fields = &object{}
	for i, k := range root.keys {
		switch k {
		case TimeKey, SeverityKey, MessageKey, LabelsKey, SourceLocationKey:
			k = "fields." + k // never shadow (or duplicate) a key the agent interprets
		}
		e.fields.set(k, root.vals[i])
	}
	return e
}

// addAttr adds a (not a label) to o, applying slog's rules: empty attributes are ignored, a group
// with an empty key is inlined, an empty group is omitted.
func (h *handler) addAttr(o *object, groups []string, a slog.Attr, addLabel func(kv)) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return
		}
		if a.Key == "" {
			for _, c := range attrs {
				h.addAttr(o, groups, c, addLabel)
			}
			return
		}
		sub := append(slices.Clip(groups), a.Key)
		child := &object{}
		for _, c := range attrs {
			h.addAttr(child, sub, c, addLabel)
		}
		if len(child.keys) > 0 {
			o.set(a.Key, child)
		}
		return
	}
	if h.opts.ReplaceAttr != nil {
		a = h.opts.ReplaceAttr(groups, a)
		a.Value = a.Value.Resolve()
	}
	if a.Equal(slog.Attr{}) || a.Key == "" {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		h.addAttr(o, groups, a, addLabel)
		return
	}
	o.set(a.Key, value(a.Value))
}

// value converts a resolved, non-group slog value to what encoding/json should write.
func value(v slog.Value) any {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64() // NaN and infinities are written as strings by writeJSON
	case slog.KindBool:
		return v.Bool()
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindGroup:
		o := &object{}
		for _, a := range v.Group() {
			o.set(a.Key, value(a.Value.Resolve()))
		}
		return o
	}
	x := v.Any()
	switch x := x.(type) {
	case json.Marshaler:
		return x
	case error:
		return x.Error()
	}
	return x
}

// object is a JSON object that keeps the order of first insertion; setting a key again replaces
// its value, so a line never has duplicate keys.
type object struct {
	keys []string
	vals []any
}

func (o *object) set(k string, v any) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *object) remove(k string) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.keys = slices.Delete(o.keys, i, i+1)
		o.vals = slices.Delete(o.vals, i, i+1)
	}
}

// MarshalJSON writes the object with its keys in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, k)
		b.WriteByte(':')
		writeJSON(&b, o.vals[i])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeJSON writes v as JSON without HTML escaping; a value encoding/json cannot write is written as
// the string of its %+v form, so one bad attribute never loses the line.
func writeJSON(b *bytes.Buffer, v any) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		out.Reset()
		_ = enc.Encode(fmt.Sprintf("%+v", v))
	}
	b.Write(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}
