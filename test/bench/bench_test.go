package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/traceweave/traceweave/internal/harness"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/models"
)

const mb = 1 << 20

// BenchmarkQueryData runs the whole query in process, as Grafana calls the
// plugin (NewDatasource + QueryData: Tempo, then Loki and Kafka, merge,
// frames), for every trace size × log count. Each iteration also times
// Tempo, Loki and Kafka alone (timer stopped) and reports
// ratio = Σ wall / Σ (T_tempo + max(T_loki, T_kafka)); target ≤ 1.10.
//
// peak-heap-MB is the HeapInuse peak above the settled heap before the
// query (sampled each ms); with kfake's archive live in the same process,
// GOGC lets garbage grow up to that archive's size, so it overstates the
// plugin's own peak: BenchmarkBinaryQueryData measures the real RSS.
// retained-MB is the heap still held by the response after a collection.
func BenchmarkQueryData(b *testing.B) {
	w := getWorld(b)
	for _, s := range spanSizes {
		for _, n := range logSizes {
			tc := w.cases[caseName(s, n)]
			b.Run(tc.name, func(b *testing.B) {
				ds := newDatasource(b, w)
				so := newSolo(b, w)
				ctx := benchCtx(b)
				req := queryRequest(tc)
				var (
					tally          ratioTally
					peak, retained uint64
					tempoR0        = w.tempo.requests.Load()
					lokiPages      int64
				)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					base := settledHeap()
					hs := startHeapSampler()
					lokiBefore := w.loki.requests.Load()
					b.StartTimer()
					t0 := time.Now()
					resp, err := ds.QueryData(ctx, req)
					d := time.Since(t0)
					b.StopTimer()
					p := hs.finish()
					lokiPages += w.loki.requests.Load() - lokiBefore
					if err != nil {
						b.Fatal(err)
					}
					checkResponse(b, resp, tc)
					if h := settledHeap(); h > base {
						retained = max(retained, h-base)
					}
					runtime.KeepAlive(resp)
					if p > base {
						peak = max(peak, p-base)
					}
					t, _ := so.run(b, ctx, tc)
					tally.add(d, t)
					b.StartTimer()
				}
				b.StopTimer()
				if err := w.errs.take(); err != nil {
					b.Fatal(err)
				}
				if got := w.tempo.requests.Load() - tempoR0; got != int64(2*b.N) {
					b.Fatalf("Tempo saw %d requests for %d queries and %d solo runs", got, b.N, b.N)
				}
				nf := float64(b.N)
				tally.report(b)
				b.ReportMetric(float64(lokiPages)/nf, "loki-pages")
				b.ReportMetric(float64(peak)/mb, "peak-heap-MB")
				b.ReportMetric(float64(retained)/mb, "retained-MB")
				if tc.logs > 0 {
					b.ReportMetric(float64(tc.logs)*nf/tally.wall.Seconds(), "logs/s")
				}
			})
		}
	}
}

// BenchmarkKafkaRead reads the three topics for one trace and reports, per
// topic, records and bytes fetched against the archive's records in the
// trace's window on the partitions read. Targets: the keyed topic reads 1
// of its P partitions; fetched bytes ≤ 1.2 × window bytes. Window bytes are
// key+value payload, so the record and batch framing (~10 B per record)
// counts against the reader.
//
// No Kafka client can fetch less than the record batches that hold a window
// record (a broker answers whole batches, and the batches at both window
// edges hold records outside it), so min-fetch-KB reports those batches'
// bytes as the broker stores them and fetched/min the reader's bytes over
// them: fetched/min is what the reader controls, bytes-ratio (fetched over
// window) also counts the producer's batching. The batch layout depends on
// the producer's timing, so it differs between benchmark processes.
func BenchmarkKafkaRead(b *testing.B) {
	w := getWorld(b)
	for _, n := range logSizes {
		tc := w.cases[caseName(1_000, n)]
		b.Run(tc.name, func(b *testing.B) {
			so := newSolo(b, w)
			ctx := benchCtx(b)
			var res *kafka.Result
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res = so.kafka.Read(ctx, tc.traceID, kafkaWindow(tc))
			}
			b.StopTimer()
			if n := kafkaRecords(res); res.Err() != nil || n != tc.kafkaTotal() {
				b.Fatalf("%v, %d records, want %d", res.Err(), n, tc.kafkaTotal())
			}
			lo, hi := tc.window()
			var scanned int64
			for _, tr := range res.Topics {
				var win tally
				parts := w.inWindow[tc.traceID][tr.Topic]
				var read []int32
				if tr.Topic == topicOTLP {
					p := kafka.PartitionFor([]byte(tc.traceID), tr.Partitions, models.HasherSaramaCompat)
					win, read = parts[p], []int32{p}
				} else {
					for p, t := range parts {
						win.records += t.records
						win.bytes += t.bytes
						read = append(read, int32(p))
					}
				}
				var minFetch int64
				for _, p := range read {
					batches, err := w.storedBatches(ctx, tr.Topic, p)
					if err != nil {
						b.Fatal(err)
					}
					minFetch += windowBatchBytes(batches, lo.UnixMilli(), hi.UnixMilli())
				}
				scanned += tr.Scanned
				b.ReportMetric(float64(tr.PartitionsRead), tr.Topic+"-parts-read")
				b.ReportMetric(float64(tr.Partitions), tr.Topic+"-parts")
				b.ReportMetric(float64(tr.Scanned), tr.Topic+"-scanned")
				b.ReportMetric(float64(win.records), tr.Topic+"-window-recs")
				b.ReportMetric(float64(tr.Bytes)/1024, tr.Topic+"-fetched-KB")
				b.ReportMetric(float64(win.bytes)/1024, tr.Topic+"-window-KB")
				b.ReportMetric(float64(tr.Bytes)/float64(max(win.bytes, 1)), tr.Topic+"-bytes-ratio")
				b.ReportMetric(float64(minFetch)/1024, tr.Topic+"-min-fetch-KB")
				b.ReportMetric(float64(tr.Bytes)/float64(max(minFetch, 1)), tr.Topic+"-fetched/min")
			}
			b.ReportMetric(float64(scanned)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// storedBatch is one record batch of the archive as the broker stores it:
// its size and its records' timestamps (ms).
type storedBatch struct {
	bytes int64
	ts    []int64
}

var (
	storedMu   sync.Mutex
	storedByTP = map[string]map[int32][]storedBatch{}
)

// storedBatches returns the record batches of one partition of the archive,
// read once per process with raw Fetch requests from the log start to the
// high watermark.
func (w *world) storedBatches(ctx context.Context, topic string, partition int32) ([]storedBatch, error) {
	storedMu.Lock()
	defer storedMu.Unlock()
	if bs, ok := storedByTP[topic][partition]; ok {
		return bs, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.cluster.ListenAddrs()...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	st, _ := starts.Lookup(topic, partition)
	en, _ := ends.Lookup(topic, partition)
	if st.Err != nil || en.Err != nil {
		return nil, fmt.Errorf("listing offsets of %s/%d: %v %v", topic, partition, st.Err, en.Err)
	}
	var out []storedBatch
	for off := st.Offset; off < en.Offset; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MaxBytes, req.SessionEpoch = -1, 100, 8<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, tds[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, off, 8<<20
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(w.cluster.LeaderFor(topic, partition))).Request(ctx, req)
		if err != nil {
			return nil, err
		}
		resp := kresp.(*kmsg.FetchResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return nil, fmt.Errorf("fetch of %s/%d: unexpected answer", topic, partition)
		}
		got := &resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(got.ErrorCode); err != nil {
			return nil, fmt.Errorf("fetch of %s/%d at %d: %w", topic, partition, off, err)
		}
		next := off
		for raw := got.RecordBatches; len(raw) >= 12; {
			size := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
			if size > len(raw) {
				break // a batch cut at the byte limit: fetched again from its start
			}
			one := *got
			one.RecordBatches = raw[:size]
			fp, end := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: topic, Partition: partition}, &one, kgo.DefaultDecompressor(), nil)
			if fp.Err != nil {
				return nil, fmt.Errorf("batch of %s/%d at %d: %w", topic, partition, off, fp.Err)
			}
			sb := storedBatch{bytes: int64(size), ts: make([]int64, len(fp.Records))}
			for i, r := range fp.Records {
				sb.ts[i] = r.Timestamp.UnixMilli()
			}
			out = append(out, sb)
			next = max(next, end)
			raw = raw[size:]
		}
		if next <= off {
			return nil, fmt.Errorf("fetch of %s/%d at %d returned no whole batch", topic, partition, off)
		}
		off = next
	}
	if storedByTP[topic] == nil {
		storedByTP[topic] = map[int32][]storedBatch{}
	}
	storedByTP[topic][partition] = out
	return out, nil
}

// windowBatchBytes is the bytes of the batches holding a record whose
// timestamp is in [lo, hi] (ms, both ends included, as the window tally).
func windowBatchBytes(batches []storedBatch, lo, hi int64) int64 {
	var n int64
	for _, sb := range batches {
		for _, ts := range sb.ts {
			if ts >= lo && ts <= hi {
				n += sb.bytes
				break
			}
		}
	}
	return n
}

// naiveGrep is what a user would script without Traceweave: consume every
// topic from the beginning to its end with a plain kgo consumer and keep the
// records whose value holds the trace ID (hex text or the 16 raw bytes).
func naiveGrep(ctx context.Context, brokers []string, topics []string, tc *traceCase) (matched, consumed int64, err error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, 0, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topics...)
	adm.Close()
	if err != nil {
		return 0, 0, err
	}
	left := map[string]map[int32]int64{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if left[o.Topic] == nil {
				left[o.Topic] = map[int32]int64{}
			}
			left[o.Topic][o.Partition] = o.Offset
			remaining++
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	hexID := []byte(tc.traceID)
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return matched, consumed, err
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return matched, consumed, errs[0].Err
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Topic][r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			consumed++
			if bytes.Contains(r.Value, hexID) || bytes.Contains(r.Value, tc.rawID[:]) {
				matched++
			}
			if r.Offset == end-1 {
				delete(left[r.Topic], r.Partition)
				remaining--
			}
		})
	}
	return matched, consumed, nil
}

// BenchmarkNaiveConsumeGrep compares, in one run, the naive whole-topic
// consume-and-grep with Traceweave's Kafka read of the same trace (timed
// alone, timer stopped) and reports naive/traceweave.
func BenchmarkNaiveConsumeGrep(b *testing.B) {
	w := getWorld(b)
	tc := w.cases[caseName(1_000, 1_000)]
	so := newSolo(b, w)
	ctx := benchCtx(b)
	topics := []string{topicOTLP, topicAudit, topicSyslog}
	var naive, tw time.Duration
	var consumed int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		matched, c, err := naiveGrep(ctx, w.cluster.ListenAddrs(), topics, tc)
		naive += time.Since(t0)
		if err != nil || matched != int64(tc.kafkaTotal()) || c != int64(w.produced) {
			b.Fatalf("naive: %v, matched %d of %d, consumed %d of %d", err, matched, tc.kafkaTotal(), c, w.produced)
		}
		consumed += c
		b.StopTimer()
		t0 = time.Now()
		res := so.kafka.Read(ctx, tc.traceID, kafkaWindow(tc))
		tw += time.Since(t0)
		if n := kafkaRecords(res); n != tc.kafkaTotal() {
			b.Fatalf("traceweave found %d records, want %d", n, tc.kafkaTotal())
		}
		b.StartTimer()
	}
	b.StopTimer()
	nf := float64(b.N)
	b.ReportMetric(float64(consumed)/naive.Seconds(), "records/s")
	b.ReportMetric(tw.Seconds()*1e3/nf, "traceweave-kafka-ms")
	b.ReportMetric(float64(naive)/float64(tw), "naive/traceweave")
}

// BenchmarkLokiEarlyStart measures, in one run, whether starting Loki over
// the query's own short time range (5 minutes around the trace) while Tempo
// is still answering beats the engine's order (Tempo, then Loki and Kafka
// over the trace window). Both orders are timed every iteration with the
// same clients; the fixed-latency fake Loki costs the same for any range,
// which favours the early start: a real Loki's cost grows with the range.
func BenchmarkLokiEarlyStart(b *testing.B) {
	w := getWorld(b)
	for _, n := range []int{1_000, 100_000} {
		tc := w.cases[caseName(1_000, n)]
		b.Run(tc.name, func(b *testing.B) {
			so := newSolo(b, w)
			ctx := benchCtx(b)
			lo, hi := tc.window()
			qFrom, qTo := tc.start.Add(-150*time.Second), tc.start.Add(150*time.Second)
			var seq, spec time.Duration
			run := func(early bool) time.Duration {
				t0 := time.Now()
				var wg sync.WaitGroup
				var lokiN, kafkaN int
				var lokiErr error
				if early {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, err := so.loki.Query(ctx, tc.traceID, qFrom.UnixNano(), qTo.UnixNano())
						lokiErr = err
						if err == nil {
							lokiN = len(r.Records)
						}
					}()
				}
				if _, err := so.tempo.TraceByID(ctx, tc.traceID, nil); err != nil {
					b.Fatal(err)
				}
				if !early {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, err := so.loki.Query(ctx, tc.traceID, lo.UnixNano(), hi.UnixNano())
						lokiErr = err
						if err == nil {
							lokiN = len(r.Records)
						}
					}()
				}
				kafkaN = kafkaRecords(so.kafka.Read(ctx, tc.traceID, kafkaWindow(tc)))
				wg.Wait()
				d := time.Since(t0)
				if lokiErr != nil || lokiN != tc.lokiLogs || kafkaN != tc.kafkaTotal() {
					b.Fatalf("early=%v: loki %v %d/%d, kafka %d/%d", early, lokiErr, lokiN, tc.lokiLogs, kafkaN, tc.kafkaTotal())
				}
				return d
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				seq += run(false)
				spec += run(true)
			}
			b.StopTimer()
			nf := float64(b.N)
			b.ReportMetric(seq.Seconds()*1e3/nf, "after-tempo-ms")
			b.ReportMetric(spec.Seconds()*1e3/nf, "early-ms")
			b.ReportMetric((seq-spec).Seconds()*1e3/nf, "saved-ms")
		})
	}
}

// BenchmarkBinaryQueryData runs the query through the built gpx_traceweave
// binary (a child process speaking the plugin protocol, as Grafana runs it;
// frames cross gRPC as Arrow) and reports the child's peak RSS (VmHWM):
// target ≤ 300 MB for 100k log lines. Each case starts a fresh process so
// its peak belongs to that case. The memory_limit cases start the plugin as
// Grafana does with memory_limit in the plugin's grafana.ini section
// (GF_PLUGIN_MEMORY_LIMIT, a soft limit applied by internal/memlimit).
// call-ms is the gRPC call alone and call-ratio that call over T_tempo +
// max(T_loki, T_kafka) timed after it in the same iteration, the ratio of
// BenchmarkQueryData for what a Grafana panel waits for.
func BenchmarkBinaryQueryData(b *testing.B) {
	w := getWorld(b)
	bin := harness.Binary(b)
	for _, c := range []struct {
		spans, logs int
		memLimit    string
	}{{1_000, 0, ""}, {1_000, 1_000, ""}, {1_000, 100_000, ""}, {10_000, 100_000, ""}, {1_000, 100_000, "300MiB"}, {10_000, 100_000, "300MiB"}, {1_000, 100_000, "256MiB"}, {10_000, 100_000, "256MiB"}} {
		tc := w.cases[caseName(c.spans, c.logs)]
		name := tc.name
		if c.memLimit != "" {
			name += "/memory_limit=" + c.memLimit
		}
		b.Run(name, func(b *testing.B) {
			if c.memLimit != "" {
				// As Grafana passes memory_limit from the plugin's grafana.ini
				// section; the child inherits it (internal/memlimit).
				b.Setenv("GF_PLUGIN_MEMORY_LIMIT", c.memLimit)
			}
			p := harness.Start(b)
			ctx := benchCtx(b)
			s := harness.Settings{UID: "traceweave-bench", Name: "Traceweave", JSONData: w.settingsJSON()}
			q := harness.Query("A", queryModel(tc), archiveStart, archiveStart.Add(archiveSpan))
			_, startRSS, err := childRSS(bin)
			if err != nil {
				b.Fatal(err)
			}
			// One call before the timed ones: the first call after the
			// process starts also builds the datasource instance and its
			// connections (Kafka metadata, TCP), which Grafana pays once.
			if _, err := p.QueryDataProto(ctx, s, q); err != nil {
				b.Fatalf("%v\n%s", err, p.Logs())
			}
			so := newSolo(b, w)
			var call time.Duration
			var tally ratioTally
			answer := 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				raw, err := p.QueryDataProto(ctx, s, q)
				d := time.Since(t0)
				call += d
				if err != nil {
					b.Fatalf("%v\n%s", err, p.Logs())
				}
				answer = 0
				for _, r := range raw.Responses {
					for _, f := range r.Frames {
						answer += len(f)
					}
				}
				resp, err := backend.FromProto().QueryDataResponse(raw)
				if err != nil {
					b.Fatal(err)
				}
				checkResponse(b, resp, tc)
				t, _ := so.run(b, ctx, tc)
				tally.add(d, t)
			}
			b.StopTimer()
			b.ReportMetric(call.Seconds()*1e3/float64(b.N), "call-ms")
			// The ratio BENCHMARKS.md's targets set for what Grafana waits for: the gRPC call
			// (the answer encoded and sent) over the sources alone.
			b.ReportMetric(float64(tally.wall)/float64(tally.ideal), "call-ratio")
			b.ReportMetric(float64(answer)/mb, "answer-MB")
			peak, cur, err := childRSS(bin)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.errs.take(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(peak)/mb, "peak-RSS-MB")
			b.ReportMetric(float64(cur)/mb, "RSS-MB")
			b.ReportMetric(float64(startRSS)/mb, "idle-RSS-MB")
		})
	}
}

// describeWorld is printed once by the benchmarks' set-up check so the raw
// output records what the archive held.
func describeWorld(w *world) string {
	return fmt.Sprintf("archive: %d records produced in %v (%.0f rec/s); per topic %v",
		w.produced, w.produceTime.Round(time.Millisecond), float64(w.produced)/w.produceTime.Seconds(), w.topicTotal)
}
