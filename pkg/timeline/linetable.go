package timeline

// lineTable is dedupLogs' index of distinct log lines: an open-addressing
// table with linear probing, one uint64 per slot holding the top 32 bits of
// the line's hash and 1 + the global index of the line's first record (0
// marks an empty slot). The low hash bits pick the first slot. One flat
// array without pointers costs one cache miss per line and nothing for the
// GC to scan; a lookup that misses ends at the empty slot the new line
// takes, so each line costs one probe sequence, not a lookup and an insert.
//
// Matching top bits only name a candidate: the caller confirms it against
// the first record's key and probes on when the keys differ, so lines whose
// hashes collide stay distinct.
type lineTable struct {
	slots []uint64
	mask  uint64
}

// newLineTable sizes the table for n lines at most two-thirds full: probe
// sequences stay a few slots long, mostly within one cache line.
func newLineTable(n int) lineTable {
	size := 16
	for size < n+n/2 {
		size <<= 1
	}
	return lineTable{slots: make([]uint64, size), mask: uint64(size - 1)}
}

const lineTableFirstBits = 0xffff_ffff

// entry is the slot value for a line with hash h whose first record is g
// (0 <= g < 2^31-1, so g+1 fits the low 32 bits and is never 0).
func (lineTable) entry(h uint64, g int32) uint64 {
	return h&^lineTableFirstBits | uint64(g+1)
}

// candidate reports whether slot value e may hold the line with hash h, and
// the global index of that line's first record.
func (lineTable) candidate(e, h uint64) (int32, bool) {
	return int32(e&lineTableFirstBits) - 1, e&^lineTableFirstBits == h&^lineTableFirstBits
}
