package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/demo/internal/api"
	"github.com/traceweave/traceweave/demo/internal/otelsetup"
	"github.com/traceweave/traceweave/demo/internal/otelsetup/otelsetuptest"
	"github.com/traceweave/traceweave/demo/internal/proxy"
)

// fakeRails stands in for rails-api and records the propagation headers.
type fakeRails struct {
	mu          sync.Mutex
	traceparent []string
	baggage     []string
}

func (f *fakeRails) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.traceparent = append(f.traceparent, r.Header.Get("traceparent"))
	f.baggage = append(f.baggage, r.Header.Get("baggage"))
	f.mu.Unlock()
	if r.URL.Path == "/fail" {
		http.Error(w, `{"error":"boom"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`[{"id":1,"item":"keyboard"}]`))
}

type stack struct {
	client, proxy, api *otelsetuptest.Service
	rails              *fakeRails
	proxyURL           string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{
		client: otelsetuptest.NewService(t, "test-client"),
		proxy:  otelsetuptest.NewService(t, "go-proxy"),
		api:    otelsetuptest.NewService(t, "go-api"),
		rails:  &fakeRails{},
	}
	railsSrv := httptest.NewServer(s.rails)
	t.Cleanup(railsSrv.Close)
	apiSrv := httptest.NewServer(api.New(api.Config{
		RailsURL:       railsSrv.URL,
		TracerProvider: s.api.TracerProvider,
		Propagator:     otelsetup.NewPropagator(),
		Logger:         s.api.Logger,
	}))
	t.Cleanup(apiSrv.Close)
	up, _ := url.Parse(apiSrv.URL)
	proxySrv := httptest.NewServer(proxy.New(proxy.Config{
		Upstream:       up,
		TracerProvider: s.proxy.TracerProvider,
		Propagator:     otelsetup.NewPropagator(),
		Logger:         s.proxy.Logger,
	}))
	t.Cleanup(proxySrv.Close)
	s.proxyURL = proxySrv.URL
	return s
}

// get sends GET path through the proxy under a client span carrying baggage,
// returning the client span's context and the status.
func (s *stack) get(t *testing.T, path string) (trace.SpanContext, int) {
	t.Helper()
	member, _ := baggage.NewMember("demo.user", "42")
	bag, _ := baggage.New(member)
	ctx := baggage.ContextWithBaggage(context.Background(), bag)
	ctx, span := s.client.TracerProvider.Tracer("test").Start(ctx, "client GET", trace.WithSpanKind(trace.SpanKindClient))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.proxyURL+path, nil)
	otelsetup.NewPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := http.DefaultClient.Do(req)
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return span.SpanContext(), resp.StatusCode
}

func byKind(t *testing.T, spans []sdktrace.ReadOnlySpan, k trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		if sp.SpanKind() == k {
			found = append(found, sp)
		}
	}
	if len(found) != 1 {
		names := make([]string, len(spans))
		for i, sp := range spans {
			names[i] = sp.Name() + "/" + sp.SpanKind().String()
		}
		t.Fatalf("want exactly one %s span, have %v", k, names)
	}
	return found[0]
}

func TestPropagationProxyToAPIToRails(t *testing.T) {
	s := newStack(t)
	root, status := s.get(t, "/orders")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	tid := root.TraceID()

	proxySpans := s.proxy.WaitSpans(t, 2)
	apiSpans := s.api.WaitSpans(t, 2)
	pServer := byKind(t, proxySpans, trace.SpanKindServer)
	pClient := byKind(t, proxySpans, trace.SpanKindClient)
	aServer := byKind(t, apiSpans, trace.SpanKindServer)
	aClient := byKind(t, apiSpans, trace.SpanKindClient)

	all := append(append([]sdktrace.ReadOnlySpan{}, proxySpans...), apiSpans...)
	for _, sp := range all {
		if sp.SpanContext().TraceID() != tid {
			t.Errorf("span %q has trace %s, want %s", sp.Name(), sp.SpanContext().TraceID(), tid)
		}
	}
	link := func(child, parent sdktrace.ReadOnlySpan, parentID trace.SpanID) {
		t.Helper()
		if got := child.Parent().SpanID(); got != parentID {
			t.Errorf("span %q: parent %s, want %s (%s)", child.Name(), got, parentID, parent.Name())
		}
	}
	if got := pServer.Parent().SpanID(); got != root.SpanID() || !pServer.Parent().IsRemote() {
		t.Errorf("proxy server span parent %s (remote %v), want client span %s", got, pServer.Parent().IsRemote(), root.SpanID())
	}
	link(pClient, pServer, pServer.SpanContext().SpanID())
	link(aServer, pClient, pClient.SpanContext().SpanID())
	if !aServer.Parent().IsRemote() {
		t.Error("go-api server span's parent should be remote (from traceparent)")
	}
	link(aClient, aServer, aServer.SpanContext().SpanID())

	if aServer.Name() != "GET /orders" {
		t.Errorf("go-api server span name %q, want route pattern %q", aServer.Name(), "GET /orders")
	}

	// rails-api got a traceparent naming go-api's client span, and the baggage.
	s.rails.mu.Lock()
	tp, bg := s.rails.traceparent, s.rails.baggage
	s.rails.mu.Unlock()
	want := fmt.Sprintf("00-%s-%s-01", tid, aClient.SpanContext().SpanID())
	if len(tp) != 1 || tp[0] != want {
		t.Errorf("rails traceparent %q, want %q", tp, want)
	}
	if len(bg) != 1 || !strings.Contains(bg[0], "demo.user=42") {
		t.Errorf("rails baggage %q, want demo.user=42 (Baggage propagator on every hop)", bg)
	}

	checkAPILogs(t, s.api, tid, aServer.SpanContext().SpanID(), "request completed", "rails-api answered")
	checkAPILogs(t, s.proxy, tid, pServer.SpanContext().SpanID(), "proxied request")
}

func TestPropagationRailsFailure(t *testing.T) {
	s := newStack(t)
	root, status := s.get(t, "/orders?fail=1")
	if status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", status)
	}
	apiSpans := s.api.WaitSpans(t, 2)
	aServer := byKind(t, apiSpans, trace.SpanKindServer)
	aClient := byKind(t, apiSpans, trace.SpanKindClient)
	if aServer.Status().Code != codes.Error {
		t.Errorf("go-api server span status %v, want Error", aServer.Status())
	}
	if aClient.Status().Code != codes.Error || !strings.HasSuffix(aClient.Name(), "/fail") {
		t.Errorf("go-api client span %q status %v, want Error on /fail", aClient.Name(), aClient.Status())
	}
	pServer := byKind(t, s.proxy.WaitSpans(t, 2), trace.SpanKindServer)
	if pServer.SpanContext().TraceID() != root.TraceID() || aServer.SpanContext().TraceID() != root.TraceID() {
		t.Error("trace IDs differ across hops")
	}
	checkAPILogs(t, s.api, root.TraceID(), aServer.SpanContext().SpanID(), "rails-api returned an error")
}

var syslogLine = regexp.MustCompile(`^[A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d testhost (go-api|go-proxy)\[4242\]: (DEBUG|INFO|WARN|ERROR) .* trace_id=([0-9a-f]{32}) span_id=([0-9a-f]{16})$`)

// checkAPILogs asserts that each message appears in all three outputs (OTLP
// records, JSON, syslog) with the trace and span ID.
func checkAPILogs(t *testing.T, svc *otelsetuptest.Service, tid trace.TraceID, sid trace.SpanID, msgs ...string) {
	t.Helper()
	for _, msg := range msgs {
		found := false
		for _, r := range svc.Logs.Records() {
			if r.Body().AsString() != msg {
				continue
			}
			found = true
			if r.TraceID() != tid || r.SpanID() != sid {
				t.Errorf("%s OTLP record %q: trace %s span %s, want %s %s", svc.Name, msg, r.TraceID(), r.SpanID(), tid, sid)
			}
		}
		if !found {
			t.Errorf("%s: no OTLP log record %q", svc.Name, msg)
		}

		found = false
		for _, l := range svc.JSON.Lines() {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: JSON log line %q: %v", svc.Name, l, err)
			}
			if m["msg"] != msg {
				continue
			}
			found = true
			if m["trace_id"] != tid.String() || m["span_id"] != sid.String() {
				t.Errorf("%s JSON line %q: want trace_id %s span_id %s", svc.Name, l, tid, sid)
			}
		}
		if !found {
			t.Errorf("%s: no JSON log line %q", svc.Name, msg)
		}

		found = false
		for _, l := range svc.Syslog.Lines() {
			if !strings.Contains(l, ": "+"INFO "+msg) && !strings.Contains(l, "ERROR "+msg) && !strings.Contains(l, "WARN "+msg) {
				continue
			}
			found = true
			m := syslogLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("%s syslog line not RFC3164-like: %q", svc.Name, l)
				continue
			}
			if m[3] != tid.String() || m[4] != sid.String() {
				t.Errorf("%s syslog line %q: want trace_id=%s span_id=%s", svc.Name, l, tid, sid)
			}
		}
		if !found {
			t.Errorf("%s: no syslog line %q in %q", svc.Name, msg, svc.Syslog.Lines())
		}
	}
}
