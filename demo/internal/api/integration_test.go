package api_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/demo/internal/api"
	"github.com/traceweave/traceweave/demo/internal/otelsetup/otelsetuptest"
)

// realBackends returns the MariaDB DSN and Redis address from DEMO_MYSQL_DSN
// and DEMO_REDIS_ADDR (see demo/scripts/start-test-dbs.sh). It skips the test
// when they are unset, except under CI (env CI set), where it fails.
func realBackends(t *testing.T) (dsn, addr string) {
	t.Helper()
	dsn, addr = os.Getenv("DEMO_MYSQL_DSN"), os.Getenv("DEMO_REDIS_ADDR")
	if dsn != "" && addr != "" {
		return dsn, addr
	}
	msg := "DEMO_MYSQL_DSN and DEMO_REDIS_ADDR must be set for go-api's database tests: " +
		"run `bash demo/scripts/start-test-dbs.sh` (after apt-get install -y mariadb-server redis-server), then " +
		"export DEMO_MYSQL_DSN='demo:demo@tcp(127.0.0.1:3306)/demo?parseTime=true' DEMO_REDIS_ADDR='127.0.0.1:6379'"
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set: " + msg)
	}
	t.Skip("skipping: " + msg)
	return "", ""
}

type env struct {
	tel   *otelsetuptest.Service
	db    *sql.DB
	rdb   *redis.Client
	url   string
	rails *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dsn, addr := realBackends(t)
	e := &env{tel: otelsetuptest.NewService(t, "go-api")}
	var err error
	if e.db, err = api.OpenDB(dsn, e.tel.TracerProvider); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.db.PingContext(ctx); err != nil {
		t.Fatalf("mysql at %q: %v", dsn, err)
	}
	if e.rdb, err = api.OpenRedis(addr, e.tel.TracerProvider); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.rdb.Close() })
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %q: %v", addr, err)
	}
	e.rails = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.Copy(w, r.Body)
			return
		}
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(e.rails.Close)
	srv := httptest.NewServer(api.New(api.Config{
		DB: e.db, Redis: e.rdb, RailsURL: e.rails.URL,
		TracerProvider: e.tel.TracerProvider,
		Logger:         e.tel.Logger,
		SlowQuery:      300 * time.Millisecond,
		FlakyTimeout:   20 * time.Millisecond,
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	// Spans from setup pings are not part of the assertions.
	return e
}

func (e *env) do(t *testing.T, method, path, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, string(b)
}

// requestSpans waits for the server span of the latest request to path and
// returns it with the spans of its trace.
func (e *env) requestSpans(t *testing.T, route string) (sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var server sdktrace.ReadOnlySpan
		ended := e.tel.Spans.Ended()
		for _, sp := range ended {
			if sp.SpanKind() == trace.SpanKindServer && sp.Name() == route {
				server = sp
			}
		}
		if server != nil {
			var same []sdktrace.ReadOnlySpan
			for _, sp := range ended {
				if sp.SpanContext().TraceID() == server.SpanContext().TraceID() && sp != server {
					same = append(same, sp)
				}
			}
			return server, same
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended server span %q", route)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func attrs(sp sdktrace.ReadOnlySpan) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range sp.Attributes() {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

// dbSpans returns the spans with db.system = system, checking the
// attributes the plugin's tier rules read on each.
func dbSpans(t *testing.T, server sdktrace.ReadOnlySpan, spans []sdktrace.ReadOnlySpan, system string) []sdktrace.ReadOnlySpan {
	t.Helper()
	var out []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		a := attrs(sp)
		if a[api.AttrDBSystem].AsString() != system {
			continue
		}
		out = append(out, sp)
		if got := a[api.AttrDBSystemName].AsString(); got != system {
			t.Errorf("%s span %q: db.system.name %q, want %q", system, sp.Name(), got, system)
		}
		if a[api.AttrDBStatement].AsString() == "" {
			t.Errorf("%s span %q has no db.statement (attrs %v)", system, sp.Name(), sp.Attributes())
		}
		if sp.SpanKind() != trace.SpanKindClient {
			t.Errorf("%s span %q kind %v, want client", system, sp.Name(), sp.SpanKind())
		}
		if sp.Parent().SpanID() != server.SpanContext().SpanID() {
			t.Errorf("%s span %q parent %s, want server span %s", system, sp.Name(), sp.Parent().SpanID(), server.SpanContext().SpanID())
		}
	}
	return out
}

func statements(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, attrs(sp)[api.AttrDBStatement].AsString())
	}
	return out
}

func TestGetUserMySQLThenRedisCache(t *testing.T) {
	e := newEnv(t)
	if err := e.rdb.Del(context.Background(), "user:3").Err(); err != nil {
		t.Fatal(err)
	}
	e.tel.Spans.Reset()

	resp, body := e.do(t, http.MethodGet, "/users/3", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Cache") != "miss" || !strings.Contains(body, "Grace Hopper") {
		t.Fatalf("first GET /users/3: %d %q cache=%q", resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	server, spans := e.requestSpans(t, "GET /users/{id}")
	my := dbSpans(t, server, spans, "mysql")
	if len(my) != 1 {
		t.Fatalf("want 1 mysql span, got %d: %v", len(my), statements(my))
	}
	a := attrs(my[0])
	if q := a[api.AttrDBQueryText].AsString(); q != "SELECT id, name, email FROM users WHERE id = ?" {
		t.Errorf("db.query.text %q", q)
	}
	if my[0].Name() != "mysql SELECT" {
		t.Errorf("mysql span name %q", my[0].Name())
	}
	rd := dbSpans(t, server, spans, "redis")
	if st := statements(rd); len(st) != 2 || !strings.HasPrefix(st[0], "get user:3") || !strings.HasPrefix(st[1], "set user:3") {
		t.Errorf("redis statements %q, want get then set of user:3", st)
	}
	checkLogs(t, e.tel, server, "user cache miss", "user loaded from mysql")

	e.tel.Spans.Reset()
	resp, body = e.do(t, http.MethodGet, "/users/3", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Cache") != "hit" || !strings.Contains(body, "Grace Hopper") {
		t.Fatalf("second GET /users/3: %d %q cache=%q", resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	server, spans = e.requestSpans(t, "GET /users/{id}")
	if my := dbSpans(t, server, spans, "mysql"); len(my) != 0 {
		t.Errorf("cache hit still queried mysql: %v", statements(my))
	}
	if rd := dbSpans(t, server, spans, "redis"); len(rd) != 1 {
		t.Errorf("cache hit: want one redis span, got %v", statements(rd))
	}
	checkLogs(t, e.tel, server, "user cache hit")

	resp, _ = e.do(t, http.MethodGet, "/users/999999", "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: %d", resp.StatusCode)
	}
}

func TestCreateOrderWritesMySQLAndCallsRails(t *testing.T) {
	e := newEnv(t)
	e.tel.Spans.Reset()
	resp, body := e.do(t, http.MethodPost, "/orders", `{"user_id":2,"item":"monitor","quantity":2}`)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(body, `"request_id"`) {
		t.Fatalf("POST /orders: %d %q", resp.StatusCode, body)
	}
	server, spans := e.requestSpans(t, "POST /orders")
	my := dbSpans(t, server, spans, "mysql")
	if len(my) != 1 || !strings.HasPrefix(statements(my)[0], "INSERT INTO order_requests") {
		t.Fatalf("mysql spans %v", statements(my))
	}
	var railsCall bool
	for _, sp := range spans {
		if sp.SpanKind() == trace.SpanKindClient && sp.Name() == "rails-api POST /orders" {
			railsCall = sp.Parent().SpanID() == server.SpanContext().SpanID()
		}
	}
	if !railsCall {
		t.Error("no rails-api client span under the server span")
	}
	var n int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM order_requests WHERE trace_id = ?", server.SpanContext().TraceID().String()).Scan(&n); err != nil || n != 1 {
		t.Errorf("order_requests rows with this trace_id: %d (%v)", n, err)
	}
	checkLogs(t, e.tel, server, "order request recorded")
}

func TestSlowQuery(t *testing.T) {
	e := newEnv(t)
	e.tel.Spans.Reset()
	resp, body := e.do(t, http.MethodGet, "/slow", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /slow: %d %q", resp.StatusCode, body)
	}
	server, spans := e.requestSpans(t, "GET /slow")
	my := dbSpans(t, server, spans, "mysql")
	if len(my) != 1 || statements(my)[0] != "SELECT SLEEP(?)" {
		t.Fatalf("mysql spans %v", statements(my))
	}
	if d := my[0].EndTime().Sub(my[0].StartTime()); d < 250*time.Millisecond {
		t.Errorf("slow query span lasted %v, want ≥ 300ms", d)
	}
	checkLogs(t, e.tel, server, "slow query finished")
}

func TestFlakyCacheTimesOut(t *testing.T) {
	e := newEnv(t)
	e.tel.Spans.Reset()
	resp, body := e.do(t, http.MethodGet, "/flaky-cache", "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /flaky-cache: %d %q, want 503", resp.StatusCode, body)
	}
	server, spans := e.requestSpans(t, "GET /flaky-cache")
	var failed bool
	for _, sp := range dbSpans(t, server, spans, "redis") {
		if strings.HasPrefix(attrs(sp)[api.AttrDBStatement].AsString(), "blpop") && sp.Status().Code == codes.Error {
			failed = true
		}
	}
	if !failed {
		t.Errorf("no failed redis blpop span: %v", statements(spans))
	}
	if server.Status().Code != codes.Error {
		t.Errorf("server span status %v, want Error", server.Status())
	}
	checkLogs(t, e.tel, server, "cache call timed out")
}

// checkLogs asserts each message was logged (OTLP and syslog) with the
// server span's trace and span ID.
func checkLogs(t *testing.T, tel *otelsetuptest.Service, server sdktrace.ReadOnlySpan, msgs ...string) {
	t.Helper()
	tid, sid := server.SpanContext().TraceID(), server.SpanContext().SpanID()
	for _, msg := range msgs {
		var otlp, syslog bool
		for _, r := range tel.Logs.Records() {
			if r.Body().AsString() == msg && r.TraceID() == tid && r.SpanID() == sid {
				otlp = true
			}
		}
		for _, l := range tel.Syslog.Lines() {
			if strings.Contains(l, " "+msg+" ") && strings.HasSuffix(l, "trace_id="+tid.String()+" span_id="+sid.String()) {
				syslog = true
			}
		}
		if !otlp || !syslog {
			t.Errorf("log %q with trace %s span %s: otlp=%v syslog=%v", msg, tid, sid, otlp, syslog)
		}
	}
}
