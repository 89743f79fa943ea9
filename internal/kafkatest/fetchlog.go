package kafkatest

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetched is what one Fetch answer served for one partition.
type Fetched struct {
	Topic       string
	Partition   int32
	FetchOffset int64
	// First and Last are the first and last offsets of the record batches
	// in the answer (a batch comes whole, so First may be below
	// FetchOffset); Last < First when the answer held no batch.
	First, Last int64
}

// Reread is an offset that more than one Fetch answer served.
type Reread struct {
	Topic     string
	Partition int32
	Offset    int64
	Times     int
}

// FetchLog records what a kfake cluster's Fetch answers serve, at the
// broker: the records each answer holds, per topic and partition, whoever
// asked. It sees the answers themselves (which include, batch by batch,
// offsets below the fetch offset), not what a client kept of them, so it
// proves that a search fetched each record at most once.
//
// It passes every Fetch on to the cluster from a client of its own, marked
// so it is not caught again, while the cluster serves other connections,
// and returns the cluster's answer after noting it.
type FetchLog struct {
	c   *kfake.Cluster
	cl  *kgo.Client
	ctx context.Context

	names map[[16]byte]string // topic ID → name, fixed by NewFetchLog

	mu      sync.Mutex
	fetched []Fetched
}

// forwardRack marks the Fetch requests the log passes on (the rack field is
// free text a broker only uses to pick a replica).
const forwardRack = "traceweave-fetchlog"

// NewFetchLog installs the log on the cluster's Fetch requests; the
// cluster's topics must exist (their IDs name them in Fetch v13+). Close
// it when the test ends.
func NewFetchLog(c *kfake.Cluster, topics ...string) (*FetchLog, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return nil, err
	}
	l := &FetchLog{c: c, cl: cl, ctx: context.Background(), names: map[[16]byte]string{}}
	for _, t := range topics {
		info := c.TopicInfo(t)
		if info == nil {
			cl.Close()
			return nil, fmt.Errorf("kafkatest: no topic %q", t)
		}
		l.names[info.TopicID] = t
	}
	c.ControlKey(int16(kmsg.Fetch), l.control)
	return l, nil
}

// Close stops passing Fetch requests through the log's client.
func (l *FetchLog) Close() { l.cl.Close() }

func (l *FetchLog) control(kreq kmsg.Request) (kmsg.Response, error, bool) {
	l.c.KeepControl()
	req := kreq.(*kmsg.FetchRequest)
	if req.Rack == forwardRack {
		return nil, nil, false // our own: the cluster answers it
	}
	node := l.c.CurrentNode()
	fwd := *req
	fwd.Rack = forwardRack
	var kresp kmsg.Response
	var err error
	l.c.SleepControl(func() {
		ctx, cancel := context.WithTimeout(l.ctx, 30*time.Second)
		defer cancel()
		kresp, err = l.cl.Broker(int(node)).Request(ctx, &fwd)
	})
	if err != nil {
		return nil, err, true // closes the asker's connection, as a broken broker would
	}
	resp := kresp.(*kmsg.FetchResponse)
	resp.SetVersion(req.GetVersion())
	l.note(req, resp)
	return resp, nil, true
}

// note records an answer's batches per partition.
func (l *FetchLog) note(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	offsets := map[string]map[int32]int64{}
	for _, rt := range req.Topics {
		name := l.name(rt.Topic, rt.TopicID)
		if offsets[name] == nil {
			offsets[name] = map[int32]int64{}
		}
		for _, rp := range rt.Partitions {
			offsets[name][rp.Partition] = rp.FetchOffset
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range resp.Topics {
		name := l.name(st.Topic, st.TopicID)
		for _, sp := range st.Partitions {
			f := Fetched{Topic: name, Partition: sp.Partition, FetchOffset: offsets[name][sp.Partition], First: 0, Last: -1}
			first := true
			for b := sp.RecordBatches; len(b) >= 27; {
				// A batch: base offset (8 bytes), length (4), …, last offset delta (4 at 23).
				size := int(int32(binary.BigEndian.Uint32(b[8:]))) + 12
				if size < 27 || size > len(b) {
					break // cut at the byte limit: the client fetches it again
				}
				base := int64(binary.BigEndian.Uint64(b))
				last := base + int64(int32(binary.BigEndian.Uint32(b[23:])))
				if first {
					f.First, first = base, false
				}
				f.Last = last
				b = b[size:]
			}
			l.fetched = append(l.fetched, f)
		}
	}
}

func (l *FetchLog) name(topic string, id [16]byte) string {
	if topic != "" {
		return topic
	}
	if n, ok := l.names[id]; ok {
		return n
	}
	return fmt.Sprintf("%x", id)
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
