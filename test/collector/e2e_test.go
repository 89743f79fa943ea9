package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/collector/pdata/plog"
	"gopkg.in/yaml.v3"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/internal/upstreamtest"
)

// topicJSON is the otlp_json topic the test adds to the deploy config
// (overlay below): the compose stack ships no otlp_json topic, but
// Traceweave supports the encoding, so the real exporter's output is checked
// here (docs/COLLECTOR.md).
const topicJSON = "otlp_logs_json"

// overlay is merged over deploy/otel-collector.yaml: one more kafkaexporter
// writing the application logs as otlp_json, keyed like otlp_logs, and the
// collector's own telemetry kept off loopback ports other tests may hold.
const overlay = `
exporters:
  kafka/otlp_json:
    brokers: ${env:OTELCOL_KAFKA_BROKERS}
    logs:
      topic: ` + topicJSON + `
      encoding: otlp_json
    partition_logs_by_trace_id: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs/app:
      exporters: [otlp_http/loki, kafka/otlp_logs, kafka/otlp_json]
`

// composePartitions reads the partition count of each topic kafka-init
// creates in docker-compose.yaml, so kfake has the stack's topics.
func composePartitions(t *testing.T) map[string]int32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int32{}
	for _, m := range regexp.MustCompile(`--topic (\S+) --partitions (\d+)`).FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = int32(n)
	}
	for _, name := range []string{"otlp_logs", "audit", "syslog"} {
		if out[name] == 0 {
			t.Fatalf("docker-compose.yaml kafka-init creates no topic %s", name)
		}
	}
	return out
}

// saramaPartition is the partition kafkaexporter's default partitioner
// (sticky_key, sarama_compat hasher: FNV-1a 32, as a signed int, modulo,
// made positive) gives a key, written here from that definition rather than
// taken from pkg/kafka, whose PartitionFor is what is being checked.
func saramaPartition(key []byte, n int32) int32 {
	h := fnv.New32a()
	_, _ = h.Write(key)
	p := int32(h.Sum32()) % n
	if p < 0 {
		p = -p
	}
	return p
}

// provisionedSettings returns the jsonData of the provisioned Traceweave
// datasource (provisioning/datasources/datasources.yaml): the topic settings
// the stack ships are the ones checked against the real collector.
func provisionedSettings(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "provisioning", "datasources", "datasources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct {
			UID      string         `yaml:"uid"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, ds := range f.Datasources {
		if ds.UID == "traceweave" {
			return ds.JSONData
		}
	}
	t.Fatal("no datasource uid traceweave provisioned")
	return nil
}

// wantLine is a log line of the searched trace as its writer wrote it.
type wantLine struct {
	topics []string // the Kafka topics it must be found in (the frame's source lists each)
	body   string   // the body the logs frame must show
	spanID string   // the span the line belongs to
	// ts is the line's own time as its writer wrote it, to the writer's
	// precision prec; zero for syslog lines, whose RFC 3164 time the plugin
	// does not read (docs/COLLECTOR.md).
	ts   time.Time
	prec time.Duration
}

func (w wantLine) String() string { return fmt.Sprintf("%v %s %q", w.topics, w.spanID, w.body) }

// source is the logs frame's source of the line: its topics, merged.
func (w wantLine) source() string {
	s := make([]string, len(w.topics))
	for i, t := range w.topics {
		s[i] = "kafka:" + t
	}
	return strings.Join(s, ",")
}

// fetchLog records the partitions of each topic the plugin fetches.
type fetchLog struct {
	on    atomic.Bool
	mu    sync.Mutex
	ids   map[[16]byte]string
	parts map[string]map[int32]bool
}

func (f *fetchLog) record(req *kmsg.FetchRequest) {
	if !f.on.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rt := range req.Topics {
		name := rt.Topic
		if name == "" {
			name = f.ids[rt.TopicID]
		}
		if f.parts[name] == nil {
			f.parts[name] = map[int32]bool{}
		}
		for _, rp := range rt.Partitions {
			f.parts[name][rp.Partition] = true
		}
	}
}

func (f *fetchLog) partitions(topic string) []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int32
	for p := range f.parts[topic] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TestCollectorToPlugin is the end-to-end check: go-proxy → go-api (real
// MariaDB and Redis, a stand-in for rails-api) export OTLP to the real
// collector running deploy/otel-collector.yaml; it writes spans to a test
// Tempo and logs to kfake through kafkaexporter (otlp_logs as otlp_proto,
// otlp_logs_json as otlp_json, audit and syslog as raw from file_log), and
// the built plugin must find every line of the request's trace exactly once,
// reading one partition of each keyed topic, each line on its span.
func TestCollectorToPlugin(t *testing.T) {
	pluginBinary(t)
	bins := demoBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Kafka with the stack's topics, plus the otlp_json one (keyed like otlp_logs).
	parts := composePartitions(t)
	parts[topicJSON] = parts["otlp_logs"]
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for name, n := range parts {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	fetches := &fetchLog{ids: map[[16]byte]string{}, parts: map[string]map[int32]bool{}}
	cluster.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		fetches.record(req.(*kmsg.FetchRequest))
		return nil, nil, false
	})
	brokers := cluster.ListenAddrs()

	tempo := startFakeTempo(t)
	loki := startFakeLoki(t)
	logDir := t.TempDir()
	auditPath := filepath.Join(logDir, "audit.log")
	syslogPath := filepath.Join(logDir, "syslog")

	otlpHTTP, health := upstreamtest.ClosedAddr(t), upstreamtest.ClosedAddr(t)
	for k, v := range map[string]string{
		"OTELCOL_OTLP_GRPC_ENDPOINT": upstreamtest.ClosedAddr(t),
		"OTELCOL_OTLP_HTTP_ENDPOINT": otlpHTTP,
		"OTELCOL_HEALTH_ENDPOINT":    health,
		"OTELCOL_AUDIT_LOG":          auditPath,
		"OTELCOL_SYSLOG":             syslogPath,
		"OTELCOL_TEMPO_ENDPOINT":     tempo.GRPCAddr,
		"OTELCOL_LOKI_ENDPOINT":      loki.HTTP.URL + "/otlp",
		"OTELCOL_KAFKA_BROKERS":      strings.Join(brokers, ","),
	} {
		t.Setenv(k, v)
	}
	col := startCollector(t, ctx, health, deployConfig(t), writeFile(t, "overlay.yaml", overlay))

	// The demo services with the environment compose gives them, pointed at
	// the local collector, databases and rails stand-in.
	rails := fakeRails(t, auditPath)
	otlp := "http://" + otlpHTTP
	dsn := envOr("DEMO_MYSQL_DSN", "demo:demo@tcp(127.0.0.1:3306)/demo?parseTime=true")
	redisAddr := envOr("DEMO_REDIS_ADDR", "127.0.0.1:6379")
	for _, addr := range []string{regexp.MustCompile(`tcp\(([^)]+)\)`).FindStringSubmatch(dsn + "tcp()")[1], redisAddr} {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("go-api needs MariaDB and Redis (bash demo/scripts/start-test-dbs.sh): %v", err)
		}
		_ = conn.Close()
	}
	apiAddr, proxyAddr := upstreamtest.ClosedAddr(t), upstreamtest.ClosedAddr(t)
	api := startService(t, ctx, filepath.Join(bins, "go-api"), apiAddr, map[string]string{
		"LISTEN_ADDR": apiAddr, "MYSQL_DSN": dsn, "REDIS_ADDR": redisAddr, "RAILS_URL": rails.URL,
		"SYSLOG_FILE": syslogPath, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_SERVICE_NAME": "go-api",
	})
	proxy := startService(t, ctx, filepath.Join(bins, "go-proxy"), proxyAddr, map[string]string{
		"LISTEN_ADDR": proxyAddr, "UPSTREAM_URL": "http://" + apiAddr,
		"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_SERVICE_NAME": "go-proxy",
	})

	// The searched trace and another one whose lines must not show up. The
	// caller's traceparent sets the trace ID (as loadgen's does); its span is
	// not exported, so go-proxy's server span is the trace's root.
	n := parts["otlp_logs"]
	traceID := randomHex(t, 16)
	for saramaPartition([]byte(traceID), n) == 0 { // partition 0 would hide a reader stuck on 0
		traceID = randomHex(t, 16)
	}
	other := randomHex(t, 16)
	start := time.Now()
	for _, id := range []string{traceID, other} {
		body := strings.NewReader(`{"user_id": 1, "item": "collector-test widget & <gadget>", "quantity": 2}`)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+proxyAddr+"/orders", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+id+"-"+randomHex(t, 8)+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /orders: %s\ngo-api stderr:\n%s", resp.Status, api.stderr.String())
		}
	}
	proxy.stop(t)
	api.stop(t)

	// What the writers wrote for the searched trace: the services' JSON
	// stdout (the same records their OTLP log exporters sent), go-api's
	// syslog file and the stand-in's audit.log.
	var want []wantLine
	otlpLines := 0
	for _, s := range []*service{proxy, api} {
		for _, m := range s.jsonLines(t) {
			if m["trace_id"] == traceID {
				otlpLines++
				// slog's JSON handler writes the record's time (RFC 3339, to
				// the nanosecond), the OTLP record carries the same time.
				ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, wantLine{topics: []string{"otlp_logs", topicJSON}, body: m["msg"].(string), spanID: m["span_id"].(string), ts: ts, prec: time.Nanosecond})
			}
		}
	}
	syslogLines := linesWith(t, syslogPath, "trace_id="+traceID)
	for _, l := range syslogLines {
		want = append(want, wantLine{topics: []string{"syslog"}, body: l, spanID: regexp.MustCompile(`span_id=([0-9a-f]{16})`).FindStringSubmatch(l)[1]})
	}
	auditLines := linesWith(t, auditPath, `"trace_id":"`+traceID+`"`)
	for _, l := range auditLines {
		var ev auditEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339Nano, ev.Time)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, wantLine{topics: []string{"audit"}, body: ev.Message, spanID: ev.SpanID, ts: ts, prec: time.Microsecond})
	}
	if otlpLines < 3 || len(syslogLines) != otlpLines-countService(t, proxy, traceID) || len(auditLines) != 1 {
		t.Fatalf("the services wrote %d OTLP lines, %d syslog lines, %d audit lines for the trace; want >= 3, one syslog line per go-api line, 1",
			otlpLines, len(syslogLines), len(auditLines))
	}

	// Wait until the collector has written all of them to Kafka, then stop
	// it (a clean shutdown, flushing every exporter).
	recs := consumeUntil(t, ctx, brokers, func(r map[string][]*kgo.Record) bool {
		return otlpCount(t, r["otlp_logs"], traceID, false) == otlpLines &&
			otlpCount(t, r[topicJSON], traceID, true) == otlpLines &&
			rawCount(r["syslog"], "trace_id="+traceID) == len(syslogLines) &&
			rawCount(r["audit"], traceID) == len(auditLines)
	}, col)
	col.stop(t)
	if loki.count() == 0 {
		t.Error("the otlp_http/loki exporter sent no log record to the Loki stand-in")
	}

	checkWire(t, recs, n, traceID, syslogLines, auditLines, start)

	// The built plugin, with the provisioned settings pointed at the fakes.
	settings := provisionedSettings(t)
	settings["tempo"].(map[string]any)["url"] = tempo.HTTP.URL
	delete(settings, "loki") // the Loki stand-in serves no query API
	kafka := settings["kafka"].(map[string]any)
	kafka["brokers"] = brokers
	kafka["topics"] = append(kafka["topics"].([]any), map[string]any{
		"name": topicJSON, "encoding": "otlp_json", "keyedByTraceId": true, "hasher": "sarama_compat",
	})
	adm := kadm.NewClient(newClient(t, brokers))
	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range details {
		fetches.ids[d.ID] = name
	}

	p := harness.Start(t)
	fetches.on.Store(true)
	resp, err := p.QueryData(ctx, harness.Settings{UID: "traceweave", JSONData: settings},
		harness.Query("A", map[string]any{"traceId": traceID, "queryType": "timeline"}, start.Add(-time.Minute), time.Now().Add(time.Minute)))
	fetches.on.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Responses["A"]
	if r.Error != nil {
		t.Fatalf("query: %v\n%s", r.Error, p.Logs())
	}
	for _, topic := range []string{"otlp_logs", topicJSON} {
		if got, w := fetches.partitions(topic), []int32{saramaPartition([]byte(traceID), n)}; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("the plugin fetched partitions %v of %s, want only %v (the trace ID key's)", got, topic, w)
		}
	}
	// Unkeyed topics: every partition holding a line of the trace is read.
	for topic, sub := range map[string]string{"audit": traceID, "syslog": "trace_id=" + traceID} {
		got := fmt.Sprint(fetches.partitions(topic))
		for _, rec := range recs[topic] {
			if bytes.Contains(rec.Value, []byte(sub)) && !strings.Contains(" "+strings.Trim(got, "[]")+" ", fmt.Sprintf(" %d ", rec.Partition)) {
				t.Errorf("the plugin fetched partitions %s of unkeyed %s, not %d, which holds a line of the trace", got, topic, rec.Partition)
			}
		}
	}
	checkFrames(t, r.Frames, traceID, want, tempo)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// countService counts the JSON lines of s for the trace.
func countService(t *testing.T, s *service, traceID string) int {
	n := 0
	for _, m := range s.jsonLines(t) {
		if m["trace_id"] == traceID {
			n++
		}
	}
	return n
}

// linesWith returns the lines of the file that contain sub.
func linesWith(t *testing.T, path, sub string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

func newClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeUntil reads every topic from the start until done holds for the
// records read so far, or fails the test when ctx ends first.
func consumeUntil(t *testing.T, ctx context.Context, brokers []string, done func(map[string][]*kgo.Record) bool, col *runningCollector) map[string][]*kgo.Record {
	t.Helper()
	cl := newClient(t, brokers, kgo.ConsumeTopics("otlp_logs", topicJSON, "audit", "syslog"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	recs := map[string][]*kgo.Record{}
	for !done(recs) {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			counts := map[string]int{}
			for k, v := range recs {
				counts[k] = len(v)
			}
			t.Fatalf("the collector did not write every line of the trace to Kafka: records per topic %v\n%s", counts, col.logs.String())
		}
		fs.EachRecord(func(r *kgo.Record) { recs[r.Topic] = append(recs[r.Topic], r) })
	}
	return recs
}

// otlpLogs decodes an otlp_proto or otlp_json record value.
func otlpLogs(t *testing.T, r *kgo.Record, jsonEnc bool) plog.Logs {
	t.Helper()
	var (
		ld  plog.Logs
		err error
	)
	if jsonEnc {
		ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(r.Value)
	} else {
		ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(r.Value)
	}
	if err != nil {
		t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
	}
	return ld
}

// traceIDsOf returns the trace IDs of every log record (hex, "" for none).
func traceIDsOf(ld plog.Logs) []string {
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, hexID(lr.TraceID()))
			}
		}
	}
	return out
}

func hexID(id [16]byte) string {
	if id == ([16]byte{}) {
		return ""
	}
	return fmt.Sprintf("%x", id[:])
}

// otlpCount counts the log records of the trace in OTLP records.
func otlpCount(t *testing.T, recs []*kgo.Record, traceID string, jsonEnc bool) int {
	n := 0
	for _, r := range recs {
		for _, id := range traceIDsOf(otlpLogs(t, r, jsonEnc)) {
			if id == traceID {
				n++
			}
		}
	}
	return n
}

// rawCount counts raw records whose value contains sub.
func rawCount(recs []*kgo.Record, sub string) int {
	n := 0
	for _, r := range recs {
		if bytes.Contains(r.Value, []byte(sub)) {
			n++
		}
	}
	return n
}

// checkWire states what kafkaexporter v0.165 writes per encoding
// (docs/COLLECTOR.md): a release that changes one of these fails here.
func checkWire(t *testing.T, recs map[string][]*kgo.Record, n int32, traceID string, syslogLines, auditLines []string, start time.Time) {
	t.Helper()
	for _, topic := range []string{"otlp_logs", topicJSON, "audit", "syslog"} {
		for _, r := range recs[topic] {
			if len(r.Headers) != 0 {
				t.Errorf("%s/%d@%d: headers %v, want none", topic, r.Partition, r.Offset, r.Headers)
			}
			// The record timestamp is the producer's clock when the exporter
			// sent the batch, not the log line's time.
			if r.Timestamp.Before(start.Truncate(time.Millisecond)) {
				t.Errorf("%s/%d@%d: timestamp %v before the requests (%v)", topic, r.Partition, r.Offset, r.Timestamp, start)
			}
		}
	}
	if testing.Verbose() { // one record of the trace per topic, as written
		for topic, sub := range map[string]string{"otlp_logs": "", topicJSON: traceID, "audit": traceID, "syslog": traceID} {
			for _, r := range recs[topic] {
				if (sub == "" && string(r.Key) == traceID) || (sub != "" && bytes.Contains(r.Value, []byte(sub))) {
					t.Logf("%s/%d@%d key=%q headers=%d timestamp=%s value(%d bytes)=%.400q",
						topic, r.Partition, r.Offset, r.Key, len(r.Headers), r.Timestamp.Format(time.RFC3339Nano), len(r.Value), r.Value)
					break
				}
			}
		}
	}
	// otlp_proto and otlp_json, partition_logs_by_trace_id: one record per
	// trace ID, key = the 32 lowercase hex digits, partition = sarama_compat
	// hash of the key; records without a trace ID have no key.
	for _, topic := range []string{"otlp_logs", topicJSON} {
		found := 0
		for _, r := range recs[topic] {
			ids := traceIDsOf(otlpLogs(t, r, topic == topicJSON))
			for _, id := range ids {
				if id != ids[0] {
					t.Errorf("%s/%d@%d holds trace IDs %v, want one trace per record", topic, r.Partition, r.Offset, ids)
					break
				}
			}
			if ids[0] == "" {
				if r.Key != nil {
					t.Errorf("%s/%d@%d: lines without a trace ID keyed %q, want no key", topic, r.Partition, r.Offset, r.Key)
				}
				continue
			}
			if string(r.Key) != ids[0] {
				t.Errorf("%s/%d@%d: key %q, want the trace ID %s", topic, r.Partition, r.Offset, r.Key, ids[0])
			}
			if want := saramaPartition(r.Key, n); r.Partition != want {
				t.Errorf("%s/%d@%d: key %s on partition %d, want %d", topic, r.Partition, r.Offset, r.Key, r.Partition, want)
			}
			if ids[0] == traceID {
				found++
			}
		}
		if found == 0 {
			t.Errorf("%s: no record of the trace", topic)
		}
		if topic == topicJSON {
			for _, r := range recs[topic] {
				if string(r.Key) == traceID && !bytes.Contains(r.Value, []byte(`"traceId":"`+traceID+`"`)) {
					t.Errorf("%s: otlp_json value does not carry the trace ID as a hex string: %.300s", topic, r.Value)
				}
			}
		}
	}
	// raw: the body alone, no key; a string body (syslog) JSON-quoted with
	// encoding/json's HTML escaping, a map body (audit, json_parser) as a
	// JSON object.
	for _, l := range syslogLines {
		quoted, _ := json.Marshal(l)
		if c := countValue(recs["syslog"], quoted); c != 1 {
			t.Errorf("syslog: %d records are the line JSON-quoted (%s), want 1", c, quoted)
		}
		if strings.ContainsAny(l, "<>&") && !bytes.Contains(quoted, []byte(`\u00`)) {
			t.Errorf("syslog line %q: want <, > and & escaped as \\u00XX in the record", l)
		}
	}
	for _, l := range auditLines {
		var line, got map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		matched := 0
		for _, r := range recs["audit"] {
			if r.Key != nil {
				t.Errorf("audit/%d@%d: key %q, want none", r.Partition, r.Offset, r.Key)
			}
			if json.Unmarshal(r.Value, &got) == nil && fmt.Sprint(got) == fmt.Sprint(line) {
				matched++
				if r.Value[0] != '{' {
					t.Errorf("audit/%d@%d: value %.100s, want a JSON object", r.Partition, r.Offset, r.Value)
				}
			}
		}
		if matched != 1 {
			t.Errorf("audit: %d records are the line's object, want 1: %s", matched, l)
		}
	}
	for _, r := range recs["syslog"] {
		if r.Key != nil {
			t.Errorf("syslog/%d@%d: key %q, want none", r.Partition, r.Offset, r.Key)
		}
	}
}

func countValue(recs []*kgo.Record, v []byte) int {
	n := 0
	for _, r := range recs {
		if bytes.Equal(r.Value, v) {
			n++
		}
	}
	return n
}

// checkFrames wants every line of want in the logs frame exactly once, from
// its topic, on its span, and in the trace frame's logs of that span.
func checkFrames(t *testing.T, frames data.Frames, traceID string, want []wantLine, tempo *fakeTempo) {
	t.Helper()
	byName := map[string]*data.Frame{}
	for _, f := range frames {
		byName[f.Name] = f
	}
	logs, trace := byName["logs"], byName["trace"]
	if logs == nil || trace == nil {
		t.Fatalf("frames %v, want trace and logs", frameNames(frames))
	}
	col := func(f *data.Frame, name string) *data.Field {
		fld, _ := f.FieldByName(name)
		if fld == nil {
			t.Fatalf("frame %s has no field %s", f.Name, name)
		}
		return fld
	}
	bodies, spans, sources, traces := col(logs, "body"), col(logs, "spanId"), col(logs, "source"), col(logs, "traceId")
	type row struct {
		body, span, source string
		ts                 time.Time
	}
	var rows []row
	for i := 0; i < logs.Rows(); i++ {
		if traces.At(i).(string) != traceID {
			t.Errorf("logs frame row %d: trace %v", i, traces.At(i))
		}
		rows = append(rows, row{bodies.At(i).(string), spans.At(i).(string), sources.At(i).(string), col(logs, "timestamp").At(i).(time.Time)})
	}
	used := make([]bool, len(rows))
	for _, w := range want {
		matches := 0
		for i, r := range rows {
			if r.body != w.body {
				continue
			}
			matches++
			used[i] = true
			if r.span != w.spanID {
				t.Errorf("line %s attached to span %s", w, r.span)
			}
			if !w.ts.IsZero() && !r.ts.Truncate(w.prec).Equal(w.ts.Truncate(w.prec)) {
				t.Errorf("line %s at %s, want its own time %s", w, r.ts.Format(time.RFC3339Nano), w.ts.Format(time.RFC3339Nano))
			}
			if r.source != w.source() {
				t.Errorf("line %s has source %q, want %q", w, r.source, w.source())
			}
		}
		if matches != 1 {
			t.Errorf("line %s found %d times in the logs frame, want once", w, matches)
		}
	}
	for i, r := range rows {
		if !used[i] {
			t.Errorf("logs frame row %d not written for the trace: %+v", i, r)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("logs frame (%d rows, %d lines written for the trace):\n%s", len(rows), len(want), logsTable(rows))
	}

	// The spans came through the collector too; each line's span is in the
	// trace frame and its logs cell holds the line.
	spanIDs, logCells := col(trace, "spanID"), col(trace, "logs")
	if trace.Rows() != tempo.trace(traceID).SpanCount() || trace.Rows() < 3 {
		t.Errorf("trace frame has %d spans, the test Tempo holds %d", trace.Rows(), tempo.trace(traceID).SpanCount())
	}
	cells := map[string]string{}
	for i := 0; i < trace.Rows(); i++ {
		cell := logCells.At(i)
		var s string
		switch v := cell.(type) {
		case json.RawMessage:
			s = string(v)
		case *json.RawMessage:
			if v != nil {
				s = string(*v)
			}
		default:
			s = fmt.Sprint(v)
		}
		cells[spanIDs.At(i).(string)] = s
	}
	for _, w := range want {
		cell, ok := cells[w.spanID]
		if !ok {
			t.Errorf("line %s: span %s not in the trace frame", w, w.spanID)
			continue
		}
		var q bytes.Buffer // the body as a JSON string, as the frame's cell writes it (no HTML escaping)
		enc := json.NewEncoder(&q)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(w.body)
		if !strings.Contains(cell, strings.TrimSpace(q.String())) {
			t.Errorf("line %s: not in the logs of span %s in the trace frame: %.500s", w, w.spanID, cell)
		}
	}
}

func frameNames(fs data.Frames) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func logsTable[T any](rows []T) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "  %+v\n", r)
	}
	return b.String()
}
