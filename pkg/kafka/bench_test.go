package kafka

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// benchMessage is one message of a BenchmarkPrefilterDecode case.
type benchMessage struct {
	kind  string
	value []byte
	match bool // it holds a record of the searched trace
}

// benchMessages returns, per encoding, a realistic message of another trace
// (the common case the prefilter must reject), one of the searched trace,
// and for raw and json the matching variants that take other paths of the
// decoder: a raw map body (read as a json line), and a json line with
// escapes, an array, a number time and upper-case keys.
func benchMessages(b testing.TB) map[string][]benchMessage {
	at := testBase
	attrs := map[string]any{"http.method": "GET", "http.route": "/api/orders", "http.status_code": 200}
	one := func(trace string) logSpec {
		return logSpec{trace: trace, span: "00f067aa0ba90202", body: "GET /api/orders completed in 12ms user=42 cache=miss", sevText: "INFO", at: at, attrs: attrs}
	}
	line := func(trace string) []byte {
		return []byte("<14>1 2026-11-14T10:00:02.125Z web-1 go-api 812 - - INFO GET /api/orders completed in 12ms user=42 trace_id=" + trace + " span_id=00f067aa0ba90202")
	}
	raw := func(trace string) []byte {
		q, _ := json.Marshal(string(line(trace)))
		return q
	}
	// A map body as kafkaexporter writes it: encoding/json, sorted keys.
	rawMap, _ := json.Marshal(map[string]any{"level": "info", "msg": "GET /api/orders completed in 12ms", "trace_id": testTrace, "span_id": "00f067aa0ba90202", "user": map[string]any{"id": "42"}})
	js := func(trace string) []byte {
		return []byte(`{"@timestamp":"2026-11-14T10:00:02.125Z","level":"info","message":"GET /api/orders completed in 12ms","user":{"id":"42"},"trace_id":"` + trace + `","span_id":"00f067aa0ba90202","service":"go-api"}`)
	}
	jsEscaped := []byte(`{"Time":1794650402.125,"Level":"error","Msg":"query \"orders\" failed:\n\tat db.go:42 \u003cnil\u003e","TraceID":"` + testTrace + `","SpanID":"00f067aa0ba90202","tags":["db","slow"],"http":{"Method":"GET","url":"/api/orders?id=1\u0026x=2"},"duration_ms":1532.5}`)
	pair := func(other, match []byte) []benchMessage {
		return []benchMessage{{kind: "nonmatching", value: other}, {kind: "matching", value: match, match: true}}
	}
	return map[string][]benchMessage{
		models.EncodingOTLPProto: pair(protoBytes(b, otlpLogs("go-api", one(otherTrace))), protoBytes(b, otlpLogs("go-api", one(testTrace)))),
		models.EncodingOTLPJSON:  pair(jsonBytes(b, otlpLogs("go-api", one(otherTrace))), jsonBytes(b, otlpLogs("go-api", one(testTrace)))),
		models.EncodingRaw:       append(pair(raw(otherTrace), raw(testTrace)), benchMessage{kind: "matching-map", value: rawMap, match: true}),
		models.EncodingJSON:      append(pair(js(otherTrace), js(testTrace)), benchMessage{kind: "matching-escaped", value: jsEscaped, match: true}),
		models.EncodingText:      pair(line(otherTrace), line(testTrace)),
	}
}

// BenchmarkPrefilterDecode measures the per-record cost of the prefilter and,
// for survivors, the decoder: the non-matching case is what a search spends
// nearly all its CPU on.
func BenchmarkPrefilterDecode(b *testing.B) {
	m, err := newTraceMatcher(testTrace)
	if err != nil {
		b.Fatal(err)
	}
	msgs := benchMessages(b)
	for _, enc := range []string{models.EncodingOTLPProto, models.EncodingOTLPJSON, models.EncodingRaw, models.EncodingJSON, models.EncodingText} {
		for _, msg := range msgs[enc] {
			value := msg.value
			b.Run(enc+"/"+msg.kind, func(b *testing.B) {
				pre := newPrefilter(enc, m)
				dec := decoderFor(enc)
				c := &recordContext{m: m, topic: "t", source: timeline.KafkaSource("t"), kafkaTimeNs: testBase.UnixNano()}
				var out []timeline.LogRecord
				found := 0
				b.SetBytes(int64(len(value)))
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					if !pre.match(value) {
						continue
					}
					out, err = dec(out[:0], value, c)
					if err != nil {
						b.Fatal(err)
					}
					found += len(out)
				}
				b.StopTimer()
				want := 0
				if msg.match {
					want = b.N
				}
				if found != want {
					b.Fatalf("found %d records, want %d", found, want)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkReadWindow reads a one-minute window of a 16-partition
// unkeyed text topic holding 100k records over ten minutes from kfake.
func BenchmarkReadWindow(b *testing.B) {
	const total = 100_000
	c := newCluster(b, kfake.SeedTopics(16, "syslog"))
	p := newProducer(b, c, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	recs := make([]*kgo.Record, total)
	step := 10 * time.Minute / total
	for i := range recs {
		trace := otherTrace
		if i%1000 == 0 {
			trace = testTrace
		}
		recs[i] = &kgo.Record{Topic: "syslog", Timestamp: testBase.Add(time.Duration(i) * step),
			Value: []byte(fmt.Sprintf("<14>1 web-1 go-api - - INFO request %d done in 12ms user=42 trace_id=%s", i, trace))}
	}
	produce(b, p, recs...)
	r := newTestReader(b, c, []models.KafkaTopic{{Name: "syslog", Encoding: models.EncodingText}})
	win := Window{Start: testBase.Add(4 * time.Minute), End: testBase.Add(5 * time.Minute)}
	b.ReportAllocs()
	b.ResetTimer()
	var scanned int64
	for n := 0; n < b.N; n++ {
		res := r.Read(testCtx(b, time.Minute), testTrace, win)
		tr := res.Topics[0]
		if tr.Err != nil || len(tr.Records) != 11 { // both window ends are inclusive
			b.Fatalf("err %v, %d records", tr.Err, len(tr.Records))
		}
		scanned += tr.Scanned
	}
	b.StopTimer()
	b.ReportMetric(float64(scanned)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(scanned)/float64(b.N), "scanned/op")
}

// BenchmarkPrefilterMany is the prefilter's cost on a message of none of the
// searched traces, searching 1 trace, and 20 at once with the multi-ID
// matcher and with 20 one-ID prefilters (what the multi-ID matcher saves).
func BenchmarkPrefilterMany(b *testing.B) {
	msgs := benchMessages(b)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x%016x", uint64(0x9e3779b97f4a7c15)*uint64(i+7), uint64(0xbf58476d1ce4e5b9)*uint64(i+3))
	}
	ids[0] = testTrace
	multi, err := newMultiMatcher(ids)
	if err != nil {
		b.Fatal(err)
	}
	for _, enc := range []string{models.EncodingOTLPProto, models.EncodingOTLPJSON, models.EncodingRaw, models.EncodingJSON, models.EncodingText} {
		value := msgs[enc][0].value // nonmatching
		many := newPrefilter(enc, multi)
		ones := make([]prefilter, len(ids))
		for i, id := range ids {
			m, err := newTraceMatcher(id)
			if err != nil {
				b.Fatal(err)
			}
			ones[i] = newPrefilter(enc, m)
		}
		for _, tc := range []struct {
			name  string
			match func() bool
		}{
			{"1", func() bool { return ones[0].match(value) }},
			{"20-multi", func() bool { return many.match(value) }},
			{"20-one-by-one", func() bool {
				for i := range ones {
					if ones[i].match(value) {
						return true
					}
				}
				return false
			}},
		} {
			b.Run(enc+"/"+tc.name, func(b *testing.B) {
				b.SetBytes(int64(len(value)))
				b.ReportAllocs()
				for b.Loop() {
					if tc.match() {
						b.Fatal("matched")
					}
				}
			})
		}
	}
}

// BenchmarkReadTraces reads the lines of 20 traces of 1000 lines each from
// one 4-partition text topic (interleaved with as many lines of other
// traces; each trace's window overlaps its neighbours'), with one
// ReadTraces and, in the same run, with one Read per trace.
func BenchmarkReadTraces(b *testing.B) {
	const traces, perTrace = 20, 1000
	c := newCluster(b, kfake.SeedTopics(4, "syslog"))
	p := newProducer(b, c, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ids := make([]string, traces)
	var ws []timeline.TraceWindow
	var recs []*kgo.Record
	for i := range ids {
		ids[i] = fmt.Sprintf("%016x%016x", uint64(0x9e3779b97f4a7c15)*uint64(i+7), uint64(0xbf58476d1ce4e5b9)*uint64(i+3))
		start := testBase.Add(time.Duration(i) * 1500 * time.Millisecond)
		ws = append(ws, timeline.TraceWindow{TraceID: ids[i], StartNs: start.UnixNano(), EndNs: start.Add(2 * time.Second).UnixNano()})
		for k := 0; k < perTrace; k++ {
			at := start.Add(time.Duration(k) * 2 * time.Millisecond)
			recs = append(recs,
				&kgo.Record{Topic: "syslog", Timestamp: at, Value: []byte(fmt.Sprintf("<14>1 web-1 go-api - - INFO request %d done in 12ms user=42 trace_id=%s", k, ids[i]))},
				&kgo.Record{Topic: "syslog", Timestamp: at, Value: []byte(fmt.Sprintf("<14>1 web-1 go-api - - INFO request %d done in 12ms user=42 trace_id=%s", k, otherTrace))})
		}
	}
	slices.SortStableFunc(recs, func(x, y *kgo.Record) int { return x.Timestamp.Compare(y.Timestamp) })
	produce(b, p, recs...)
	groups := timeline.GroupWindows(ws, 0)
	r := newTestReader(b, c, []models.KafkaTopic{{Name: "syslog", Encoding: models.EncodingText}})
	r.cfg.MaxRecords = 1 << 30
	b.Run("ReadTraces", func(b *testing.B) {
		var scanned int64
		for b.Loop() {
			res := r.ReadTraces(testCtx(b, time.Minute), groups)
			if err := res.Err(); err != nil || len(res.ByTrace) != traces {
				b.Fatalf("err %v, %d traces", err, len(res.ByTrace))
			}
			scanned += res.Topics[0].Scanned
		}
		b.ReportMetric(float64(scanned)/float64(b.N), "scanned/op")
	})
	b.Run("20xRead", func(b *testing.B) {
		var scanned int64
		for b.Loop() {
			for _, w := range ws {
				res := r.Read(testCtx(b, time.Minute), w.TraceID, Window{Start: time.Unix(0, w.StartNs), End: time.Unix(0, w.EndNs)})
				if err := res.Err(); err != nil || len(res.Records()) != perTrace {
					b.Fatalf("err %v, %d records", err, len(res.Records()))
				}
				scanned += res.Topics[0].Scanned
			}
		}
		b.ReportMetric(float64(scanned)/float64(b.N), "scanned/op")
	})
}
