package kafka

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// benchMessages returns, per encoding, a realistic message of another trace
// (the common case the prefilter must reject) and one of the searched trace.
func benchMessages(b *testing.B) map[string][2][]byte {
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
	js := func(trace string) []byte {
		return []byte(`{"@timestamp":"2026-11-14T10:00:02.125Z","level":"info","message":"GET /api/orders completed in 12ms","user":{"id":"42"},"trace_id":"` + trace + `","span_id":"00f067aa0ba90202","service":"go-api"}`)
	}
	return map[string][2][]byte{
		models.EncodingOTLPProto: {protoBytes(b, otlpLogs("go-api", one(otherTrace))), protoBytes(b, otlpLogs("go-api", one(testTrace)))},
		models.EncodingOTLPJSON:  {jsonBytes(b, otlpLogs("go-api", one(otherTrace))), jsonBytes(b, otlpLogs("go-api", one(testTrace)))},
		models.EncodingRaw:       {raw(otherTrace), raw(testTrace)},
		models.EncodingJSON:      {js(otherTrace), js(testTrace)},
		models.EncodingText:      {line(otherTrace), line(testTrace)},
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
		for i, kind := range []string{"nonmatching", "matching"} {
			value := msgs[enc][i]
			b.Run(enc+"/"+kind, func(b *testing.B) {
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
				if want := i * b.N; found != want {
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
