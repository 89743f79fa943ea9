// Package reliability proves, black-box, that Traceweave degrades instead of
// failing: upstream faults become partial results with notices, cancelled
// queries stop their upstream work, big answers are capped, secrets never
// leave the plugin and hostile input never reaches an upstream. Most tests
// drive the built gpx_traceweave binary over Grafana's plugin gRPC protocol
// (internal/harness); the ones that measure goroutines or memory run the
// engine in this process.
package reliability

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/traceweave/traceweave/internal/harness"
)

// Values of the recorded fixtures in testdata/ (a real Tempo 3.0.3 v2
// protobuf answer and a real Loki 3.7.6 query_range answer, as
// docs/DESIGN.md "Upstream facts" describes them): one trace of 8
// spans and its Loki lines.
const (
	traceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanGoAPI  = "00f067aa0ba90202"
	spanRails  = "00f067aa0ba90204"
	fixtureTSS = 1795710089 // the trace's first span starts in this second
	otherTrace = "0af7651916cd43dd8448eb211c80319c"
	lokiLines  = 9 // lines in loki_query_range_sm_filter_categorized.json
)

// Credentials configured in the tests. Each is distinctive so a leak is
// found by a plain substring search.
const (
	tempoUser     = "tw-tempo-user"
	tempoPassword = "tempo-pw-Zq81xK"
	tempoToken    = "tempo-token-Hb27Lp"
	lokiUser      = "tw-loki-user"
	lokiPassword  = "loki-pw-Wm44Rt"
	lokiToken     = "loki-token-Cx93Vd"
	kafkaUser     = "tw-kafka-user"
	kafkaPassword = "kafka-pw-Pj65Ns"
	kafkaAdmin    = "admin"
	kafkaAdminPw  = "admin-pw-Yt12Gh"
	tenant        = "team-a"
)

var (
	// panelFrom and panelTo are the dashboard time range sent with every
	// query: it covers the fixture trace, so Loki and Kafka are searched
	// over it even when Tempo fails.
	panelFrom = time.Unix(fixtureTSS-3600, 0)
	panelTo   = time.Unix(fixtureTSS+120, 0)
	// exportTime is when the "collector" wrote the trace's logs to Kafka.
	exportTime = time.Unix(fixtureTSS+1, 0)
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// ctxT bounds a test so nothing can hang it.
func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// upstream is an httptest server standing in for Tempo or Loki. It counts
// requests and requests whose context ended before the handler finished
// (the client gave up), and records the Authorization headers it saw.
type upstream struct {
	*httptest.Server
	requests  atomic.Int32
	cancelled atomic.Int32
	entered   chan struct{} // receives (non-blocking) when a request arrives
	mu        sync.Mutex
	auth      []string
}

func newUpstream(t testing.TB, h func(u *upstream, w http.ResponseWriter, r *http.Request)) *upstream {
	u := &upstream{entered: make(chan struct{}, 128)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		u.mu.Lock()
		u.auth = append(u.auth, r.Header.Get("Authorization"))
		u.mu.Unlock()
		select {
		case u.entered <- struct{}{}:
		default:
		}
		h(u, w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) authHeaders() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.auth...)
}

// waitSlow blocks like an overloaded upstream: until the client gives up
// (counted) or d passes. It reports whether the client gave up.
func (u *upstream) waitSlow(r *http.Request, d time.Duration) bool {
	select {
	case <-r.Context().Done():
		u.cancelled.Add(1)
		return true
	case <-time.After(d):
		return false
	}
}

// httpFault is a way an HTTP upstream can fail.
type httpFault string

// The HTTP faults of the matrix.
const (
	faultNone        httpFault = ""
	faultRefused     httpFault = "connection refused"
	fault500         httpFault = "HTTP 500"
	fault500Binary   httpFault = "HTTP 500 with a binary body"
	fault429         httpFault = "HTTP 429, Retry-After 30s (longer than the plugin waits)"
	faultSlow        httpFault = "slow beyond the timeout"
	faultCut         httpFault = "body cut mid-stream"
	faultGarbage     httpFault = "garbage bytes"
	faultContentType httpFault = "wrong content type"
)

// slowFor is how long a slow upstream stalls: far beyond the 500ms timeout
// the tests configure, and short enough that a plugin that ignored its
// timeout would still let the test end.
const slowFor = 15 * time.Second

// serveFault answers with fault, or with okBody as okType when there is none.
func serveFault(u *upstream, w http.ResponseWriter, r *http.Request, fault httpFault, okType string, okBody []byte) {
	switch fault {
	case fault500:
		http.Error(w, "internal error: ingester ring unhealthy", http.StatusInternalServerError)
	case fault500Binary:
		// A broken proxy's gzip or TLS bytes where the error text should be.
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write(garbage(256))
	case fault429:
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many outstanding requests", http.StatusTooManyRequests)
	case faultSlow:
		if u.waitSlow(r, slowFor) {
			return
		}
		w.Header().Set("Content-Type", okType)
		_, _ = w.Write(okBody)
	case faultCut:
		// Promise the whole body, send half, then drop the connection.
		w.Header().Set("Content-Type", okType)
		w.Header().Set("Content-Length", fmt.Sprint(len(okBody)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(okBody[:len(okBody)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	case faultGarbage:
		w.Header().Set("Content-Type", okType)
		_, _ = w.Write(garbage(4096))
	case faultContentType:
		// A proxy's login page instead of the API's answer.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><html><body><h1>Sign in</h1><form>…</form></body></html>"))
	default:
		w.Header().Set("Content-Type", okType)
		_, _ = w.Write(okBody)
	}
}

// garbage is deterministic binary noise.
func garbage(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// tempoAuth is what a fake Tempo expects to see: basic auth, or a bearer token.
type tempoAuth struct{ user, password, token string }

func (a tempoAuth) check(r *http.Request) error {
	switch {
	case a.user != "":
		u, p, ok := r.BasicAuth()
		if !ok || u != a.user || p != a.password {
			return fmt.Errorf("basic auth missing or wrong")
		}
	case a.token != "":
		if r.Header.Get("Authorization") != "Bearer "+a.token {
			return fmt.Errorf("bearer token missing or wrong")
		}
	}
	return nil
}

// searchTraceQL is the TraceQL of the recorded search answer
// (testdata/tempo_search_traceql.json: it finds traceID).
const searchTraceQL = `{resource.service.name="go-proxy"}`

// newTempo serves the recorded v2 protobuf trace for traceID and the
// recorded search answer, after checking each request is the one Tempo's
// API expects; fault is served to both.
func newTempo(t testing.TB, fault httpFault, auth tempoAuth) *upstream {
	return newTempoFaults(t, fault, fault, auth)
}

// newTempoFaults is newTempo with one fault for the search API and another
// for the trace by ID.
func newTempoFaults(t testing.TB, searchFault, traceFault httpFault, auth tempoAuth) *upstream {
	body := fixture(t, "tempo_trace_v2.pb")
	search := fixture(t, "tempo_search_traceql.json")
	return newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/echo" { // the health check
			if err := auth.check(r); err != nil {
				t.Errorf("tempo health: %v", err)
			}
			_, _ = w.Write([]byte("echo"))
			return
		}
		if r.Method != http.MethodGet || (r.URL.Path != "/api/v2/traces/"+traceID && r.URL.Path != "/api/search") {
			t.Errorf("tempo: unexpected request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if err := auth.check(r); err != nil {
			t.Errorf("tempo: %v", err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/api/search" {
			q := r.URL.Query()
			if q.Get("q") != searchTraceQL || q.Get("start") == "" || q.Get("end") == "" || q.Get("limit") == "" {
				t.Errorf("tempo: unexpected search %s", r.URL.RawQuery)
			}
			serveFault(u, w, r, searchFault, "application/json", search)
			return
		}
		if got := r.Header.Get("Accept"); got != "application/protobuf" {
			t.Errorf("tempo: Accept %q", got)
		}
		serveFault(u, w, r, traceFault, "application/protobuf", body)
	})
}

// newLoki serves the recorded categorize-labels answer to query_range
// requests for traceID.
func newLoki(t testing.TB, fault httpFault, auth tempoAuth) *upstream {
	body := fixture(t, "loki_query_range_sm_filter_categorized.json")
	return newUpstream(t, func(u *upstream, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path { // the health check
		case "/ready":
			_, _ = w.Write([]byte("ready\n"))
			return
		case "/loki/api/v1/labels":
			if err := auth.check(r); err != nil {
				t.Errorf("loki health: %v", err)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"success","data":["service_name"]}`))
			return
		}
		if r.URL.Path != "/loki/api/v1/query_range" {
			t.Errorf("loki: unexpected request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if q := r.URL.Query().Get("query"); !strings.Contains(q, `trace_id="`+traceID+`"`) || !strings.HasPrefix(q, `{service_name=~".+"}`) {
			t.Errorf("loki: unexpected LogQL %q", q)
		}
		if r.URL.Query().Get("start") == "" || r.URL.Query().Get("end") == "" {
			t.Errorf("loki: no time range in %s", r.URL.RawQuery)
		}
		if err := auth.check(r); err != nil {
			t.Errorf("loki: %v", err)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		serveFault(u, w, r, fault, "application/json; charset=UTF-8", body)
	})
}

// Kafka topics of the tests: otlp_logs is what kafkaexporter writes
// (otlp_proto, keyed by trace ID), audit holds JSON lines of another shipper.
const (
	topicOTLP  = "otlp_logs"
	topicAudit = "audit"
)

func kafkaTopics() []map[string]any {
	return []map[string]any{
		{"name": topicOTLP, "encoding": "otlp_proto", "keyedByTraceId": true},
		{"name": topicAudit, "encoding": "json"},
	}
}

// fnv32a is the hash kafkaexporter hands to franz-go's sarama-compatible
// partitioner.
func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	_, _ = h.Write(b)
	return h.Sum32()
}

// newKafka starts a kfake cluster holding both topics, with one line of
// traceID in each (and a line of another trace in audit). opts add SASL,
// ACLs and so on; with SASL, produce authenticates as the admin superuser.
func newKafka(t testing.TB, sasl bool, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	base := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(4, topicOTLP), kfake.SeedTopics(1, topicAudit)}
	c, err := kfake.NewCluster(append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	popts := []kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))),
	}
	if sasl {
		popts = append(popts, kgo.SASL(plain.Auth{User: kafkaAdmin, Pass: kafkaAdminPw}.AsMechanism()))
	}
	p, err := kgo.NewClient(popts...)
	require.NoError(t, err)
	defer p.Close()
	ctx := ctxT(t, 30*time.Second)
	recs := []*kgo.Record{
		{Topic: topicOTLP, Key: []byte(traceID), Value: otlpLogLine(t, traceID, spanGoAPI, "kafka: order list served", time.Unix(0, fixtureTSS*1e9+300e6)), Timestamp: exportTime},
		{Topic: topicAudit, Value: []byte(fmt.Sprintf(`{"time":%q,"level":"info","msg":"audit: orders read by user 42","trace_id":%q,"span_id":%q,"service":"rails-api"}`,
			time.Unix(0, fixtureTSS*1e9+310e6).UTC().Format(time.RFC3339Nano), traceID, spanRails)), Timestamp: exportTime},
		{Topic: topicAudit, Value: []byte(`{"msg":"audit: other request","trace_id":"` + otherTrace + `"}`), Timestamp: exportTime},
	}
	require.NoError(t, p.ProduceSync(ctx, recs...).FirstErr())
	return c
}

// otlpLogLine is one kafkaexporter otlp_proto message with one log record.
func otlpLogLine(t testing.TB, trace, span, body string, at time.Time) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "go-api")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	mustHex(t, tid[:], trace)
	mustHex(t, sid[:], span)
	lr.SetTraceID(tid)
	lr.SetSpanID(sid)
	lr.Body().SetStr(body)
	lr.SetSeverityText("INFO")
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return b
}

func mustHex(t testing.TB, dst []byte, s string) {
	_, err := hex.Decode(dst, []byte(s))
	require.NoError(t, err)
}

// countRequests counts every request the cluster receives (produce included:
// call it after seeding).
func countRequests(c *kfake.Cluster) *atomic.Int32 {
	var n atomic.Int32
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n.Add(1)
		return nil, nil, false
	})
	return &n
}

// result is what one RefID of a QueryData answer told the user.
type result struct {
	err     error
	status  backend.Status
	notices []string
	// traces is the rows of a search frame (-1 without one); spans the
	// trace frame's rows, or the sum of a search frame's spans column.
	traces int
	spans  int
	// logs counts log lines by their source column ("loki", "kafka:audit", …).
	logs   map[string]int
	frames data.Frames
}

func resultOf(t testing.TB, resp *backend.QueryDataResponse, refID string) result {
	t.Helper()
	r, ok := resp.Responses[refID]
	require.True(t, ok, "no response for RefID %s", refID)
	out := result{err: r.Error, status: r.Status, logs: map[string]int{}, frames: r.Frames, traces: -1}
	for _, f := range r.Frames {
		if f.Meta != nil {
			for _, n := range f.Meta.Notices {
				out.notices = append(out.notices, n.Text)
			}
		}
		switch f.Name {
		case "trace":
			out.spans = f.Rows()
		case "search":
			out.traces = f.Rows()
			for _, fl := range f.Fields {
				if fl.Name != "spans" && fl.Name != "loki" && !strings.HasPrefix(fl.Name, "kafka:") {
					continue
				}
				for i := 0; i < f.Rows(); i++ {
					v, _ := fl.ConcreteAt(i)
					n, ok := v.(int64)
					require.True(t, ok, "search column %s holds %T", fl.Name, v)
					if fl.Name == "spans" {
						out.spans += int(n)
					} else if n > 0 {
						out.logs[fl.Name] += int(n)
					}
				}
			}
		case "logs":
			idx := -1
			for i, fl := range f.Fields {
				if fl.Name == "source" {
					idx = i
				}
			}
			require.GreaterOrEqual(t, idx, 0, "logs frame has no source field")
			for i := 0; i < f.Rows(); i++ {
				v, _ := f.Fields[idx].ConcreteAt(i)
				s, _ := v.(string)
				for _, src := range strings.Split(s, ",") {
					out.logs[src]++
				}
			}
		}
	}
	return out
}

// logSummary renders the log counts in a stable order.
func (r result) logSummary() string {
	keys := make([]string, 0, len(r.logs))
	for k := range r.logs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.logs[k]))
	}
	if len(parts) == 0 {
		return "no logs"
	}
	return strings.Join(parts, ", ")
}

var (
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	// Go's HTTP client words the same client timeout three ways, depending
	// on which goroutine notices it first.
	clientTimeoutRE = regexp.MustCompile(`net/http: request canceled \(Client\.Timeout exceeded while awaiting headers\)|` +
		`net/http: timeout awaiting response headers( \(Client\.Timeout exceeded while awaiting headers\))?|` +
		`context deadline exceeded \(Client\.Timeout exceeded while awaiting headers\)`)
	// ...or as a bare context error after the source's own words.
	tempoTimeoutRE = regexp.MustCompile(`((?:did not answer within \S+|is unreachable): )context deadline exceeded`)
)

// stable replaces what changes between runs (ports) so outcomes can be
// compared with the committed docs/FAULTS.md.
func stable(s string) string {
	s = portRE.ReplaceAllString(s, "127.0.0.1:PORT")
	s = clientTimeoutRE.ReplaceAllString(s, "(Go HTTP client timeout)")
	s = tempoTimeoutRE.ReplaceAllString(s, "${1}(Go HTTP client timeout)")
	// Upstream bytes that reach a message (a bug, see FAULTS.md) must not
	// make the document binary.
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f {
			return '�'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return strings.ReplaceAll(s, "|", `\|`)
}

// searchQuery asks the plugin for the recorded search over the panel range.
func searchQuery(refID string, model map[string]any) backend.DataQuery {
	model["queryType"], model["traceql"] = "search", searchTraceQL
	return harness.Query(refID, model, panelFrom, panelTo)
}

// query asks the plugin for traceID over the panel range.
func query(refID string, model map[string]any) backend.DataQuery {
	if _, ok := model["traceId"]; !ok {
		model["traceId"] = traceID
	}
	return harness.Query(refID, model, panelFrom, panelTo)
}

var uidSeq atomic.Int64

// settings builds datasource settings with a fresh UID, so the plugin
// builds a new instance for them.
func settings(jsonData map[string]any, secure map[string]string) harness.Settings {
	return harness.Settings{
		UID:      fmt.Sprintf("tw-reliability-%d", uidSeq.Add(1)),
		Name:     "Traceweave",
		JSONData: jsonData,
		Secure:   secure,
	}
}

// basic is the Authorization header value of basic auth, itself a secret.
func basic(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// frameText is every string a user could read in the frames: names,
// values, notices, links, as JSON.
func frameText(t testing.TB, fs data.Frames) string {
	var b strings.Builder
	for _, f := range fs {
		j, err := json.Marshal(f)
		require.NoError(t, err)
		b.Write(j)
		if f.Meta != nil {
			m, err := json.Marshal(f.Meta)
			require.NoError(t, err)
			b.Write(m)
		}
		for _, fl := range f.Fields {
			if fl.Config != nil {
				c, err := json.Marshal(fl.Config)
				require.NoError(t, err)
				b.Write(c)
			}
		}
	}
	return b.String()
}
