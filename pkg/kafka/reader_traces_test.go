package kafka

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/traceweave/traceweave/internal/kafkatest"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// batchTrace is the i-th trace of the batch tests: distinct, random-looking
// IDs; every 5th has no a–f digit in its first half, one has leading zeros
// (a padded 64-bit ID).
func batchTrace(i int) string {
	if i == 3 {
		return fmt.Sprintf("0000000000000000%016x", uint64(0x9e3779b97f4a7c15)*uint64(i+1))
	}
	return fmt.Sprintf("%016x%016x", uint64(0x9e3779b97f4a7c15)*uint64(i+7), uint64(0xbf58476d1ce4e5b9)*uint64(i+3))
}

// batchAt is when trace i happens: traces come in clusters of four, 2 s
// apart, clusters 30 s apart, so their windows overlap within a cluster.
func batchAt(i int) time.Time {
	return testBase.Add(time.Duration(i/4)*30*time.Second + time.Duration(i%4)*2*time.Second)
}

// seedBatch writes, for traces 0..n-1, in every encoding, the records a
// batch must tell apart: records of one trace, lines naming two traces
// (both get them), lines whose trace ID field names one trace and whose
// text names another (only the first), keyed messages holding another
// trace's records (dropped, as Read drops them), unsearched traces, and
// records whose export time is out of order.
func seedBatch(t *testing.T, c *kfake.Cluster, n int) {
	p := newProducer(t, c)
	var recs []*kgo.Record
	add := func(topic string, key string, value []byte, at time.Time) {
		r := &kgo.Record{Topic: topic, Value: value, Timestamp: at}
		if key != "" {
			r.Key = []byte(key)
		}
		recs = append(recs, r)
	}
	for i := 0; i < n; i++ {
		id, next, far := batchTrace(i), batchTrace((i+1)%n), batchTrace((i+5)%n)
		at := batchAt(i)
		exp := at.Add(500 * time.Millisecond) // the export delay
		// otlp_proto, keyed: the trace's message, and a message keyed by
		// another trace holding one of this trace's records.
		ours := otlpLogs("rails-api",
			logSpec{trace: id, span: "00f067aa0ba90204", body: "GET /orders " + strconv.Itoa(i), sevText: "INFO", at: at},
			logSpec{body: "cron names " + id + " and " + next, at: at.Add(time.Millisecond)},
			logSpec{trace: otherTrace, body: "not searched " + id, at: at},
		)
		add("otlp_logs", id, protoBytes(t, ours), exp)
		add("otlp_logs", otherTrace, protoBytes(t, otlpLogs("go-api", logSpec{trace: id, body: "wrong key", at: at})), exp)
		// otlp_json: one message with two traces and a body naming a third.
		add("otlp_json", "", jsonBytes(t, otlpLogs("go-api",
			logSpec{trace: id, span: "00f067aa0ba90202", body: "GET /api", at: at},
			logSpec{trace: next, body: "next " + id, at: at.Add(time.Millisecond)},
			logSpec{body: "replaying " + strings.ToUpper(id) + " after " + far, at: at.Add(2 * time.Millisecond)},
		)), exp)
		// raw: a quoted line with a pair, a map body, a line naming two.
		quoted, _ := json.Marshal("GET /api 500 trace_id=" + id + " parent=" + next)
		mapBody, _ := json.Marshal(map[string]any{"msg": "slow", "trace_id": id, "ts": at.UnixMilli()})
		both, _ := json.Marshal("retry " + id + " as " + far)
		add("raw_logs", "", quoted, exp)
		add("raw_logs", "", mapBody, exp)
		add("raw_logs", "", both, exp.Add(-40*time.Second)) // exported out of order
		// json lines.
		add("audit", "", []byte(`{"level":"INFO","message":"read","traceId":"`+strings.ToUpper(id)+`","note":"`+next+`"}`), exp)
		add("audit", "", []byte(`{"msg":"policy for `+id+` and `+far+`","lvl":50}`), exp)
		add("audit", "", []byte(`{"message":"broken `+id), exp) // undecodable
		// text lines.
		add("syslog", "", []byte("<11>1 "+at.Format(time.RFC3339Nano)+" web-1 nginx 812 - - timed out trace_id="+id+" span_id=00f067aa0ba90201"), exp)
		add("syslog", "", []byte("web-1 app: trace_id="+otherTrace+" retry of "+id), exp)
		add("syslog", "", []byte("web-1 cron: "+strings.ToUpper(id)+" then "+next), exp)
		add("syslog", "", []byte("web-1 cron: nothing to see"), exp)
	}
	produce(t, p, recs...)
}

func newBatchCluster(t *testing.T, n int) *kfake.Cluster {
	c := newCluster(t, kfake.SeedTopics(16, "otlp_logs"), kfake.SeedTopics(4, "otlp_json"), kfake.SeedTopics(3, "raw_logs", "syslog"), kfake.SeedTopics(2, "audit"))
	seedBatch(t, c, n)
	return c
}

// batchGroups is the windows of traces ids (−1 s, +3 s around each), grouped
// as the engine groups them, plus, when again ≥ 0, a second window of trace
// again in another cluster (a trace in two groups).
func batchGroups(ids []int, again int) []timeline.WindowGroup {
	var ws []timeline.TraceWindow
	for _, i := range ids {
		at := batchAt(i)
		ws = append(ws, timeline.TraceWindow{TraceID: batchTrace(i), StartNs: at.Add(-time.Second).UnixNano(), EndNs: at.Add(3 * time.Second).UnixNano()})
	}
	if again >= 0 {
		at := batchAt(again).Add(30 * time.Second)
		ws = append(ws, timeline.TraceWindow{TraceID: batchTrace(again), StartNs: at.Add(-time.Second).UnixNano(), EndNs: at.Add(3 * time.Second).UnixNano()})
	}
	return timeline.GroupWindows(ws, int64(time.Second))
}

// recordKey orders records as a topic's Read does; the position is read
// from the record ID "<topic>/<partition>/<offset>/<index>".
func recordKey(t *testing.T, r timeline.LogRecord) [4]int64 {
	parts := strings.Split(r.ID, "/")
	require.Len(t, parts, 4, r.ID)
	var k [4]int64
	k[0] = r.TimeNs
	for i := 1; i < 4; i++ {
		v, err := strconv.ParseInt(parts[i], 10, 64)
		require.NoError(t, err)
		k[i] = v
	}
	return k
}

// wantByTrace is, per trace, what Read of it over each group holding it
// returns: a trace in one group gets exactly that Read's records; one in
// several gets each topic's records of those Reads, once each, in Read's
// order.
func wantByTrace(t *testing.T, r *Reader, groups []timeline.WindowGroup) map[string][]timeline.LogRecord {
	perTopic := map[string]map[string][]timeline.LogRecord{} // trace → topic → records
	for _, g := range groups {
		win := Window{Start: time.Unix(0, g.StartNs), End: time.Unix(0, g.EndNs)}
		for _, id := range g.TraceIDs {
			res := r.Read(testCtx(t, 30*time.Second), id, win)
			require.NoError(t, res.Err())
			if perTopic[id] == nil {
				perTopic[id] = map[string][]timeline.LogRecord{}
			}
			for _, tr := range res.Topics {
				perTopic[id][tr.Topic] = append(perTopic[id][tr.Topic], tr.Records...)
			}
		}
	}
	want := map[string][]timeline.LogRecord{}
	for id, topics := range perTopic {
		for _, topic := range r.cfg.Topics {
			recs := topics[topic.Name]
			slices.SortStableFunc(recs, func(a, b timeline.LogRecord) int {
				ka, kb := recordKey(t, a), recordKey(t, b)
				return slices.Compare(ka[:], kb[:])
			})
			recs = slices.CompactFunc(recs, func(a, b timeline.LogRecord) bool { return a.ID == b.ID })
			want[id] = append(want[id], recs...)
		}
		if len(want[id]) == 0 {
			delete(want, id)
		}
	}
	return want
}

// TestReadTracesEqualsRead: for every trace of every group, ReadTraces
// returns exactly what Read of that trace over that group's range returns
// (same records, same order, same fields), in every encoding, keyed and
// unkeyed; a line naming two searched traces is under both; each topic's
// Records hold each matched record once.
func TestReadTracesEqualsRead(t *testing.T) {
	const n = 16
	c := newBatchCluster(t, n)
	r := newTestReader(t, c, encodingTopics)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	for _, tc := range []struct {
		name   string
		ids    []int
		again  int
		groups int
	}{
		{"one trace", []int{5}, -1, 1},
		{"one cluster", []int{4, 5, 6, 7}, -1, 1},
		{"every trace, a trace in two groups", all, 2, n / 4},
		{"scattered traces", []int{0, 3, 9, 10, 15}, 9, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups := batchGroups(tc.ids, tc.again)
			require.Len(t, groups, tc.groups)
			res := r.ReadTraces(testCtx(t, 30*time.Second), groups)
			require.NoError(t, res.Err())
			want := wantByTrace(t, r, groups)
			require.NotEmpty(t, want)
			for id, recs := range want {
				require.Equal(t, recs, res.ByTrace[id], "trace %s", id)
			}
			for id := range res.ByTrace {
				assert.Contains(t, want, id, "a trace no Read finds")
			}
			// Each topic's records once, and exactly the records of ByTrace.
			byTrace := map[string]bool{}
			for _, recs := range res.ByTrace {
				for _, rec := range recs {
					byTrace[rec.ID] = true
				}
			}
			seen := map[string]bool{}
			for _, tr := range res.Topics {
				for _, rec := range tr.Records {
					assert.False(t, seen[rec.ID], "record %s twice", rec.ID)
					seen[rec.ID] = true
					assert.Contains(t, res.ByTrace[rec.TraceID], rec, "a topic's record is its first trace's")
				}
			}
			assert.Equal(t, byTrace, seen)
			otlp := res.Topics[0]
			assert.Equal(t, int32(16), otlp.Partitions)
			keyed := map[int32]bool{}
			for _, g := range groups {
				for _, id := range g.TraceIDs {
					keyed[PartitionFor([]byte(id), 16, models.HasherSaramaCompat)] = true
				}
			}
			assert.Equal(t, len(keyed), otlp.PartitionsRead, "a keyed topic is read on its keys' partitions")
		})
	}
	t.Run("a line naming two traces is under both", func(t *testing.T) {
		res := r.ReadTraces(testCtx(t, 30*time.Second), batchGroups([]int{4, 5}, -1))
		require.NoError(t, res.Err())
		line := "web-1 cron: " + strings.ToUpper(batchTrace(4)) + " then " + batchTrace(5)
		var in []string
		for id, recs := range res.ByTrace {
			for _, rec := range recs {
				if rec.Body == line {
					assert.Equal(t, id, rec.TraceID)
					in = append(in, id)
				}
			}
		}
		slices.Sort(in)
		want := []string{batchTrace(4), batchTrace(5)}
		slices.Sort(want)
		assert.Equal(t, want, in)
	})
}

// TestReadTracesInvalidID: an ID that is not normalised fails every topic
// with the invalid-trace-ID error, and nothing is fetched.
func TestReadTracesInvalidID(t *testing.T) {
	c := newBatchCluster(t, 4)
	log, err := kafkatest.NewFetchLog(testCtx(t, 10*time.Second), c, "otlp_logs", "syslog")
	require.NoError(t, err)
	r := newTestReader(t, c, encodingTopics)
	for _, bad := range []string{"not-hex", strings.ToUpper(batchTrace(1)), "4736", " " + batchTrace(1), strings.Repeat("a", 33), ""} {
		groups := batchGroups([]int{0, 1}, -1)
		groups[0].TraceIDs = append(groups[0].TraceIDs, bad)
		res := r.ReadTraces(testCtx(t, 10*time.Second), groups)
		require.Len(t, res.Topics, len(encodingTopics))
		for _, tr := range res.Topics {
			require.ErrorIs(t, tr.Err, models.ErrInvalidTraceID, "%q", bad)
			assert.Empty(t, tr.Records)
		}
		assert.Empty(t, res.ByTrace)
	}
	assert.Empty(t, log.Fetched(), "nothing fetched")
	res := r.ReadTraces(testCtx(t, 10*time.Second), nil)
	require.NoError(t, res.Err())
	assert.Empty(t, res.ByTrace)
	assert.Empty(t, log.Fetched(), "no trace, nothing fetched")
}

// orderedWindows are trace windows of 20 traces, 0.5 s apart, each 1.2 s
// long (so each overlaps the next two), in four groups 0.1 s apart: what a
// search of 20 traces close in time asks for.
func orderedWindows() []timeline.WindowGroup {
	var ws []timeline.TraceWindow
	for i := 0; i < 20; i++ {
		at := testBase.Add(time.Duration(i)*500*time.Millisecond + time.Duration(i/5)*800*time.Millisecond)
		ws = append(ws, timeline.TraceWindow{TraceID: batchTrace(i), StartNs: at.UnixNano(), EndNs: at.Add(1200 * time.Millisecond).UnixNano()})
	}
	return timeline.GroupWindows(ws, 0)
}

// TestReadTracesFetchesEachRecordOnce is the "read at most once" check at
// the broker: 20 traces whose windows overlap, their lines interleaved in
// one topic of 3 partitions (a line every 10 ms, batches of 12 lines a
// partition), in groups whose ranges meet inside batches. Every Fetch
// answer is observed (kafkatest.FetchLog): across the whole ReadTraces no
// offset is served twice, while reading the groups one by one serves the
// batches at the groups' edges twice; a keyed topic is fetched only from
// the partitions of the traces' keys.
func TestReadTracesFetchesEachRecordOnce(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "interleaved"), kfake.SeedTopics(16, "keyed"))
	groups := orderedWindows()
	require.Len(t, groups, 4)
	rr := newProducer(t, c, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	byKey := newProducer(t, c)
	for from := 0; from < 1500; from += 36 {
		var lines, keyedLines []*kgo.Record
		for i := from; i < min(from+36, 1500); i++ {
			at := testBase.Add(time.Duration(i) * 10 * time.Millisecond)
			trace := batchTrace(i % 23) // the 20 searched traces and 3 others
			v := []byte(fmt.Sprintf("line %d trace_id=%s", i, trace))
			lines = append(lines, &kgo.Record{Topic: "interleaved", Timestamp: at, Value: v})
			keyedLines = append(keyedLines, &kgo.Record{Topic: "keyed", Key: []byte(trace), Timestamp: at, Value: v})
		}
		produce(t, rr, lines...) // 12 lines per partition and batch
		produce(t, byKey, keyedLines...)
	}
	log, err := kafkatest.NewFetchLog(testCtx(t, 10*time.Second), c, "interleaved", "keyed")
	require.NoError(t, err)
	r := newTestReader(t, c, []models.KafkaTopic{
		{Name: "interleaved", Encoding: models.EncodingText},
		{Name: "keyed", Encoding: models.EncodingText, KeyedByTraceID: true},
	})

	res := r.ReadTraces(testCtx(t, 30*time.Second), groups)
	require.NoError(t, res.Err())
	assert.Empty(t, log.Rereads(), "offsets served twice")
	require.NotEmpty(t, log.Fetched())
	var keyed []int32
	var traces int
	for _, g := range groups {
		for _, id := range g.TraceIDs {
			if p := PartitionFor([]byte(id), 16, models.HasherSaramaCompat); !slices.Contains(keyed, p) {
				keyed = append(keyed, p)
			}
			traces++
		}
	}
	slices.Sort(keyed)
	assert.Equal(t, keyed, log.Partitions("keyed"), "only the keys' partitions")
	assert.Equal(t, []int32{0, 1, 2}, log.Partitions("interleaved"))
	assert.Len(t, res.ByTrace, traces)
	batched := log.Served("interleaved")

	// One pass per group instead: the batches where one group's range
	// ends and the next one's begins are served again.
	log.Reset()
	for _, g := range groups {
		one := r.Read(testCtx(t, 30*time.Second), g.TraceIDs[0], Window{Start: time.Unix(0, g.StartNs), End: time.Unix(0, g.EndNs)})
		require.NoError(t, one.Err())
	}
	assert.NotEmpty(t, log.Rereads(), "one pass per group serves the groups' edges twice")
	t.Logf("offsets of the unkeyed topic served: ReadTraces %d, one pass per group %d", batched, log.Served("interleaved"))

	// And ReadTraces found what a Read per trace finds.
	var found, reads int
	for _, tr := range res.Topics {
		found += len(tr.Records)
	}
	for _, g := range groups {
		for _, id := range g.TraceIDs {
			one := r.Read(testCtx(t, 30*time.Second), id, Window{Start: time.Unix(0, g.StartNs), End: time.Unix(0, g.EndNs)})
			require.NoError(t, one.Err())
			assert.Equal(t, one.Records(), res.ByTrace[id])
			reads += len(one.Records())
		}
	}
	assert.Equal(t, found, reads, "each line under its one trace")
}

// TestMergeRanges: overlapping and adjacent ranges join, a gap separates.
func TestMergeRanges(t *testing.T) {
	rs := []offsetRange{{start: 30, stop: 40, exact: true}, {start: 0, stop: 10, exact: true}, {start: 10, stop: 12, exact: true}, {start: 5, stop: 8, exact: false}, {start: 35, stop: 50, exact: true}}
	assert.Equal(t, []segment{{start: 0, stop: 12, exact: false}, {start: 30, stop: 50, exact: true}}, mergeRanges(rs))
	assert.True(t, slices.IsSortedFunc(rs, func(a, b offsetRange) int { return cmp.Compare(a.start, b.start) }))
}

// TestReadTracesSharedBudget: kafka.maxRecords bounds the whole ReadTraces
// across topics and groups, not each trace or group; progress counts the
// whole batch.
func TestReadTracesSharedBudget(t *testing.T) {
	c := newBatchCluster(t, 16)
	groups := batchGroups([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, -1)
	var last Progress
	full := newReaderFromSettings(t, models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: encodingTopics}, WithProgress(func(p Progress) { last = p }))
	res := full.ReadTraces(testCtx(t, 30*time.Second), groups)
	require.NoError(t, res.Err())
	var scanned, matched int64
	for _, tr := range res.Topics {
		assert.False(t, tr.Capped)
		scanned += tr.Scanned
		matched += int64(len(tr.Records))
	}
	assert.Equal(t, scanned, last.RecordsScanned)
	assert.Equal(t, matched, last.RecordsMatched)
	assert.Equal(t, last.PartitionsTotal, last.PartitionsDone)

	const maxRecords = 40
	require.Greater(t, scanned, int64(maxRecords))
	capped := newReaderFromSettings(t, models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: encodingTopics, MaxRecords: maxRecords})
	res = capped.ReadTraces(testCtx(t, 30*time.Second), groups)
	require.NoError(t, res.Err())
	scanned = 0
	anyCapped := false
	for _, tr := range res.Topics {
		scanned += tr.Scanned
		anyCapped = anyCapped || tr.Capped
	}
	assert.Equal(t, int64(maxRecords), scanned, "one budget for the whole batch")
	assert.True(t, anyCapped)
}
