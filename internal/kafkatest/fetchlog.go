package kafkatest

import (
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetched is one partition of one Fetch request.
type Fetched struct {
	Topic       string
	Partition   int32
	FetchOffset int64
}

// Reread is a fetch of a partition at an offset that an earlier fetch of
// that partition had already reached: the records from Offset on are read
// again.
type Reread struct {
	Topic     string
	Partition int32
	Offset    int64
	// Reached is the highest fetch offset asked before it.
	Reached int64
}

// FetchLog records, at the broker, the offset every Fetch request asks of
// each partition, whoever asked. A reader that reads each record at most
// once only moves forward in a partition: each fetch asks past the records
// the previous one returned, so a fetch offset at or below an earlier one
// of the same partition is a record read again (Rereads).
//
// It observes the requests and lets the cluster answer them. It does not
// forward them to read the answers: kfake's SleepControl, which that needs,
// races under -race when several connections fetch at once.
type FetchLog struct {
	c     *kfake.Cluster
	names map[[16]byte]string // topic ID → name, fixed by NewFetchLog

	mu      sync.Mutex
	fetched []Fetched
}

// NewFetchLog installs the log on the cluster's Fetch requests; the
// cluster's topics must exist (their IDs name them in Fetch v13+).
func NewFetchLog(c *kfake.Cluster, topics ...string) (*FetchLog, error) {
	l := &FetchLog{c: c, names: map[[16]byte]string{}}
	for _, t := range topics {
		info := c.TopicInfo(t)
		if info == nil {
			return nil, fmt.Errorf("kafkatest: no topic %q", t)
		}
		l.names[info.TopicID] = t
	}
	c.ControlKey(int16(kmsg.Fetch), l.control)
	return l, nil
}

// Close is a no-op kept for symmetry with the cluster's own cleanup: the
// log holds no connection.
func (l *FetchLog) Close() {}

func (l *FetchLog) control(kreq kmsg.Request) (kmsg.Response, error, bool) {
	l.c.KeepControl()
	req := kreq.(*kmsg.FetchRequest)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, rt := range req.Topics {
		name := l.name(rt.Topic, rt.TopicID)
		for _, rp := range rt.Partitions {
			l.fetched = append(l.fetched, Fetched{Topic: name, Partition: rp.Partition, FetchOffset: rp.FetchOffset})
		}
	}
	return nil, nil, false
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

// Fetches counts the partition fetches asked.
func (l *FetchLog) Fetches() int { return len(l.Fetched()) }

// Rereads is every fetch that asked a partition at or below an offset an
// earlier fetch of it had asked, in the order asked.
func (l *FetchLog) Rereads() []Reread {
	type key struct {
		topic     string
		partition int32
	}
	reached := map[key]int64{}
	var out []Reread
	for _, f := range l.Fetched() {
		k := key{f.Topic, f.Partition}
		if r, ok := reached[k]; ok && f.FetchOffset <= r {
			out = append(out, Reread{Topic: f.Topic, Partition: f.Partition, Offset: f.FetchOffset, Reached: r})
		}
		reached[k] = max(reached[k], f.FetchOffset)
	}
	return out
}
