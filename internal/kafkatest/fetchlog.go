package kafkatest

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Batch is a record batch as the broker stores it.
type Batch struct {
	Raw        []byte
	Base, Last int64   // its first and last offsets
	Timestamps []int64 // its records' timestamps, ms
}

// StoredLog reads a partition's batches with raw Fetch requests (before a
// control function that answers Fetch requests is installed).
func StoredLog(ctx context.Context, c *kfake.Cluster, topic string, partition int32) ([]Batch, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	info := c.TopicInfo(topic)
	if info == nil {
		return nil, fmt.Errorf("kafkatest: no topic %q", topic)
	}
	var out []Batch
	for off, hwm := int64(0), int64(1); off < hwm; {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<30, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, info.TopicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, off, 1<<30
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(c.LeaderFor(topic, partition))).Request(ctx, req)
		if err != nil {
			return nil, err
		}
		got := kresp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(got.ErrorCode); err != nil {
			return nil, err
		}
		hwm = got.HighWatermark
		if off < hwm && len(got.RecordBatches) == 0 {
			return nil, fmt.Errorf("kafkatest: no batch at offset %d below the high watermark %d", off, hwm)
		}
		for raw := got.RecordBatches; len(raw) >= 12; {
			one := got
			one.RecordBatches = raw[:batchLen(raw)]
			fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: topic, Partition: partition}, &one, kgo.DefaultDecompressor(), nil)
			if fp.Err != nil {
				return nil, fp.Err
			}
			b := Batch{Raw: one.RecordBatches, Base: int64(binary.BigEndian.Uint64(raw)), Last: next - 1}
			for _, r := range fp.Records {
				b.Timestamps = append(b.Timestamps, r.Timestamp.UnixMilli())
			}
			out = append(out, b)
			raw = raw[len(one.RecordBatches):]
			off = next
		}
	}
	return out, nil
}

// batchLen is the size of the first batch of raw: 12 bytes of offset and
// length, then the length.
func batchLen(raw []byte) int {
	return min(int(int32(binary.BigEndian.Uint32(raw[8:])))+12, len(raw))
}

// Answer is a Fetch answer for one partition from its stored batches: the
// batch holding the fetch offset and the whole batches after it while they
// fit limit (kfake), or, with cut, bytes up to limit, the last batch cut
// short (Kafka). The first batch always comes whole.
func Answer(log []Batch, fetchOffset int64, limit int, cut bool) []byte {
	var out []byte
	for _, b := range log {
		if b.Last < fetchOffset {
			continue
		}
		if len(out) > 0 && len(out)+len(b.Raw) > limit && !cut {
			break
		}
		if len(out) > 0 && len(out) >= limit {
			break
		}
		out = append(out, b.Raw...)
		if cut && len(out) > limit && len(out) > len(b.Raw) {
			return out[:limit]
		}
	}
	return out
}

// ServeFetches makes the cluster answer every Fetch request for the topics
// of logs (topic → partition → stored batches) from them with Answer; calls
// note, if not nil, with each request partition and the bytes answered. A
// request for another topic is left to the cluster.
func ServeFetches(c *kfake.Cluster, logs map[string]map[int32][]Batch, cut bool, note func(topic string, rp *kmsg.FetchRequestTopicPartition, answered []byte)) {
	names := map[[16]byte]string{}
	for t := range logs {
		if info := c.TopicInfo(t); info != nil {
			names[info.TopicID] = t
		}
	}
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			name := rt.Topic
			if n, ok := names[rt.TopicID]; ok && name == "" {
				name = n
			}
			parts, ok := logs[name]
			if !ok {
				return nil, nil, false
			}
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for i := range rt.Partitions {
				rp := &rt.Partitions[i]
				log := parts[rp.Partition]
				hwm := int64(0)
				if len(log) > 0 {
					hwm = log[len(log)-1].Last + 1
				}
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = rp.Partition, hwm, hwm, 0
				if rp.FetchOffset < 0 || rp.FetchOffset > hwm {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				} else {
					sp.RecordBatches = Answer(log, rp.FetchOffset, int(min(req.MaxBytes, rp.PartitionMaxBytes)), cut)
				}
				if note != nil {
					note(name, rp, sp.RecordBatches)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// Fetched is what one Fetch answer served for one partition.
type Fetched struct {
	Topic       string
	Partition   int32
	FetchOffset int64
	// First and Last are the first and last offsets of the whole record
	// batches in the answer (a batch comes whole, so First may be below
	// FetchOffset); Last < First when the answer held none.
	First, Last int64
}

// Reread is an offset that more than one Fetch answer served.
type Reread struct {
	Topic     string
	Partition int32
	Offset    int64
	Times     int
}

// FetchLog records what the Fetch answers for some topics serve, at the
// broker: the records each answer holds, per topic and partition, whoever
// asked. It sees the answers (which include, batch by batch, offsets below
// the fetch offset), not what a client kept of them, so it shows whether a
// search fetched a record more than once.
//
// The answers are made from the topics' batches as stored when the log is
// installed, the way kfake answers (ServeFetches): records produced later
// are not served. (Passing each request on to kfake instead needs its
// SleepControl, which races when several fetches sleep at once.)
type FetchLog struct {
	mu      sync.Mutex
	fetched []Fetched
}

// NewFetchLog snapshots every partition of the topics and answers their
// Fetch requests from the snapshot, noting each answer.
func NewFetchLog(ctx context.Context, c *kfake.Cluster, topics ...string) (*FetchLog, error) {
	logs := map[string]map[int32][]Batch{}
	for _, t := range topics {
		logs[t] = map[int32][]Batch{}
		for _, pi := range c.PartitionInfos(t) {
			b, err := StoredLog(ctx, c, t, pi.Partition)
			if err != nil {
				return nil, err
			}
			logs[t][pi.Partition] = b
		}
		if len(logs[t]) == 0 {
			return nil, fmt.Errorf("kafkatest: no topic %q", t)
		}
	}
	l := &FetchLog{}
	ServeFetches(c, logs, false, l.note)
	return l, nil
}

// note records an answer's whole batches.
func (l *FetchLog) note(topic string, rp *kmsg.FetchRequestTopicPartition, answered []byte) {
	f := Fetched{Topic: topic, Partition: rp.Partition, FetchOffset: rp.FetchOffset, First: 0, Last: -1}
	for b, first := answered, true; len(b) >= 27; first = false {
		// A batch: base offset (8 bytes), length (4), …, last offset delta (4 at 23).
		size := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if size < 27 || size > len(b) {
			break // cut at the byte limit: the client fetches it again
		}
		base := int64(binary.BigEndian.Uint64(b))
		if first {
			f.First = base
		}
		f.Last = base + int64(int32(binary.BigEndian.Uint32(b[23:])))
		b = b[size:]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fetched = append(l.fetched, f)
}

// Fetched is every partition answer so far, in the order served.
func (l *FetchLog) Fetched() []Fetched {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.fetched)
}

// Reset forgets the answers so far.
func (l *FetchLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fetched = nil
}

// Partitions is the partitions of topic that answers served, in order.
func (l *FetchLog) Partitions(topic string) []int32 {
	var out []int32
	for _, f := range l.Fetched() {
		if f.Topic == topic && !slices.Contains(out, f.Partition) {
			out = append(out, f.Partition)
		}
	}
	slices.Sort(out)
	return out
}

// Served counts the offsets that answers served for topic.
func (l *FetchLog) Served(topic string) int64 {
	var n int64
	for _, f := range l.Fetched() {
		if f.Topic == topic && f.Last >= f.First {
			n += f.Last - f.First + 1
		}
	}
	return n
}

// Rereads is every offset served more than once, by topic, partition and
// offset.
func (l *FetchLog) Rereads() []Reread {
	type key struct {
		topic     string
		partition int32
		offset    int64
	}
	times := map[key]int{}
	for _, f := range l.Fetched() {
		for o := f.First; o <= f.Last; o++ {
			times[key{f.Topic, f.Partition, o}]++
		}
	}
	var out []Reread
	for k, n := range times {
		if n > 1 {
			out = append(out, Reread{Topic: k.topic, Partition: k.partition, Offset: k.offset, Times: n})
		}
	}
	slices.SortFunc(out, func(a, b Reread) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	return out
}
