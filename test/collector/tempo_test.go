package collector

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// fakeTempo is the test's Tempo: an OTLP/gRPC trace receiver (the
// collector's otlp_grpc/tempo exporter sends to it) and the one HTTP
// endpoint Traceweave reads, GET /api/v2/traces/{id}, answered as Tempo
// answers Accept: application/protobuf: a TraceByIDResponse whose field 1 is
// the Trace, which on the wire is OTLP TracesData (repeated ResourceSpans = 1),
// the shape pkg/tempo decodes.
type fakeTempo struct {
	ptraceotlp.UnimplementedGRPCServer

	mu    sync.Mutex
	spans map[string]ptrace.Traces // by hex trace ID
	// GRPCAddr is the OTLP/gRPC listen address, HTTP the query API.
	GRPCAddr string
	HTTP     *httptest.Server
}

func startFakeTempo(t *testing.T) *fakeTempo {
	t.Helper()
	ft := &fakeTempo{spans: map[string]ptrace.Traces{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ft.GRPCAddr = l.Addr().String()
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, ft)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	ft.HTTP = httptest.NewServer(http.HandlerFunc(ft.serveHTTP))
	t.Cleanup(ft.HTTP.Close)
	return ft
}

// Export stores the spans of a collector export by trace ID.
func (ft *fakeTempo) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	td := req.Traces()
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				tid := sp.TraceID()
				id := hex.EncodeToString(tid[:])
				dst, ok := ft.spans[id]
				if !ok {
					dst = ptrace.NewTraces()
					ft.spans[id] = dst
				}
				drs := dst.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(drs.Resource())
				drs.SetSchemaUrl(rs.SchemaUrl())
				dss := drs.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(dss.Scope())
				sp.CopyTo(dss.Spans().AppendEmpty())
			}
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

// trace returns a copy of the spans received for the trace.
func (ft *fakeTempo) trace(id string) ptrace.Traces {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	out := ptrace.NewTraces()
	if td, ok := ft.spans[id]; ok {
		td.CopyTo(out)
	}
	return out
}

func (ft *fakeTempo) serveHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/api/v2/traces/")
	if !ok || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	td := ft.trace(strings.ToLower(id))
	if td.SpanCount() == 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	trace, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body := protowire.AppendTag(nil, 1, protowire.BytesType)
	body = protowire.AppendBytes(body, trace)
	w.Header().Set("Content-Type", "application/protobuf")
	_, _ = w.Write(body)
}

// fakeLoki accepts what the collector's otlp_http/loki exporter sends
// (POST /otlp/v1/logs, OTLP protobuf) and counts the log records, so the
// Loki pipeline of the config runs; Traceweave is not pointed at it (it
// serves no query API), see docs/COLLECTOR.md.
type fakeLoki struct {
	mu      sync.Mutex
	records int
	HTTP    *httptest.Server
}

func startFakeLoki(t *testing.T) *fakeLoki {
	t.Helper()
	fl := &fakeLoki{}
	fl.HTTP = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/otlp/v1/logs" {
			http.NotFound(w, r)
			return
		}
		req := plogotlp.NewExportRequest()
		body, err := readAll(r)
		if err == nil {
			err = req.UnmarshalProto(body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fl.mu.Lock()
		fl.records += req.Logs().LogRecordCount()
		fl.mu.Unlock()
		out, _ := plogotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(fl.HTTP.Close)
	return fl
}

func (fl *fakeLoki) count() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.records
}

// readAll reads a request body, gunzipped when the exporter compressed it
// (otlp_http sends gzip by default).
func readAll(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer func() { _ = zr.Close() }()
		rd = zr
	}
	return io.ReadAll(rd)
}
