package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/traceweave/traceweave/internal/kafkatest"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// encodingTopics is one topic per encoding, configured as docs/DESIGN.md ("Settings") describes.
var encodingTopics = []models.KafkaTopic{
	{Name: "otlp_logs", Encoding: models.EncodingOTLPProto, KeyedByTraceID: true, Hasher: models.HasherSaramaCompat},
	{Name: "otlp_json", Encoding: models.EncodingOTLPJSON},
	{Name: "raw_logs", Encoding: models.EncodingRaw},
	{Name: "audit", Encoding: models.EncodingJSON},
	{Name: "syslog", Encoding: models.EncodingText},
}

// seedEncodings produces, per encoding, the trace's records the way their
// writers produce them, plus records of another trace and unrelated lines.
func seedEncodings(t *testing.T, c *kfake.Cluster) {
	at := testBase.Add(2 * time.Second)
	p := newProducer(t, c)
	// otlp_proto, partition_logs_by_trace_id: one message per trace, keyed by its hex ID.
	ours := otlpLogs("rails-api",
		logSpec{trace: testTrace, span: "00f067aa0ba90204", body: "Processing OrdersController#index", sevText: "INFO", sevNum: 9, at: at, attrs: map[string]any{"code.function": "index"}},
		logSpec{trace: testTrace, span: "00f067aa0ba90205", body: map[string]any{"sql": "SELECT orders", "rows": 3}, sevNum: 5, at: at.Add(10 * time.Millisecond)},
		logSpec{trace: testTrace, span: "00f067aa0ba90207", body: "redis GET timeout", sevText: "ERROR", at: at.Add(20 * time.Millisecond)},
	)
	other := otlpLogs("go-api", logSpec{trace: otherTrace, span: "1111111111111111", body: "other trace mentions " + testTrace, at: at})
	produce(t, p,
		&kgo.Record{Topic: "otlp_logs", Key: []byte(testTrace), Value: protoBytes(t, ours), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "otlp_logs", Key: []byte(otherTrace), Value: protoBytes(t, other), Timestamp: at.Add(time.Second)},
		// Same partition as ours only by chance; the key check must drop it.
		&kgo.Record{Topic: "otlp_logs", Key: []byte(otherTrace), Value: protoBytes(t, ours), Timestamp: at.Add(time.Second), Partition: -1},
	)
	// otlp_json: one message with two resources, ours and another trace's,
	// plus a record without trace ID that names ours in its body.
	mixed := otlpLogs("go-api",
		logSpec{trace: testTrace, span: "00f067aa0ba90202", body: "GET /api/orders", sevText: "Info", at: at},
		logSpec{trace: otherTrace, span: "2222222222222222", body: "not ours", at: at},
		logSpec{body: "cron: replaying trace " + strings.ToUpper(testTrace), sevText: "warning", at: at.Add(time.Millisecond)},
	)
	produce(t, p,
		&kgo.Record{Topic: "otlp_json", Value: jsonBytes(t, mixed), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "otlp_json", Value: []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"` + testTrace + `",`), Timestamp: at.Add(time.Second)}, // truncated: skipped
	)
	// raw: kafkaexporter writes json.Marshal(body): strings quoted, maps as objects, bytes verbatim.
	quoted, _ := json.Marshal("GET /api/orders 500 trace_id=" + testTrace + " span_id=00f067aa0ba90201 level=error")
	mapBody, _ := json.Marshal(map[string]any{"msg": "upstream slow", "level": "warn", "trace_id": testTrace, "span_id": "00f067aa0ba90203", "upstream": "rails-api", "ts": at.Add(5 * time.Millisecond).UnixMilli()})
	otherQuoted, _ := json.Marshal("GET /api/orders 200 trace_id=" + otherTrace + " parent=" + testTrace)
	produce(t, p,
		&kgo.Record{Topic: "raw_logs", Value: quoted, Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "raw_logs", Value: mapBody, Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "raw_logs", Value: otherQuoted, Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "raw_logs", Value: []byte("binary\x00\xff " + testTrace), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "raw_logs", Value: []byte(`"unrelated line"`), Timestamp: at.Add(time.Second)},
	)
	// json audit lines.
	produce(t, p,
		&kgo.Record{Topic: "audit", Value: []byte(`{"@timestamp":"2026-11-14T10:00:02.5Z","level":"INFO","message":"order list read","traceId":"` + strings.ToUpper(testTrace) + `","user":{"id":"u-42","role":"admin"},"service":"rails-api"}`), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "audit", Value: []byte(`{"ts":1794650403,"msg":"policy check for ` + testTrace + `","lvl":50}`), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "audit", Value: []byte(`{"trace_id":"` + otherTrace + `","note":"caused by ` + testTrace + `"}`), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "audit", Value: []byte(`{"message":"broken ` + testTrace), Timestamp: at.Add(time.Second)}, // skipped
	)
	// text syslog lines.
	produce(t, p,
		&kgo.Record{Topic: "syslog", Value: []byte("<11>1 2026-11-14T10:00:02.125Z web-1 nginx 812 - - upstream timed out trace_id=" + testTrace + " span_id=00f067aa0ba90201"), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "syslog", Value: []byte("Nov 14 10:00:02 web-1 sshd[22]: error: request " + strings.ToUpper(testTrace) + " refused"), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "syslog", Value: []byte("Nov 14 10:00:02 web-1 app: trace_id=" + otherTrace + " retry of " + testTrace), Timestamp: at.Add(time.Second)},
		&kgo.Record{Topic: "syslog", Value: []byte("Nov 14 10:00:02 web-1 cron[1]: nothing to see"), Timestamp: at.Add(time.Second)},
	)
}

func TestReadEachEncoding(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(16, "otlp_logs"), kfake.SeedTopics(4, "otlp_json"), kfake.SeedTopics(3, "raw_logs"), kfake.SeedTopics(2, "audit", "syslog"))
	seedEncodings(t, c)
	r := newTestReader(t, c, encodingTopics)
	res := r.Read(testCtx(t, 30*time.Second), testTrace, Window{Start: testBase.Add(-30 * time.Second), End: testBase.Add(2 * time.Minute)})
	require.Len(t, res.Topics, len(encodingTopics))
	byTopic := map[string]TopicResult{}
	for _, tr := range res.Topics {
		require.NoError(t, tr.Err, tr.Topic)
		byTopic[tr.Topic] = tr
		for _, rec := range tr.Records {
			assert.Equal(t, testTrace, rec.TraceID, rec.ID)
			assert.Equal(t, timeline.KafkaSource(tr.Topic), rec.Source)
			assert.True(t, strings.HasPrefix(rec.ID, tr.Topic+"/"), rec.ID)
		}
	}
	at := testBase.Add(2 * time.Second)

	otlp := byTopic["otlp_logs"]
	assert.Equal(t, int32(16), otlp.Partitions)
	assert.Equal(t, 1, otlp.PartitionsRead, "a keyed topic is read from one partition")
	require.Len(t, otlp.Records, 3)
	first := otlp.Records[0]
	assert.Equal(t, at.UnixNano(), first.TimeNs)
	assert.Equal(t, "Processing OrdersController#index", first.Body)
	assert.Equal(t, timeline.SeverityInfo, first.Severity)
	assert.Equal(t, "00f067aa0ba90204", first.SpanID)
	assert.Equal(t, "rails-api", first.Service)
	assert.Equal(t, map[string]string{"service.name": "rails-api", "deployment.environment": "test", "code.function": "index"}, first.Labels.Map())
	p := PartitionFor([]byte(testTrace), 16, models.HasherSaramaCompat)
	assert.Equal(t, fmt.Sprintf("otlp_logs/%d/0/0", p), first.ID)
	assert.JSONEq(t, `{"sql":"SELECT orders","rows":3}`, otlp.Records[1].Body)
	assert.Equal(t, timeline.SeverityDebug, otlp.Records[1].Severity, "severity number 5 is DEBUG")
	assert.Equal(t, timeline.SeverityError, otlp.Records[2].Severity)
	assert.Equal(t, "00f067aa0ba90207", otlp.Records[2].SpanID)

	oj := byTopic["otlp_json"]
	require.Len(t, oj.Records, 2, "ours and the trace-less record naming ours; not the other trace's")
	assert.Equal(t, "GET /api/orders", oj.Records[0].Body)
	assert.Equal(t, "00f067aa0ba90202", oj.Records[0].SpanID)
	assert.Equal(t, timeline.SeverityWarn, oj.Records[1].Severity)
	assert.Empty(t, oj.Records[1].SpanID)
	assert.Equal(t, 1, oj.Skipped, "the truncated message is counted, not fatal")
	assert.Equal(t, int64(2), oj.Scanned)

	raw := byTopic["raw_logs"]
	require.Len(t, raw.Records, 3)
	bodies := map[string]timeline.LogRecord{}
	for _, rec := range raw.Records {
		bodies[rec.Body] = rec
	}
	q := bodies["GET /api/orders 500 trace_id="+testTrace+" span_id=00f067aa0ba90201 level=error"]
	assert.Equal(t, "00f067aa0ba90201", q.SpanID, "quoted string body is unquoted and its pairs read")
	assert.Equal(t, timeline.SeverityError, q.Severity)
	m := bodies["upstream slow"]
	assert.Equal(t, "00f067aa0ba90203", m.SpanID)
	assert.Equal(t, timeline.SeverityWarn, m.Severity)
	assert.Equal(t, at.Add(5*time.Millisecond).UnixNano(), m.TimeNs)
	assert.Equal(t, map[string]string{"upstream": "rails-api"}, m.Labels.Map())
	assert.Contains(t, bodies, "binary\x00\uFFFD "+testTrace, "bytes body kept, made valid UTF-8")

	audit := byTopic["audit"]
	require.Len(t, audit.Records, 2)
	assert.Equal(t, "order list read", audit.Records[0].Body)
	assert.Equal(t, time.Date(2026, 11, 14, 10, 0, 2, 500e6, time.UTC).UnixNano(), audit.Records[0].TimeNs)
	assert.Equal(t, timeline.SeverityInfo, audit.Records[0].Severity)
	assert.Equal(t, "rails-api", audit.Records[0].Service)
	assert.Equal(t, map[string]string{"user.id": "u-42", "user.role": "admin"}, audit.Records[0].Labels.Map())
	assert.Equal(t, "policy check for "+testTrace, audit.Records[1].Body)
	assert.Equal(t, timeline.SeverityError, audit.Records[1].Severity, "pino level 50")
	assert.Equal(t, int64(1794650403)*1e9, audit.Records[1].TimeNs)
	assert.Equal(t, 1, audit.Skipped)

	sys := byTopic["syslog"]
	require.Len(t, sys.Records, 2)
	byBody := map[string]timeline.LogRecord{}
	for _, rec := range sys.Records {
		byBody[rec.Body[:6]] = rec
	}
	s5424 := byBody["<11>1 "]
	assert.Equal(t, timeline.SeverityError, s5424.Severity, "PRI 11 = user.err")
	assert.Equal(t, "00f067aa0ba90201", s5424.SpanID)
	assert.Equal(t, time.Date(2026, 11, 14, 10, 0, 2, 125e6, time.UTC).UnixNano(), s5424.TimeNs)
	bsd := byBody["Nov 14"]
	assert.Equal(t, timeline.SeverityError, bsd.Severity)
	assert.Equal(t, at.Add(time.Second).UnixNano(), bsd.TimeNs, "no own time: the Kafka record time")
}

// TestReadPrunesByKeyAndTime is the point of the Kafka source: 200k records
// over an hour in 16 partitions, the trace's in one partition within one
// minute. Only that partition is fetched, and only about the window of it.
func TestReadPrunesByKeyAndTime(t *testing.T) {
	if testing.Short() {
		t.Skip("produces 200k records")
	}
	const (
		total      = 200_000
		partitions = 16
	)
	c := newCluster(t, kfake.SeedTopics(partitions, "otlp_logs"))
	var fetchMu sync.Mutex
	fetched := map[int32]int{}
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fetchMu.Lock()
		defer fetchMu.Unlock()
		for _, tp := range req.(*kmsg.FetchRequest).Topics {
			for _, p := range tp.Partitions {
				fetched[p.Partition]++
			}
		}
		return nil, nil, false
	})
	p := newProducer(t, c)
	traceStart := testBase.Add(30 * time.Minute)
	step := time.Hour / total
	hasher := kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a)).ForTopic("otlp_logs")
	ourPartition := PartitionFor([]byte(testTrace), partitions, models.HasherSaramaCompat)
	recs := make([]*kgo.Record, 0, total)
	inWindowOurPartition := 0
	winStart, winEnd := traceStart.Add(-30*time.Second), traceStart.Add(time.Minute+2*time.Minute)
	var want []string
	filler := make([]byte, 16)
	for i := 0; i < total; i++ {
		ts := testBase.Add(time.Duration(i) * step)
		var rec *kgo.Record
		if i%600 == 0 && ts.After(traceStart) && ts.Before(traceStart.Add(time.Minute)) {
			body := fmt.Sprintf("trace line %d", i)
			want = append(want, body)
			rec = &kgo.Record{Topic: "otlp_logs", Key: []byte(testTrace), Timestamp: ts,
				Value: protoBytes(t, otlpLogs("go-api", logSpec{trace: testTrace, span: "00f067aa0ba90202", body: body, at: ts.Add(-time.Second)}))}
		} else {
			filler[0], filler[1], filler[2], filler[3] = byte(i), byte(i>>8), byte(i>>16), 0x7f
			id := fmt.Sprintf("%x", filler)
			rec = &kgo.Record{Topic: "otlp_logs", Key: []byte(id), Timestamp: ts,
				Value: protoBytes(t, otlpLogs("go-api", logSpec{trace: id, body: "filler request done", at: ts}))}
		}
		if hasher.Partition(rec, partitions) == int(ourPartition) && !ts.Before(winStart) && !ts.After(winEnd) {
			inWindowOurPartition++
		}
		recs = append(recs, rec)
	}
	require.Len(t, want, 6)
	produce(t, p, recs...)
	fetchMu.Lock()
	clear(fetched)
	fetchMu.Unlock()

	r := newTestReader(t, c, []models.KafkaTopic{{Name: "otlp_logs", Encoding: models.EncodingOTLPProto, KeyedByTraceID: true}})
	res := r.Read(testCtx(t, 30*time.Second), testTrace, Window{Start: winStart, End: winEnd})
	tr := res.Topics[0]
	require.NoError(t, tr.Err)
	var got []string
	for _, rec := range tr.Records {
		got = append(got, rec.Body)
	}
	assert.Equal(t, want, got, "exactly the trace's records, in time order")
	assert.Equal(t, 1, tr.PartitionsRead)
	fetchMu.Lock()
	assert.Equal(t, []int32{ourPartition}, keys(fetched), "only the key's partition is fetched")
	fetchMu.Unlock()
	// The window holds inWindowOurPartition records of the partition; allow
	// one producer batch (~16 KiB) on each side for the seek granularity.
	margin := int64(200)
	t.Logf("window records in partition: %d, scanned: %d, bytes: %d", inWindowOurPartition, tr.Scanned, tr.Bytes)
	assert.LessOrEqual(t, tr.Scanned, int64(inWindowOurPartition)+margin)
	assert.GreaterOrEqual(t, tr.Scanned, int64(inWindowOurPartition)-margin)
	assert.Less(t, tr.Bytes, int64(1<<20), "fetched bytes stay near the window, not the partition")
}

func keys(m map[int32]int) []int32 {
	var out []int32
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestReadMissingTopicDoesNotHideOthers(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "audit"))
	p := newProducer(t, c)
	produce(t, p, &kgo.Record{Topic: "audit", Value: []byte(`{"msg":"x","trace_id":"` + testTrace + `"}`), Timestamp: testBase})
	r := newTestReader(t, c, []models.KafkaTopic{{Name: "nope", Encoding: models.EncodingRaw}, {Name: "audit", Encoding: models.EncodingJSON}})
	res := r.Read(testCtx(t, 20*time.Second), testTrace, Window{Start: testBase.Add(-time.Minute), End: testBase.Add(time.Minute)})
	require.ErrorIs(t, res.Topics[0].Err, ErrTopicNotFound)
	assert.Equal(t, `kafka topic "nope" does not exist on the brokers`, res.Topics[0].Err.Error())
	require.NoError(t, res.Topics[1].Err)
	assert.Len(t, res.Topics[1].Records, 1)
	assert.ErrorIs(t, res.Err(), ErrTopicNotFound)
	assert.Len(t, res.Records(), 1)
	// The search must not have created the topic.
	h, err := r.CheckHealth(testCtx(t, 10*time.Second))
	require.ErrorIs(t, err, ErrTopicNotFound)
	assert.Equal(t, []string{"nope"}, h.Missing())
}

// seedTwoTopics puts one record of the trace in each of two topics.
func seedTwoTopics(t *testing.T, c *kfake.Cluster) []models.KafkaTopic {
	p := newProducer(t, c)
	line := []byte("ERROR trace_id=" + testTrace)
	produce(t, p, &kgo.Record{Topic: "a", Value: line, Timestamp: testBase}, &kgo.Record{Topic: "b", Value: line, Timestamp: testBase})
	return []models.KafkaTopic{{Name: "a", Encoding: models.EncodingText}, {Name: "b", Encoding: models.EncodingText}}
}

func topicID(t *testing.T, c *kfake.Cluster, topic string) [16]byte {
	r := newTestReader(t, c, nil)
	metas, _, err := r.describeTopics(testCtx(t, 10*time.Second), []string{topic})
	require.NoError(t, err)
	return metas[topic].id
}

// TestReadBrokerErrors injects broker failures into topic "a" and checks
// that "a" reports them, "b" is still read, and nothing hangs.
func TestReadBrokerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  kmsg.Key
		fail func(c *kfake.Cluster, id [16]byte) func(kmsg.Request) (kmsg.Response, error, bool)
		want []error
		// ownBroker puts "b" on another broker than "a": a dropped
		// connection takes down every request it carries, so with one
		// broker b's fetches die with a's, and b, after its bounded
		// retries, may fail too (1 run in ~100 under load). What the
		// reader promises is that a failure on a's broker leaves b read.
		ownBroker bool
	}{
		{
			name: "fetch non-retriable error code",
			key:  kmsg.Fetch,
			want: []error{ErrBroker, kerr.UnknownServerError},
			fail: func(c *kfake.Cluster, id [16]byte) func(kmsg.Request) (kmsg.Response, error, bool) {
				return func(req kmsg.Request) (kmsg.Response, error, bool) {
					if !kafkatest.FetchesTopic(req.(*kmsg.FetchRequest), "a", id) {
						return nil, nil, false
					}
					c.KeepControl()
					return kafkatest.FetchError(req.(*kmsg.FetchRequest), kerr.UnknownServerError.Code), nil, true
				}
			},
		},
		{
			name: "fetch retriable error code forever",
			key:  kmsg.Fetch,
			want: []error{ErrBroker, kerr.NotLeaderForPartition},
			fail: func(c *kfake.Cluster, id [16]byte) func(kmsg.Request) (kmsg.Response, error, bool) {
				return func(req kmsg.Request) (kmsg.Response, error, bool) {
					if !kafkatest.FetchesTopic(req.(*kmsg.FetchRequest), "a", id) {
						return nil, nil, false
					}
					c.KeepControl()
					return kafkatest.FetchError(req.(*kmsg.FetchRequest), kerr.NotLeaderForPartition.Code), nil, true
				}
			},
		},
		{
			name:      "fetch connection dropped",
			key:       kmsg.Fetch,
			want:      []error{ErrBroker},
			ownBroker: true,
			fail: func(c *kfake.Cluster, id [16]byte) func(kmsg.Request) (kmsg.Response, error, bool) {
				return func(req kmsg.Request) (kmsg.Response, error, bool) {
					if !kafkatest.FetchesTopic(req.(*kmsg.FetchRequest), "a", id) {
						return nil, nil, false
					}
					c.KeepControl()
					return nil, errors.New("injected: drop the connection"), true
				}
			},
		},
		{
			name: "list offsets error code",
			key:  kmsg.ListOffsets,
			want: []error{ErrBroker, kerr.KafkaStorageError},
			fail: func(c *kfake.Cluster, _ [16]byte) func(kmsg.Request) (kmsg.Response, error, bool) {
				return func(req kmsg.Request) (kmsg.Response, error, bool) {
					lreq := req.(*kmsg.ListOffsetsRequest)
					if len(lreq.Topics) == 0 || lreq.Topics[0].Topic != "a" {
						return nil, nil, false
					}
					c.KeepControl()
					resp := lreq.ResponseKind().(*kmsg.ListOffsetsResponse)
					for _, rt := range lreq.Topics {
						st := kmsg.NewListOffsetsResponseTopic()
						st.Topic = rt.Topic
						for _, rp := range rt.Partitions {
							sp := kmsg.NewListOffsetsResponseTopicPartition()
							sp.Partition = rp.Partition
							sp.ErrorCode = kerr.KafkaStorageError.Code
							st.Partitions = append(st.Partitions, sp)
						}
						resp.Topics = append(resp.Topics, st)
					}
					return resp, nil, true
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.SeedTopics(1, "a", "b")}
			if tc.ownBroker {
				opts = append(opts, kfake.NumBrokers(2))
			}
			c := newCluster(t, opts...)
			if tc.ownBroker {
				require.NoError(t, c.MoveTopicPartition("b", 0, 1-c.LeaderFor("a", 0)))
				require.NotEqual(t, c.LeaderFor("a", 0), c.LeaderFor("b", 0))
			}
			topics := seedTwoTopics(t, c)
			id := topicID(t, c, "a")
			c.ControlKey(int16(tc.key), tc.fail(c, id))
			r := newTestReader(t, c, topics)
			start := time.Now()
			res := r.Read(testCtx(t, 20*time.Second), testTrace, Window{Start: testBase.Add(-time.Minute), End: testBase.Add(time.Minute)})
			assert.Less(t, time.Since(start), 15*time.Second, "bounded retries, no hang")
			for _, want := range tc.want {
				assert.ErrorIs(t, res.Topics[0].Err, want)
			}
			assert.Contains(t, res.Topics[0].Err.Error(), `kafka topic "a"`)
			require.NoError(t, res.Topics[1].Err)
			assert.Len(t, res.Topics[1].Records, 1)
		})
	}
}

func TestReadSASL(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(models.SASLPlain, "alice", "alice-secret"),
		kfake.Superuser(models.SASLScramSHA256, "bob", "bob-secret"),
		kfake.User(models.SASLScramSHA512, "carol", "carol-secret",
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "b", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationRead, Allow: true},
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "b", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
		),
		kfake.SeedTopics(1, "a", "b"))
	p := newProducer(t, c, kgo.SASL(plainMechanism("alice", "alice-secret")))
	line := []byte("INFO login trace_id=" + testTrace)
	produce(t, p, &kgo.Record{Topic: "a", Value: line, Timestamp: testBase}, &kgo.Record{Topic: "b", Value: line, Timestamp: testBase})
	topics := []models.KafkaTopic{{Name: "a", Encoding: models.EncodingText}, {Name: "b", Encoding: models.EncodingText}}
	win := Window{Start: testBase.Add(-time.Minute), End: testBase.Add(time.Minute)}
	settings := func(mech, user, pass string) models.KafkaSettings {
		return models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: topics, SASL: models.KafkaSASL{Mechanism: mech, Username: user, Password: pass}}
	}

	for _, tc := range []struct{ mech, user, pass string }{
		{models.SASLPlain, "alice", "alice-secret"},
		{models.SASLScramSHA256, "bob", "bob-secret"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			r := newReaderFromSettings(t, settings(tc.mech, tc.user, tc.pass))
			h, err := r.CheckHealth(testCtx(t, 10*time.Second))
			require.NoError(t, err)
			assert.Len(t, h.Brokers, 1)
			res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
			for _, tr := range res.Topics {
				require.NoError(t, tr.Err)
				assert.Len(t, tr.Records, 1)
			}
		})
	}
	for _, tc := range []struct{ mech, user string }{{models.SASLPlain, "alice"}, {models.SASLScramSHA256, "bob"}} {
		t.Run("wrong password "+tc.mech, func(t *testing.T) { wrongPassword(t, settings(tc.mech, tc.user, "not-the-password"), win) })
	}
	t.Run("topic not authorized", func(t *testing.T) {
		r := newReaderFromSettings(t, settings(models.SASLScramSHA512, "carol", "carol-secret"))
		res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
		require.ErrorIs(t, res.Topics[0].Err, ErrAuthorization)
		assert.Contains(t, res.Topics[0].Err.Error(), `kafka topic "a": not authorized`)
		require.NoError(t, res.Topics[1].Err)
		assert.Len(t, res.Topics[1].Records, 1)
		h, err := r.CheckHealth(testCtx(t, 10*time.Second))
		require.ErrorIs(t, err, ErrAuthorization)
		assert.Empty(t, h.Missing())
	})
}

func TestReadCancellation(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(4, "a", "b"))
	topics := seedTwoTopics(t, c)
	r := newTestReader(t, c, topics)
	win := Window{Start: testBase.Add(-time.Minute), End: testBase.Add(time.Minute)}

	t.Run("already canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		res := r.Read(ctx, testTrace, win)
		assert.Less(t, time.Since(start), time.Second)
		for _, tr := range res.Topics {
			assert.ErrorIs(t, tr.Err, context.Canceled)
		}
	})
	t.Run("canceled while a fetch hangs", func(t *testing.T) {
		// The broker never answers fetches: only the context ends the search.
		c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			return nil, nil, true
		})
		defer c.DropControl()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		res := r.Read(ctx, testTrace, win)
		assert.Less(t, time.Since(start), 2*time.Second)
		for _, tr := range res.Topics {
			assert.ErrorIs(t, tr.Err, context.DeadlineExceeded)
			assert.Contains(t, tr.Err.Error(), "timed out")
		}
	})
}

func TestReadCapsAndProgress(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "syslog"))
	p := newProducer(t, c)
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		recs = append(recs, &kgo.Record{Topic: "syslog", Value: []byte(fmt.Sprintf("line %d trace_id=%s", i, testTrace)), Timestamp: testBase.Add(time.Duration(i) * time.Millisecond)})
	}
	produce(t, p, recs...)
	win := Window{Start: testBase.Add(-time.Minute), End: testBase.Add(time.Minute)}
	topics := []models.KafkaTopic{{Name: "syslog", Encoding: models.EncodingText}}

	var mu sync.Mutex
	var last Progress
	calls := 0
	r := newReaderFromSettings(t, models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: topics}, WithProgress(func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		assert.GreaterOrEqual(t, p.RecordsScanned, last.RecordsScanned, "progress is monotonic")
		last = p
	}))
	res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
	require.NoError(t, res.Topics[0].Err)
	assert.Len(t, res.Topics[0].Records, 3000)
	assert.False(t, res.Topics[0].Capped)
	assert.Equal(t, 3, res.Topics[0].PartitionsRead)
	mu.Lock()
	assert.Greater(t, calls, 1)
	assert.Equal(t, Progress{RecordsScanned: 3000, BytesFetched: res.Topics[0].Bytes, RecordsMatched: 3000, PartitionsDone: 3, PartitionsTotal: 3}, last)
	mu.Unlock()

	capped := newReaderFromSettings(t, models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: topics, MaxRecords: 100})
	res = capped.Read(testCtx(t, 20*time.Second), testTrace, win)
	tr := res.Topics[0]
	require.NoError(t, tr.Err)
	assert.True(t, tr.Capped)
	assert.Equal(t, int64(100), tr.Scanned)
	assert.Len(t, tr.Records, 100)

	byBytes := newReaderFromSettings(t, models.KafkaSettings{Brokers: c.ListenAddrs(), Topics: topics, MaxBytes: 1000})
	res = byBytes.Read(testCtx(t, 20*time.Second), testTrace, win)
	assert.True(t, res.Topics[0].Capped)
	assert.Less(t, len(res.Topics[0].Records), 3000)
}

func TestReadInvalidTraceID(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "a"))
	r := newTestReader(t, c, []models.KafkaTopic{{Name: "a", Encoding: models.EncodingText}})
	res := r.Read(testCtx(t, 5*time.Second), "not-hex", Window{})
	assert.ErrorIs(t, res.Topics[0].Err, models.ErrInvalidTraceID)
}

func TestCheckHealth(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(16, "otlp_logs"), kfake.SeedTopics(1, "audit"))
	r := newTestReader(t, c, []models.KafkaTopic{{Name: "otlp_logs"}, {Name: "audit"}})
	h, err := r.CheckHealth(testCtx(t, 10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, []TopicHealth{{Topic: "otlp_logs", Partitions: 16}, {Topic: "audit", Partitions: 1}}, h.Topics)
	assert.Equal(t, "1 broker; topics: otlp_logs (16 partitions), audit (1 partition)", h.Summary())

	r = newTestReader(t, c, []models.KafkaTopic{{Name: "otlp_logs"}, {Name: "syslog"}, {Name: "audti"}})
	h, err = r.CheckHealth(testCtx(t, 10*time.Second))
	require.ErrorIs(t, err, ErrTopicNotFound)
	assert.Equal(t, `topic not found: kafka topics "syslog", "audti" do not exist on the brokers`, err.Error())
	assert.Equal(t, []string{"syslog", "audti"}, h.Missing())

	dead := newReaderFromSettings(t, models.KafkaSettings{Brokers: []string{"127.0.0.1:1"}, Topics: []models.KafkaTopic{{Name: "a"}}})
	start := time.Now()
	_, err = dead.CheckHealth(testCtx(t, 20*time.Second))
	require.ErrorIs(t, err, ErrUnreachable)
	assert.Less(t, time.Since(start), 15*time.Second)
}

func TestNewRejectsBadSettings(t *testing.T) {
	_, err := New(models.KafkaSettings{})
	assert.ErrorIs(t, err, models.ErrInvalidSettings)
	_, err = New(models.KafkaSettings{Brokers: []string{"k:9092"}, SASL: models.KafkaSASL{Mechanism: "GSSAPI", Password: "hunter2"}})
	require.ErrorIs(t, err, models.ErrInvalidSettings)
	assert.NotContains(t, err.Error(), "hunter2")
}

// wrongPassword checks a rejected login is ErrAuthentication, in the health
// check and in every topic, with the hint and without the password.
func wrongPassword(t *testing.T, cfg models.KafkaSettings, win Window) {
	r := newReaderFromSettings(t, cfg)
	_, err := r.CheckHealth(testCtx(t, 20*time.Second))
	require.ErrorIs(t, err, ErrAuthentication)
	assert.Contains(t, err.Error(), AuthenticationHint)
	assert.NotContains(t, err.Error(), "not-the-password")
	res := r.Read(testCtx(t, 20*time.Second), testTrace, win)
	for _, tr := range res.Topics {
		require.ErrorIs(t, tr.Err, ErrAuthentication)
		assert.Contains(t, tr.Err.Error(), AuthenticationHint)
		assert.NotContains(t, tr.Err.Error(), "not-the-password")
	}
}
