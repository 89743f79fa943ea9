package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/models"
)

// world is the shared fixture of every benchmark: the nine traces, the fake
// Tempo and Loki, and the kfake cluster holding the 1M-record archive. It is
// built once per process (producing 1M records takes seconds) and torn down
// by TestMain.
type world struct {
	cases   map[string]*traceCase
	tempo   *tempoServer
	loki    *lokiServer
	cluster *kfake.Cluster
	errs    *upstreamErrors
	// produced is the number of records in the archive; produceTime how long
	// producing them took.
	produced    int
	produceTime time.Duration
	// inWindow[traceID][topic][partition] tallies the archive records whose
	// timestamp lies in the trace's window: what an ideal reader fetches.
	inWindow map[string]map[string][]tally
	// topicTotal is the archive's records and payload bytes per topic.
	topicTotal map[string]tally
}

// tally counts records and their key+value bytes.
type tally struct{ records, bytes int64 }

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

// getWorld returns the shared world, building it on first use.
func getWorld(tb testing.TB) *world {
	tb.Helper()
	worldOnce.Do(func() { theWorld, worldErr = buildWorld() })
	if worldErr != nil {
		tb.Fatalf("building the benchmark world: %v", worldErr)
	}
	return theWorld
}

// closeWorld stops the servers and the cluster, if they were started.
func closeWorld() {
	if theWorld == nil {
		return
	}
	theWorld.tempo.Close()
	theWorld.loki.Close()
	theWorld.cluster.Close()
}

func buildWorld() (*world, error) {
	rng := newTestRand()
	w := &world{cases: newCases(rng), errs: &upstreamErrors{}}
	metrics, err := tempoMetrics()
	if err != nil {
		return nil, err
	}
	tempoBodies := map[string][]byte{}
	lokiBodies := map[string][]lokiValue{}
	var found []foundTrace
	for _, tc := range w.cases {
		if err := tc.buildSpans(metrics); err != nil {
			return nil, err
		}
		tempoBodies[tc.traceID] = tc.tempoBody
		lokiBodies[tc.traceID] = tc.lokiValues()
		if f, ok := tc.found(); ok {
			found = append(found, f)
		}
	}
	w.tempo = newTempoServer(tempoBodies, found, w.errs)
	w.loki = newLokiServer(lokiBodies, w.errs)
	w.cluster, err = kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(partsOTLP, topicOTLP), kfake.SeedTopics(partsAudit, topicAudit), kfake.SeedTopics(partsSyslog, topicSyslog))
	if err != nil {
		return nil, err
	}
	recs, err := w.archive(rng)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := w.produce(recs); err != nil {
		return nil, err
	}
	w.produceTime = time.Since(t0)
	w.produced = len(recs)
	return w, nil
}

// fnv32a is the FNV-1a that kafkaexporter hands to kgo.SaramaCompatHasher.
func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	_, _ = h.Write(b)
	return h.Sum32()
}

// produce writes the records in timestamp order the way kafkaexporter does
// (franz-go, sarama-compatible FNV-1a key partitioner, no compression), in
// 64 KiB batches so the timestamp seek has batch boundaries to work with.
func (w *world) produce(recs []*kgo.Record) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(w.cluster.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))),
		kgo.ProducerBatchMaxBytes(64<<10),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(1<<16),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	for _, r := range recs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if firstErr != nil {
		return firstErr
	}
	return w.tallyWindows(recs)
}

// tallyWindows counts, per trace window, topic and partition, the records
// an ideal reader would fetch (partitions are known once produced).
func (w *world) tallyWindows(recs []*kgo.Record) error {
	parts := map[string]int{topicOTLP: partsOTLP, topicAudit: partsAudit, topicSyslog: partsSyslog}
	w.inWindow = map[string]map[string][]tally{}
	w.topicTotal = map[string]tally{}
	type win struct {
		id     string
		lo, hi int64
	}
	var wins []win
	for _, tc := range w.cases {
		lo, hi := tc.window()
		wins = append(wins, win{tc.traceID, lo.UnixMilli(), hi.UnixMilli()})
		w.inWindow[tc.traceID] = map[string][]tally{}
		for t, n := range parts {
			w.inWindow[tc.traceID][t] = make([]tally, n)
		}
	}
	for _, r := range recs {
		size := int64(len(r.Key) + len(r.Value))
		tt := w.topicTotal[r.Topic]
		tt.records++
		tt.bytes += size
		w.topicTotal[r.Topic] = tt
		ms := r.Timestamp.UnixMilli()
		for _, x := range wins {
			if ms >= x.lo && ms <= x.hi {
				if int(r.Partition) >= parts[r.Topic] {
					return fmt.Errorf("record of %s produced to partition %d", r.Topic, r.Partition)
				}
				t := &w.inWindow[x.id][r.Topic][r.Partition]
				t.records++
				t.bytes += size
			}
		}
	}
	return nil
}

// otlpTemplate is a marshalled one-record ExportLogsServiceRequest with
// sentinel trace ID, span ID and time, patched per background record: a
// million pdata marshals would dominate the set-up.
type otlpTemplate struct {
	b                    []byte
	traceAt, spanAt, tAt int
}

var (
	sentinelTrace = [16]byte{0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa, 0xce, 0xca, 0xfe, 0xba, 0xbe, 0x0b, 0xad, 0xf0, 0x0d}
	sentinelSpan  = [8]byte{0x5e, 0x17, 0x5e, 0x17, 0x5e, 0x17, 0x5e, 0x17}
	sentinelTime  = time.Unix(0, 0x1122334455667788)
)

func newOTLPTemplate(service, body, level string) (otlpTemplate, error) {
	b, err := otlpRecord(service, body, level, sentinelTrace, sentinelSpan, sentinelTime)
	if err != nil {
		return otlpTemplate{}, err
	}
	var tb [8]byte
	binary.LittleEndian.PutUint64(tb[:], uint64(sentinelTime.UnixNano()))
	t := otlpTemplate{b: b, traceAt: bytes.Index(b, sentinelTrace[:]), spanAt: bytes.Index(b, sentinelSpan[:]), tAt: bytes.Index(b, tb[:])}
	if t.traceAt < 0 || t.spanAt < 0 || t.tAt < 0 {
		return t, fmt.Errorf("template sentinels not found")
	}
	return t, nil
}

func (t otlpTemplate) render(trace [16]byte, span [8]byte, at time.Time) []byte {
	out := bytes.Clone(t.b)
	copy(out[t.traceAt:], trace[:])
	copy(out[t.spanAt:], span[:])
	binary.LittleEndian.PutUint64(out[t.tAt:], uint64(at.UnixNano()))
	return out
}

// otlpRecord marshals one log record as kafkaexporter's otlp_proto encoding
// writes it (plog ExportLogsServiceRequest).
func otlpRecord(service, body, level string, trace [16]byte, span [8]byte, at time.Time) ([]byte, error) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	rl.Resource().Attributes().PutStr("deployment.environment", "bench")
	rl.Resource().Attributes().PutStr("host.name", "web-1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("traceweave-bench")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at.Add(exportDelay)))
	lr.SetTraceID(trace)
	lr.SetSpanID(span)
	lr.SetSeverityText(level)
	lr.Body().SetStr(body)
	lr.Attributes().PutStr("http.route", "/api/orders")
	lr.Attributes().PutStr("code.function", "OrdersController#index")
	return (&plog.ProtoMarshaler{}).MarshalLogs(ld)
}

// jsonLine is the audit topic's format: JSON lines from a log shipper.
// Written by hand, not with encoding/json: it runs a quarter million times
// while the archive is built.
func jsonLine(at time.Time, level, msg, trace, span, service string) []byte {
	b := make([]byte, 0, 320)
	b = append(b, `{"time":"`...)
	b = at.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`+level+`","message":`...)
	b = strconv.AppendQuote(b, msg) // msg is ASCII without escapes: Go and JSON quoting agree
	b = append(b, `,"trace_id":"`+trace+`","span_id":"`+span+`","service":"`+service+
		`","user":{"id":"42","role":"customer"},"http":{"method":"GET","status":200}}`...)
	return b
}

// rawLine is the syslog topic's format: kafkaexporter raw, a string body
// JSON-quoted, the trace ID only in the text.
func rawLine(at time.Time, level, msg, trace, span, service string) []byte {
	b, _ := json.Marshal(fmt.Sprintf("%s web-1 %s[812]: %s %s trace_id=%s span_id=%s",
		at.UTC().Format(time.RFC3339Nano), service, level, msg, trace, span))
	return b
}

// archive builds the 1M records: every benchmark trace's Kafka lines plus
// background lines of other traces spread evenly over the hour (half in the
// keyed otlp topic, a quarter in each unkeyed one), sorted by timestamp.
func (w *world) archive(rng *rand.Rand) ([]*kgo.Record, error) {
	var recs []*kgo.Record
	for _, tc := range w.cases {
		i := tc.lokiLogs
		for topic, n := range tc.kafkaLogs {
			for j := 0; j < n; j++ {
				l := tc.line(i, tc.logs)
				i++
				var sid [8]byte
				_, _ = hex.Decode(sid[:], []byte(l.spanID))
				r := &kgo.Record{Timestamp: l.at.Add(exportDelay)}
				switch topic {
				case 0:
					v, err := otlpRecord(l.service, l.body, l.level, tc.rawID, sid, l.at)
					if err != nil {
						return nil, err
					}
					r.Topic, r.Key, r.Value = topicOTLP, []byte(tc.traceID), v
				case 1:
					r.Topic, r.Value = topicAudit, jsonLine(l.at, l.level, l.body, tc.traceID, l.spanID, l.service)
				case 2:
					r.Topic, r.Value = topicSyslog, rawLine(l.at, l.level, l.body, tc.traceID, l.spanID, l.service)
				}
				recs = append(recs, r)
			}
		}
	}
	var tmpls []otlpTemplate
	for i, svc := range services {
		t, err := newOTLPTemplate(svc.name, fmt.Sprintf("GET /api/orders handled in %dms user=%d cache=hit", 7+i, 100+i), "info")
		if err != nil {
			return nil, err
		}
		tmpls = append(tmpls, t)
	}
	nb := totalKafkaRecords - len(recs)
	step := archiveSpan / time.Duration(nb)
	var trace [16]byte
	var traceHex string
	for j := 0; j < nb; j++ {
		if j%8 == 0 { // a background trace writes ~8 lines
			binary.BigEndian.PutUint64(trace[:8], rng.Uint64())
			binary.BigEndian.PutUint64(trace[8:], rng.Uint64())
			traceHex = hex.EncodeToString(trace[:])
		}
		var span [8]byte
		binary.BigEndian.PutUint64(span[:], rng.Uint64())
		at := archiveStart.Add(time.Duration(j) * step)
		svc := services[j%len(services)].name
		r := &kgo.Record{Timestamp: at.Add(exportDelay)}
		switch j % 4 {
		case 0, 1:
			r.Topic, r.Key, r.Value = topicOTLP, []byte(traceHex), tmpls[j%len(tmpls)].render(trace, span, at)
		case 2:
			r.Topic, r.Value = topicAudit, jsonLine(at, "info", fmt.Sprintf("audit: order %d viewed", j), traceHex, hex.EncodeToString(span[:]), svc)
		default:
			r.Topic, r.Value = topicSyslog, rawLine(at, "info", fmt.Sprintf("request %d done in %dms", j, j%90), traceHex, hex.EncodeToString(span[:]), svc)
		}
		recs = append(recs, r)
	}
	sort.SliceStable(recs, func(a, b int) bool { return recs[a].Timestamp.Before(recs[b].Timestamp) })
	return recs, nil
}

// settingsJSON is the datasource jsonData the benchmarks provision: the
// public contract's shape, pointing at the fakes. loki.maxTotalLines is
// raised so the 100k-line traces are not truncated at the 50k default.
//
// The benchmarks that repeat one query on one instance set cache.ttl "0s":
// with the default a repeated query inside 5 s is answered from the kept
// run, and they would time the frames alone (BenchmarkDashboardOpen and
// TestDashboardsUnderMemoryLimit use dashboardSettingsJSON, the defaults).
func (w *world) settingsJSON() []byte { return w.settingsJSONWith(0) }

// dashboardSettingsJSON is settingsJSON with the cache at its defaults.
func (w *world) dashboardSettingsJSON() []byte { return w.settingsJSONFor(0, nil) }

// settingsJSONWith is settingsJSON with loki.parallelQueries set (0: the
// default).
func (w *world) settingsJSONWith(lokiParallel int) []byte {
	return w.settingsJSONFor(lokiParallel, map[string]any{"ttl": "0s"})
}

func (w *world) settingsJSONFor(lokiParallel int, cache map[string]any) []byte {
	lk := map[string]any{"url": w.loki.URL, "maxTotalLines": 200_000}
	if lokiParallel > 0 {
		lk["parallelQueries"] = lokiParallel
	}
	b, _ := json.Marshal(map[string]any{
		"cache": cache,
		"tempo": map[string]any{"url": w.tempo.URL},
		"loki":  lk,
		"kafka": map[string]any{
			"brokers": w.cluster.ListenAddrs(),
			"topics": []map[string]any{
				{"name": topicOTLP, "encoding": models.EncodingOTLPProto, "keyedByTraceId": true, "hasher": models.HasherSaramaCompat},
				{"name": topicAudit, "encoding": models.EncodingJSON},
				{"name": topicSyslog, "encoding": models.EncodingRaw},
			},
		},
		"window": map[string]any{"before": windowBefore.String(), "after": windowAfter.String()},
	})
	return b
}

// settings decodes settingsJSON as the plugin does.
func (w *world) settings(tb testing.TB) *models.Settings {
	tb.Helper()
	s, err := models.LoadSettings(w.settingsJSON(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// kafkaWindow is the kafka.Window of a trace.
func kafkaWindow(tc *traceCase) kafka.Window {
	lo, hi := tc.window()
	return kafka.Window{Start: lo, End: hi}
}
