package kafka

import (
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// encodeBatch encodes a magic-2, uncompressed record batch from offset base
// holding values, the record i stamped firstMs + i*stepMs, as a producer
// sends it and a broker stores it.
func encodeBatch(base, firstMs, stepMs int64, values [][]byte) []byte {
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i) * stepMs, OffsetDelta: int32(i), Value: v}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the fields after the (zero, 1-byte) length
		recs = r.AppendTo(recs)
	}
	n := int32(len(values))
	b := kmsg.RecordBatch{FirstOffset: base, Magic: 2, LastOffsetDelta: n - 1, FirstTimestamp: firstMs,
		MaxTimestamp: firstMs + int64(n-1)*stepMs, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: n, Records: recs}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

// rawBatch is a batch of n records of valueLen bytes from offset base.
func rawBatch(base int64, n, valueLen int) []byte {
	values := make([][]byte, n)
	for i := range values {
		values[i] = make([]byte, valueLen)
	}
	return encodeBatch(base, 0, 1, values)
}

func TestScanBatches(t *testing.T) {
	b1, b2, b3 := rawBatch(100, 10, 50), rawBatch(110, 5, 50), rawBatch(115, 20, 50)
	all := append(append(append([]byte{}, b1...), b2...), b3...)
	size := func(b []byte) int64 { return int64(len(b)) }

	assert.Equal(t, batchScan{whole: 3, bytes: size(all), first: 100, last: 134}, scanBatches(all), "whole batches only")
	assert.Equal(t, batchScan{whole: 2, bytes: size(b1) + size(b2), first: 100, last: 114, tail: 70},
		scanBatches(all[:len(b1)+len(b2)+70]), "a cut batch")
	assert.Equal(t, batchScan{whole: 1, bytes: size(b1), first: 100, last: 109, tail: 5},
		scanBatches(all[:len(b1)+5]), "less than an offset and a length")
	assert.Equal(t, batchScan{tail: 61}, scanBatches(b3[:61]), "only a cut batch")
	assert.Equal(t, batchScan{}, scanBatches(nil))

	bad := append([]byte{}, b1...)
	binary.BigEndian.PutUint32(bad[8:], 0)
	assert.Equal(t, batchScan{tail: size(bad)}, scanBatches(bad), "a batch length that cannot be is not read as a batch")

	legacy := make([]byte, 12+30) // a magic-0 message set entry: offset, size, message
	binary.BigEndian.PutUint64(legacy, 42)
	binary.BigEndian.PutUint32(legacy[8:], 30)
	assert.Equal(t, batchScan{whole: 1, bytes: 42, first: 42, last: 42}, scanBatches(legacy), "a legacy entry spans its own offset")
}

func TestSizeFetch(t *testing.T) {
	// 10 batches of 1000 bytes, 100 offsets each: 10 bytes an offset.
	st := fetchStats{batches: 10, bytes: 10_000, offsets: 1000}
	cut := st
	cut.cuts = true
	const far = 1 << 40
	for _, tc := range []struct {
		name           string
		off, stop, end int64
		st             fetchStats
		want           int64
	}{
		{name: "nothing fetched yet: one batch, whatever its size", off: 0, stop: far, end: far, want: 1},
		{name: "one batch left", off: 1000, stop: 1100, end: far, st: st, want: 1000 + 125},
		{name: "the bytes left and 1/8 of a batch", off: 1000, stop: 1160, end: far, st: st, want: 1600 + 125},
		{name: "three batches left", off: 1000, stop: 1300, end: far, st: st, want: 3000 + 125},
		{name: "few bytes after the window end: less slack", off: 1000, stop: 1100, end: 1104, st: st, want: 1000 + 20},
		{name: "nothing after the window end", off: 1000, stop: 1160, end: 1160, st: st, want: 1600 + 125},
		{name: "many batches left: stop short of the estimate", off: 1000, stop: 2000, end: far, st: st, want: 8000 + 125},
		{name: "a little over three batches left", off: 1000, stop: 1310, end: far, st: st, want: 2000 + 125},
		{name: "capped", off: 0, stop: far, end: far, st: st, want: maxFetchBytes},
		{name: "a broker that cuts: the last batches one at a time", off: 1000, stop: 1250, end: far, st: cut, want: 1},
		{name: "a broker that cuts: many batches left", off: 1000, stop: 2000, end: far, st: cut, want: 8000 + 125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, sizeFetch(tc.off, tc.stop, tc.end, tc.st))
		})
	}
}

func TestFetchStatsAdd(t *testing.T) {
	var st fetchStats
	st.add(batchScan{})
	assert.Equal(t, fetchStats{}, st, "an answer without a whole batch teaches nothing")
	st.add(batchScan{whole: 2, bytes: 300, first: 10, last: 29})
	assert.Equal(t, fetchStats{batches: 2, bytes: 300, offsets: 20}, st)
	st.add(batchScan{whole: 1, bytes: 100, first: 30, last: 39, tail: 7})
	assert.Equal(t, fetchStats{batches: 3, bytes: 400, offsets: 30, cuts: true}, st, "a cut tail marks a broker that cuts")
}
