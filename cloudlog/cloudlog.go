// Package cloudlog sends log/slog records to Cloud Logging, with labels that queries such as
// the details link can select on.
//
// NewHandler writes one JSON line per record, as the Cloud Run and GKE logging agents read it.
// New picks where records go: those lines on stdout, or entries written through the Cloud
// Logging API where no agent reads stdout. Either way an entry has the same severity, labels
// and payload. NewTextHandler writes the same records as readable lines for a terminal.
//
// Label marks an attribute as an entry label.
package cloudlog

import (
	"context"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
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
	// TimeKey holds the entry's timestamp (RFC 3339, UTC).
	TimeKey = "time"
)

// label is the value of an attribute made by Label. It is a LogValuer so that any other
// handler sees a plain string.
type label string

// LogValue returns the label's value as a plain string.
func (l label) LogValue() slog.Value { return slog.StringValue(string(l)) }

// Label returns an attribute that this package's handlers write as a Cloud Logging label,
// queryable as labels.KEY="VALUE", rather than as a payload field. Other slog handlers see a
// plain string attribute.
//
// The labels of Logger.With and of the record are merged into one set per record, and a later
// value wins. Groups do not apply to labels.
func Label(key, value string) slog.Attr {
	return slog.Any(key, label(value))
}

// Severity returns the Cloud Logging severity of a slog level: DEBUG below Info, INFO below
// Warn, WARNING below Error, ERROR below Error+4, and CRITICAL from there.
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

// NewHandler returns a slog.Handler that writes one JSON object per line, as the Cloud Run and
// GKE logging agents read it. A line has "time" (RFC 3339, UTC), "severity" (see Severity),
// "message", the source location when opts.AddSource is set, and the labels under LabelsKey.
// Other attributes are payload fields, nested by groups. An attribute named like a key the
// agent reads is written as "fields.NAME".
//
// opts works as for slog.NewJSONHandler and may be nil. ReplaceAttr sees slog's own keys for
// the built-in attributes and sees labels as strings. A level it replaces by a string is
// written as the severity.
func NewHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return newHandler(opts, jsonFormat, func(o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) })
}

// NewTextHandler returns a slog.Handler that writes one line per record for people, in
// slog.TextHandler's key=value form: time, level, message, the labels, then the other
// attributes. opts works as for NewHandler and may be nil.
func NewTextHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	return newHandler(opts, textFormat, func(o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) })
}

// format is what differs between the JSON and the text lines.
type format struct {
	labelsKey string   // the group holding the labels; "" writes them as top-level attributes
	reserved  []string // top-level names written as "fields."+name
	ours      []string // top-level groups whose attributes are already replaced
	builtin   func(key string, a slog.Attr) slog.Attr
	value     func(slog.Value) slog.Value
}

var jsonFormat = &format{
	labelsKey: LabelsKey,
	reserved:  []string{slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey, SeverityKey, MessageKey, LabelsKey, SourceLocationKey},
	ours:      []string{LabelsKey, SourceLocationKey},
	builtin:   cloudLoggingBuiltin,
	value:     jsonValue,
}

var textFormat = &format{
	reserved: []string{slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey},
	builtin:  func(_ string, a slog.Attr) slog.Attr { return a },
	value:    func(v slog.Value) slog.Value { return v },
}

// cloudLoggingBuiltin names a built-in attribute (key is slog's name for it) as the logging
// agent reads it.
func cloudLoggingBuiltin(key string, a slog.Attr) slog.Attr {
	switch key {
	case slog.TimeKey:
		if a.Value.Kind() == slog.KindTime {
			a.Value = slog.TimeValue(a.Value.Time().UTC())
		}
		return slog.Attr{Key: TimeKey, Value: a.Value}
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(SeverityKey, Severity(l))
		}
		return slog.String(SeverityKey, a.Value.String())
	case slog.MessageKey:
		return slog.Attr{Key: MessageKey, Value: a.Value}
	}
	if s, ok := a.Value.Any().(*slog.Source); ok {
		return slog.Any(SourceLocationKey, sourceLocation{s.File, strconv.Itoa(s.Line), s.Function})
	}
	return slog.Attr{Key: SourceLocationKey, Value: a.Value}
}

// sourceLocation is LogEntrySourceLocation in the JSON form the agent reads (line is an int64,
// a string in proto JSON).
type sourceLocation struct {
	File     string `json:"file"`
	Line     string `json:"line"`
	Function string `json:"function"`
}

// jsonValue writes durations as "1.5s" rather than slog's nanoseconds, and non-finite floats as
// strings, which encoding/json refuses.
func jsonValue(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindDuration:
		return slog.StringValue(v.Duration().String())
	case slog.KindFloat64:
		if f := v.Float64(); math.IsInf(f, 0) || math.IsNaN(f) {
			return slog.StringValue(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return v
}

// handler gathers the labels and groups of a record and hands the record to a slog JSON or
// text handler, labels first. It keeps With and WithGroup to itself instead of passing them
// on: the labels belong at the top of the line whatever group is open.
type handler struct {
	*common
	labels []slog.Attr // string values, after ReplaceAttr, each key once
	frames []frame     // frames[0] is the top level
}

// common is what the handlers derived from one NewHandler or NewTextHandler share.
type common struct {
	base   slog.Handler // given no With or WithGroup
	opts   slog.HandlerOptions
	format *format
}

// frame is a group opened by WithGroup and the attributes With added inside it.
type frame struct {
	group string
	attrs []slog.Attr
}

func newHandler(opts *slog.HandlerOptions, f *format, base func(*slog.HandlerOptions) slog.Handler) *handler {
	c := &common{format: f}
	if opts != nil {
		c.opts = *opts
	}
	c.base = base(&slog.HandlerOptions{Level: c.opts.Level, AddSource: c.opts.AddSource, ReplaceAttr: c.replace})
	return &handler{common: c, frames: []frame{{}}}
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.base.Enabled(ctx, l) }

func (h *handler) clone() *handler {
	h2 := *h
	h2.frames = slices.Clone(h.frames)
	return &h2
}

func (h *handler) groups() []string {
	var g []string
	for _, f := range h.frames[1:] {
		g = append(g, f.group)
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
		if a = h2.takeLabels(groups, a, &h2.labels); !a.Equal(slog.Attr{}) {
			last.attrs = append(slices.Clip(last.attrs), a)
		}
	}
	return h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := h.clone()
	h2.frames = append(h2.frames, frame{group: name})
	return h2
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	labels := h.labels
	groups := h.groups()
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if a = h.takeLabels(groups, a, &labels); !a.Equal(slog.Attr{}) {
			attrs = append(attrs, a)
		}
		return true
	})
	for i := len(h.frames) - 1; i > 0; i-- {
		attrs = []slog.Attr{{Key: h.frames[i].group, Value: slog.GroupValue(append(slices.Clip(h.frames[i].attrs), attrs...)...)}}
	}
	attrs = append(slices.Clip(h.frames[0].attrs), attrs...)

	top := make([]slog.Attr, 0, len(attrs)+len(labels)+1)
	switch {
	case len(labels) == 0:
	case h.format.labelsKey != "":
		top = append(top, slog.Attr{Key: h.format.labelsKey, Value: slog.GroupValue(labels...)})
	default:
		for _, l := range labels {
			top = append(top, h.rename(l))
		}
	}
	for _, a := range attrs {
		top = h.appendTop(top, a)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(top...)
	return h.base.Handle(ctx, out)
}

// takeLabels moves the labels of a (itself, or inside it when it is a group) to labels, after
// ReplaceAttr, and returns what is left of a.
func (h *handler) takeLabels(groups []string, a slog.Attr, labels *[]slog.Attr) slog.Attr {
	if l, ok := a.Value.Any().(label); ok && a.Value.Kind() == slog.KindLogValuer {
		r := h.replaceUser(groups, slog.String(a.Key, string(l)))
		if r.Key != "" {
			*labels = setLabel(*labels, slog.String(r.Key, r.Value.String()))
		}
		return slog.Attr{}
	}
	if a.Value.Kind() != slog.KindGroup {
		return a
	}
	sub := groups
	if a.Key != "" {
		sub = append(slices.Clip(groups), a.Key)
	}
	var kept []slog.Attr
	for _, c := range a.Value.Group() {
		if c = h.takeLabels(sub, c, labels); !c.Equal(slog.Attr{}) {
			kept = append(kept, c)
		}
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(kept...)}
}

// setLabel returns labels with l set, without changing the array labels shares with other
// handlers.
func setLabel(labels []slog.Attr, l slog.Attr) []slog.Attr {
	if i := slices.IndexFunc(labels, func(x slog.Attr) bool { return x.Key == l.Key }); i >= 0 {
		labels = slices.Clone(labels)
		labels[i] = l
		return labels
	}
	return append(slices.Clip(labels), l)
}

// appendTop appends the top-level attribute a to top after the caller's ReplaceAttr, inlining
// a group without a name, and renaming what the base handler would take for a built-in
// attribute.
//
// The base handler's ReplaceAttr cannot tell a top-level attribute named "msg" from the
// message itself, so top-level attributes are replaced here and arrive there under names that
// are never a built-in's.
func (h *handler) appendTop(top []slog.Attr, a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			return append(top, h.rename(a))
		}
		for _, c := range a.Value.Group() {
			top = h.appendTop(top, c)
		}
		return top
	}
	if a = h.replaceUser(nil, a); a.Key == "" {
		return top
	}
	if a.Value.Kind() == slog.KindGroup {
		return h.appendTop(top, a)
	}
	return append(top, h.rename(a))
}

func (c *common) rename(a slog.Attr) slog.Attr {
	if slices.Contains(c.format.reserved, a.Key) {
		a.Key = "fields." + a.Key
	}
	return a
}

func (c *common) replaceUser(groups []string, a slog.Attr) slog.Attr {
	if c.opts.ReplaceAttr == nil {
		return a
	}
	a = c.opts.ReplaceAttr(groups, a)
	a.Value = a.Value.Resolve()
	return a
}

// replace is the base handler's ReplaceAttr. At the top level, only the built-in attributes
// reach it unreplaced (see appendTop).
func (c *common) replace(groups []string, a slog.Attr) slog.Attr {
	switch {
	case len(groups) == 0 && slices.Contains([]string{slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey}, a.Key):
		key := a.Key
		if a = c.replaceUser(nil, a); a.Key == "" {
			return a
		}
		a = c.format.builtin(key, a)
	case len(groups) == 0 || slices.Contains(c.format.ours, groups[0]):
	default:
		a = c.replaceUser(groups, a)
	}
	a.Value = c.format.value(a.Value)
	return a
}
