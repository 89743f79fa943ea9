package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/traceweave/traceweave/internal/kafkatest"
	"github.com/traceweave/traceweave/pkg/models"
)

// storedBatch is a record batch as the broker stores it.
type storedBatch = kafkatest.Batch

// rawClient is a kgo client for hand-made requests to the cluster (closed
// when the test ends) and the topic's ID, which Fetch v13+ names topics by.
func rawClient(t *testing.T, c *kfake.Cluster, topic string) (context.Context, *kgo.Client, [16]byte) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	require.NoError(t, err)
	return ctx, cl, tds[topic].ID
}

// storedLog reads a partition's batches with raw Fetch requests, before any
// control function is installed.
func storedLog(t *testing.T, c *kfake.Cluster, topic string, partition int32) []storedBatch {
	t.Helper()
	log, err := kafkatest.StoredLog(testCtx(t, 10*time.Second), c, topic, partition)
	require.NoError(t, err)
	return log
}

// windowFloor is the bytes of the batches holding a record of [lo, hi] (ms):
// what any client must fetch to read the window.
func windowFloor(log []storedBatch, lo, hi int64) int64 {
	var n int64
	for _, b := range log {
		for _, ts := range b.Timestamps {
			if ts >= lo && ts <= hi {
				n += int64(len(b.Raw))
				break
			}
		}
	}
	return n
}

// kafkaLikeFetches makes the cluster answer Fetch requests for topic the way
// a Kafka broker does, from the stored batches: the batch holding the fetch
// offset and those after it, cut at the byte limit (but the first batch
// always whole). kfake returns whole batches only.
func kafkaLikeFetches(c *kfake.Cluster, topic string, log []storedBatch) {
	kafkatest.ServeFetches(c, map[string]map[int32][]kafkatest.Batch{topic: {0: log}}, true, nil)
}

const fetchTopic = "fetched"

// fetchFixture is one partition of text lines of the test trace, 10 ms
// apart, written in batches of known sizes.
type fetchFixture struct {
	c   *kfake.Cluster
	log []storedBatch
}

// newFetchFixture writes 43 batches of 46 lines and a last one of 22, each
// with one Produce request (a client's batching depends on its timing).
func newFetchFixture(t *testing.T) *fetchFixture {
	sizes := make([]int, 44)
	for i := range sizes {
		sizes[i] = 46
	}
	sizes[len(sizes)-1] = 22
	c := newCluster(t, kfake.SeedTopics(1, fetchTopic))
	produceBatches(t, c, fetchTopic, sizes)
	f := &fetchFixture{c: c, log: storedLog(t, c, fetchTopic, 0)}
	require.Len(t, f.log, len(sizes))
	return f
}

// produceBatches writes batches of the given numbers of lines to partition 0.
func produceBatches(t *testing.T, c *kfake.Cluster, topic string, sizes []int) {
	t.Helper()
	ctx, cl, topicID := rawClient(t, c, topic)
	line := int64(0)
	for _, n := range sizes {
		values := make([][]byte, n)
		for i := range values {
			values[i] = []byte(fmt.Sprintf("line %04d trace_id=%s", line+int64(i), testTrace))
		}
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = encodeBatch(0, testBase.Add(time.Duration(line)*10*time.Millisecond).UnixMilli(), 10, values)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(c.LeaderFor(topic, 0))).Request(ctx, req)
		require.NoError(t, err)
		require.NoError(t, kerr.ErrorForCode(kresp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode))
		line += int64(n)
	}
}

// at is the timestamp of line i.
func (f *fetchFixture) at(i int64) time.Time {
	return testBase.Add(time.Duration(i) * 10 * time.Millisecond)
}

// read searches the window and checks it returns exactly lines [first, last].
func (f *fetchFixture) read(t *testing.T, win Window, first, last int64) TopicResult {
	t.Helper()
	r := newTestReader(t, f.c, []models.KafkaTopic{{Name: fetchTopic, Encoding: models.EncodingText}})
	tr := r.Read(testCtx(t, 20*time.Second), testTrace, win).Topics[0]
	require.NoError(t, tr.Err)
	var want, got []string
	for i := first; i <= last; i++ {
		want = append(want, fmt.Sprintf("line %04d", i))
	}
	for _, rec := range tr.Records {
		got = append(got, strings.Fields(rec.Body)[0]+" "+strings.Fields(rec.Body)[1])
	}
	require.Equal(t, want, got, "every line of the window once, in order")
	assert.Equal(t, 1, tr.PartitionsRead)
	return tr
}

// fetchWindows are windows of line indexes: their edges on batch boundaries
// or inside batches. hi < 0 means no window end.
// readWindow reads the window of records lo..hi (hi < 0: to the last
// record), checks only the window's records were examined, and returns the
// result with the window's floor: the bytes of the batches holding it.
func (f *fetchFixture) readWindow(t *testing.T, lo, hi int64) (TopicResult, int64) {
	t.Helper()
	win, tlo, thi := f.window(lo, hi)
	last := hi
	if last < 0 {
		last = f.log[len(f.log)-1].Last
	}
	tr := f.read(t, win, lo, last)
	assert.Equal(t, last-lo+1, tr.Scanned, "only window records are examined")
	return tr, windowFloor(f.log, tlo, thi)
}

func (f *fetchFixture) windows() []struct {
	name   string
	lo, hi int64
} {
	b := f.log
	return []struct {
		name   string
		lo, hi int64
	}{
		{"inside batches", b[3].Base + 5, b[9].Base + 7},
		{"ending on a batch's last record", b[3].Base + 5, b[9].Last},
		{"starting on a batch's first record", b[4].Base, b[12].Base + 3},
		{"within one batch", b[6].Base + 2, b[6].Base + 9},
		{"one record", b[6].Base + 2, b[6].Base + 2},
		{"to the last record", b[15].Base + 1, b[len(b)-1].Last},
		{"most of the partition", b[0].Base + 1, b[len(b)-2].Last},
		{"no window end", b[17].Base + 3, -1},
	}
}

func (f *fetchFixture) window(lo, hi int64) (Window, int64, int64) {
	win := Window{Start: f.at(lo)}
	last := hi
	if hi >= 0 {
		win.End = f.at(hi)
	} else {
		last = f.log[len(f.log)-1].Last
	}
	return win, f.at(lo).UnixMilli(), f.at(last).UnixMilli()
}

// TestReadFetchesOnlyTheWindowsBatches: from a broker that answers whole
// batches (kfake), a search fetches exactly the batches that hold a window
// record, wherever the window's edges fall: not the batch after a window
// that ends on a batch boundary, and nothing to find the end.
func TestReadFetchesOnlyTheWindowsBatches(t *testing.T) {
	f := newFetchFixture(t)
	for _, w := range f.windows() {
		t.Run(w.name, func(t *testing.T) {
			tr, floor := f.readWindow(t, w.lo, w.hi)
			assert.Equal(t, floor, tr.Bytes, "exactly the window's batches")
		})
	}
	t.Run("an empty window fetches nothing", func(t *testing.T) {
		i := f.log[5].Base + 3
		win := Window{Start: f.at(i).Add(time.Millisecond), End: f.at(i).Add(9 * time.Millisecond)}
		r := newTestReader(t, f.c, []models.KafkaTopic{{Name: fetchTopic, Encoding: models.EncodingText}})
		tr := r.Read(testCtx(t, 20*time.Second), testTrace, win).Topics[0]
		require.NoError(t, tr.Err)
		assert.Empty(t, tr.Records)
		assert.Zero(t, tr.Bytes)
		assert.Equal(t, 1, tr.PartitionsRead)
	})
}

// TestReadFromKafkaLikeBroker: a broker that cuts the last batch at the byte
// limit (as Kafka does) costs the cut bytes; with even batches the reader's
// limits fall just past batch boundaries, so the cuts stay under a quarter
// of a batch per window, and the window is read exactly.
func TestReadFromKafkaLikeBroker(t *testing.T) {
	f := newFetchFixture(t)
	kafkaLikeFetches(f.c, fetchTopic, f.log)
	batch := int64(len(f.log[1].Raw))
	for _, w := range f.windows() {
		t.Run(w.name, func(t *testing.T) {
			tr, floor := f.readWindow(t, w.lo, w.hi)
			t.Logf("fetched %d bytes, floor %d (%.3f)", tr.Bytes, floor, float64(tr.Bytes)/float64(floor))
			assert.GreaterOrEqual(t, tr.Bytes, floor)
			assert.LessOrEqual(t, tr.Bytes-floor, batch/4, "cut bytes")
		})
	}
}

// TestReadEndHint: the end-offset hint stops a search only when the broker
// names a record past the window end; reading stops at the first record
// past the window end, even when later records are older (out-of-order
// producer timestamps).
func TestReadEndHint(t *testing.T) {
	t.Run("a record past the end among older ones", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(1, fetchTopic))
		p := newProducer(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		var recs []*kgo.Record
		for i := 0; i < 300; i++ {
			ts := testBase.Add(time.Duration(i) * time.Second)
			if i == 150 {
				ts = testBase.Add(time.Hour) // a producer with a clock ahead
			}
			recs = append(recs, &kgo.Record{Topic: fetchTopic, Timestamp: ts, Value: []byte(fmt.Sprintf("line %04d trace_id=%s", i, testTrace))})
		}
		produce(t, p, recs...)
		r := newTestReader(t, c, []models.KafkaTopic{{Name: fetchTopic, Encoding: models.EncodingText}})
		tr := r.Read(testCtx(t, 20*time.Second), testTrace, Window{Start: testBase.Add(100 * time.Second), End: testBase.Add(200 * time.Second)}).Topics[0]
		require.NoError(t, tr.Err)
		require.Len(t, tr.Records, 50, "lines 100-149: the search stops at line 150, as the timestamp rule does")
		assert.True(t, strings.HasPrefix(tr.Records[49].Body, "line 0149 "))
	})
	t.Run("a hint that is not past the end is not trusted", func(t *testing.T) {
		f := newFetchFixture(t)
		lo, hi := f.log[2].Base+3, f.log[8].Base+4
		win := Window{Start: f.at(lo), End: f.at(hi)}
		early := f.log[5].Base + 1
		// The answer to ListOffsets(window end + 1 ms) names a record
		// inside the window: following it would lose lines.
		f.c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
			req := kreq.(*kmsg.ListOffsetsRequest)
			if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Timestamp != win.End.UnixMilli()+1 {
				f.c.KeepControl()
				return nil, nil, false
			}
			resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = req.Topics[0].Topic
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition, sp.Offset, sp.Timestamp = 0, early, f.at(early).UnixMilli()
			st.Partitions = append(st.Partitions, sp)
			resp.Topics = append(resp.Topics, st)
			return resp, nil, true
		})
		f.read(t, win, lo, hi)
	})
}

// TestReadSizesFetchesWithoutHint: when the end-offset lookup fails the
// search still reads the window, by timestamps, with doubling fetches.
func TestReadSizesFetchesWithoutHint(t *testing.T) {
	f := newFetchFixture(t)
	lo, hi := f.log[2].Base+3, f.log[12].Base+4
	win := Window{Start: f.at(lo), End: f.at(hi)}
	f.c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		f.c.KeepControl()
		req := kreq.(*kmsg.ListOffsetsRequest)
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Timestamp != win.End.UnixMilli()+1 {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = req.Topics[0].Topic
		sp := kmsg.NewListOffsetsResponseTopicPartition()
		sp.ErrorCode = kerr.UnknownServerError.Code
		st.Partitions = append(st.Partitions, sp)
		resp.Topics = append(resp.Topics, st)
		return resp, nil, true
	})
	f.read(t, win, lo, hi)
}
