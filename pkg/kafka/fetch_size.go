package kafka

import (
	"encoding/binary"
	"math"
)

// Fetch sizing.
//
// A Fetch answer is made of whole record batches: a broker returns at least
// the batch holding the fetch offset, even when it is bigger than the limit,
// and then whole batches while they fit the limit (kfake) or bytes up to the
// limit, the last batch cut short (Kafka: the client drops the cut batch and
// fetches it again). So every byte past the last batch the window needs is
// waste, and so is every cut tail. The reader knows where the window ends in
// offsets (the end-offset hint, or the high watermark) and learns the
// partition's batch and record sizes from the batch headers it has fetched,
// so it sizes each fetch to end on the window's last batch:
//
//   - The first fetch of a partition asks for one batch (a 1-byte limit):
//     it costs no waste, however small the window, and tells the batch size.
//   - With more than three batches left, a fetch asks for 7/8 of them less
//     half a batch, so an estimate off by a few percent still stops short
//     of the window end, and the next fetch is sized from fresher figures.
//     The limit is a whole number of average batches from the fetch offset
//     (after the first fetch, a batch start) plus 1/8 of one: just past the
//     batch boundaries a busy producer's full batches have, so a broker
//     that cuts cuts little when batch sizes are even.
//   - The last fetch asks for the estimated bytes left plus 1/8 of a batch:
//     it ends on the window's last batch when that batch ends at the window
//     end (batches are per partition: with the sticky partitioner the
//     window end falls most often between two of them), however uneven the
//     batches. A last batch that runs past the window end comes in one
//     more fetch (the first batch of an answer is always whole): a round
//     trip, not bytes. When the bytes after the window end are fewer (the
//     partition's last batch is often a small one), the slack shrinks to
//     half of them, so that batch stays out.
//   - From a broker that has cut an answer, the last batches come one whole
//     batch a fetch instead: a guess past a boundary would cost the cut.

// batchScan summarises the record batches of one Fetch answer.
type batchScan struct {
	whole int   // whole batches
	bytes int64 // their bytes
	// first is the first offset of the first whole batch, last the last
	// offset of the last one (legacy message sets give the offset of each
	// wrapper, so first is then approximate).
	first, last int64
	// tail counts the bytes of a batch cut at the byte limit.
	tail int64
}

// scanBatches reads the batch headers of a Fetch answer's record set: the
// offset (8 bytes), the length (4) and, in a magic-2 batch, the last offset
// delta (4 bytes at 23). It does not validate the batches
// (kgo.ProcessFetchPartition does): a length that runs past the end marks a
// cut batch.
func scanBatches(b []byte) batchScan {
	var s batchScan
	for len(b) > 0 {
		if len(b) < 12 {
			s.tail = int64(len(b))
			return s
		}
		size := int64(int32(binary.BigEndian.Uint32(b[8:]))) + 12
		if size <= 12 || size > int64(len(b)) {
			s.tail = int64(len(b))
			return s
		}
		base := int64(binary.BigEndian.Uint64(b))
		last := base // a legacy message set entry: its offset is the wrapper's last
		if size >= 61 && b[16] == 2 {
			last = base + int64(int32(binary.BigEndian.Uint32(b[23:])))
		}
		if s.whole == 0 {
			s.first = base
		}
		s.whole++
		s.bytes += size
		s.last = last
		b = b[size:]
	}
	return s
}

// fetchStats are the whole batches a partition read has fetched so far, and
// whether the broker has cut an answer at the byte limit.
type fetchStats struct {
	batches, bytes, offsets int64
	cuts                    bool
}

func (f *fetchStats) add(s batchScan) {
	f.cuts = f.cuts || s.tail > 0
	if s.whole == 0 || s.last < s.first {
		return
	}
	f.batches += int64(s.whole)
	f.bytes += s.bytes
	f.offsets += s.last - s.first + 1
}

// sizeFetch is the byte limit of a fetch at off when the offsets to read end
// at stop (exclusive) and the partition at end, given the batches fetched so
// far. See the comment at the top of the file.
func sizeFetch(off, stop, end int64, st fetchStats) int64 {
	if st.batches == 0 || st.offsets <= 0 {
		return 1
	}
	batch := float64(st.bytes) / float64(st.batches)
	perOffset := float64(st.bytes) / float64(st.offsets)
	left := float64(stop-off) * perOffset / batch // batches left
	slack := 1.0 / 8                              // of a batch
	if end > stop {
		slack = min(slack, float64(end-stop)*perOffset/batch/2)
	}
	switch {
	case left > 3:
		return clampFetch(int64((max(math.Floor(left*7/8-0.5), 1) + slack) * batch))
	case st.cuts:
		return 1
	}
	return clampFetch(int64((left + slack) * batch))
}

func clampFetch(n int64) int64 { return min(max(n, 1), maxFetchBytes) }
