package otelsetup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// LogOptions says where a service's structured logs go. Every destination is
// optional; each line carries trace_id and span_id of the span in the
// context passed to the slog *Context methods.
type LogOptions struct {
	// Service is the program name used in syslog lines (e.g. "go-api") and
	// the instrumentation scope name of the OTLP logger.
	Service string
	// LoggerProvider receives records through the otelslog bridge (OTLP);
	// the bridge copies the trace context of the ctx into each record.
	LoggerProvider otellog.LoggerProvider
	// JSON receives one JSON object per line (stdout in the services).
	JSON io.Writer
	// Syslog receives RFC3164-style text lines
	// "<Mmm dd hh:mm:ss> <host> <service>[<pid>]: <LEVEL> <msg> k=v ... trace_id=<32hex> span_id=<16hex>".
	Syslog io.Writer
	// Host and PID for syslog lines; os.Hostname() and os.Getpid() when empty.
	Host string
	PID  int
	// Level is the minimum level (default Info).
	Level slog.Leveler
}

// NewLogger returns a slog.Logger fanning out to every configured destination.
func NewLogger(o LogOptions) *slog.Logger {
	level := o.Level
	if level == nil {
		level = slog.LevelInfo
	}
	var hs []slog.Handler
	if o.LoggerProvider != nil {
		hs = append(hs, levelHandler{level: level, Handler: otelslog.NewHandler(o.Service, otelslog.WithLoggerProvider(o.LoggerProvider))})
	}
	if o.JSON != nil {
		hs = append(hs, traceAttrsHandler{slog.NewJSONHandler(o.JSON, &slog.HandlerOptions{Level: level})})
	}
	if o.Syslog != nil {
		host, pid := o.Host, o.PID
		if host == "" {
			host, _ = os.Hostname()
			if host == "" {
				host = "localhost"
			}
		}
		if pid == 0 {
			pid = os.Getpid()
		}
		hs = append(hs, &syslogHandler{shared: &syslogShared{w: o.Syslog}, level: level, host: host, tag: fmt.Sprintf("%s[%d]", o.Service, pid)})
	}
	return slog.New(multiHandler(hs))
}

// OpenSyslogFile opens path for appending, creating it and its directory.
func OpenSyslogFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// TraceIDs returns the hex trace and span ID of the span in ctx, or "" when
// there is none.
func TraceIDs(ctx context.Context) (traceID, spanID string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	return sc.TraceID().String(), sc.SpanID().String()
}

// multiHandler sends each record to all handlers.
type multiHandler []slog.Handler

func (m multiHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range m {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (m multiHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range m {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (m multiHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (m multiHandler) WithGroup(name string) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithGroup(name)
	}
	return out
}

// levelHandler applies a minimum level to a handler that has none.
type levelHandler struct {
	level slog.Leveler
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.Handler.Enabled(ctx, l)
}
func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h.level, h.Handler.WithAttrs(as)}
}
func (h levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{h.level, h.Handler.WithGroup(n)}
}

// traceAttrsHandler adds trace_id and span_id (top level) to each record.
// After WithGroup the IDs land inside the group; the demo services open no
// groups on their loggers.
type traceAttrsHandler struct{ slog.Handler }

func (h traceAttrsHandler) Handle(ctx context.Context, r slog.Record) error {
	if tid, sid := TraceIDs(ctx); tid != "" {
		r.AddAttrs(slog.String("trace_id", tid), slog.String("span_id", sid))
	}
	return h.Handler.Handle(ctx, r)
}
func (h traceAttrsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceAttrsHandler{h.Handler.WithAttrs(as)}
}
func (h traceAttrsHandler) WithGroup(n string) slog.Handler {
	return traceAttrsHandler{h.Handler.WithGroup(n)}
}

type syslogShared struct {
	mu sync.Mutex
	w  io.Writer
}

// syslogHandler writes one text line per record with a single Write call.
type syslogHandler struct {
	shared *syslogShared
	level  slog.Leveler
	host   string
	tag    string
	prefix string // group prefix, "a.b."
	attrs  []byte // preformatted " k=v" pairs from WithAttrs
}

func (h *syslogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]byte(nil), h.attrs...)
	for _, a := range as {
		c.attrs = appendAttr(c.attrs, h.prefix, a)
	}
	return &c
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	var b bytes.Buffer
	b.WriteString(t.Format(time.Stamp)) // "Jan _2 15:04:05", as RFC 3164
	b.WriteByte(' ')
	b.WriteString(h.host)
	b.WriteByte(' ')
	b.WriteString(h.tag)
	b.WriteString(": ")
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(oneLine(r.Message))
	buf := b.Bytes()
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	if tid, sid := TraceIDs(ctx); tid != "" {
		buf = append(buf, " trace_id="+tid+" span_id="+sid...)
	}
	buf = append(buf, '\n')
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	_, err := h.shared.w.Write(buf)
	return err
}

func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			buf = appendAttr(buf, p, g)
		}
		return buf
	}
	v := oneLine(a.Value.String())
	if v == "" || strings.ContainsAny(v, " \"=") {
		v = fmt.Sprintf("%q", v)
	}
	return append(buf, " "+prefix+a.Key+"="+v...)
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
	}
	return s
}
