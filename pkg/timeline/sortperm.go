package timeline

import (
	"cmp"
	"slices"
)

// permEntry is one element of a sort by permutation: its key, its index
// (which also breaks ties, so it must increase in input order) and a spare
// field the caller may use (dedupLogs keeps the record's source set there).
// 16 bytes: sorting these instead of the elements moves far less memory.
type permEntry struct {
	k   int64
	i   int32
	aux int32
}

// sortPerm sorts entries by key, then by tie (may be nil), then by index,
// which is input order when indexes increase in input order, as they must.
//
// Inputs here are usually ordered already or made of a few ordered runs:
// each upstream returns its lines in time order, so the concatenated
// sources are one run per source (per stream or partition at worst), and
// spans arrive mostly in start order. sortPerm therefore counts the
// natural runs first: one run is returned as is, a few are merged pairwise
// (O(n log runs), sequential passes), and only input that is mostly out of
// order gets a full comparison sort.
func sortPerm(entries []permEntry, tie func(a, b int32) int) {
	n := len(entries)
	if n < 2 {
		return
	}
	compare := func(a, b *permEntry) int {
		if a.k != b.k {
			return cmp.Compare(a.k, b.k)
		}
		if tie != nil {
			if c := tie(a.i, b.i); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.i, b.i)
	}
	// bounds holds the start of every run, then n. Indexes increase in
	// input order, so only key and tie can put an entry before the previous.
	bounds := []int{0}
	for x := 1; x < n; x++ {
		if p, c := &entries[x-1], &entries[x]; p.k > c.k || (p.k == c.k && tie != nil && tie(p.i, c.i) > 0) {
			bounds = append(bounds, x)
			if len(bounds) > maxMergedRuns {
				slices.SortFunc(entries, func(a, b permEntry) int { return compare(&a, &b) })
				return
			}
		}
	}
	if len(bounds) == 1 {
		return
	}
	bounds = append(bounds, n)
	src, dst := entries, make([]permEntry, n)
	for len(bounds) > 2 {
		next := append(make([]int, 0, len(bounds)/2+2), 0)
		for r := 0; r+1 < len(bounds); r += 2 {
			lo, end := bounds[r], bounds[len(bounds)-1]
			if r+2 < len(bounds) {
				end = bounds[r+2]
				mergeRuns(dst[lo:end], src[lo:bounds[r+1]], src[bounds[r+1]:end], tie)
			} else { // odd run out: carried over to the next pass
				copy(dst[lo:end], src[lo:end])
			}
			next = append(next, end)
		}
		bounds = next
		src, dst = dst, src
	}
	if &src[0] != &entries[0] {
		copy(entries, src)
	}
}

// maxMergedRuns bounds the runs sortPerm merges: past it the input is
// treated as unordered. Merging r runs costs log2(r) passes; at 64 runs (six
// passes) merging is still a little faster than the comparison sort
// (BenchmarkSortPerm), which is what the bound must keep.
const maxMergedRuns = 64

// mergeRuns merges the ordered runs a and b into out (len(a)+len(b)). Every
// index in a is below every index in b (runs are adjacent stretches of the
// input), so on equal keys and tie a's element goes first, and the indexes
// need not be compared. Without tie the comparison is inline.
func mergeRuns(out, a, b []permEntry, tie func(a, b int32) int) {
	i, j, o := 0, 0, 0
	for i < len(a) && j < len(b) {
		x, y := &a[i], &b[j]
		if y.k < x.k || (y.k == x.k && tie != nil && tie(y.i, x.i) < 0) {
			out[o] = *y
			j++
		} else {
			out[o] = *x
			i++
		}
		o++
	}
	o += copy(out[o:], a[i:])
	copy(out[o:], b[j:])
}

// sortStable sorts items stably by key (ties: tie, then input order),
// moving each element once: it sorts a flat array of (key, index) pairs
// with sortPerm — small, cache-friendly — and then applies the permutation
// in place by following its cycles. Spans and logs are structs of a few
// hundred bytes; a stable sort swapping them directly, or comparing them
// through indexes, made Merge several times slower at 100k logs. tie may be
// nil. len(items) must fit in an int32.
func sortStable[T any](items []T, key func(*T) int64, tie func(a, b *T) int) {
	entries := make([]permEntry, len(items))
	for i := range items {
		entries[i] = permEntry{k: key(&items[i]), i: int32(i)}
	}
	var tieIdx func(a, b int32) int
	if tie != nil {
		tieIdx = func(a, b int32) int { return tie(&items[a], &items[b]) }
	}
	sortPerm(entries, tieIdx)
	// entries[k].i is the index of the element that belongs at position k;
	// -1 marks positions already filled.
	for start := range entries {
		if entries[start].i < 0 || int(entries[start].i) == start {
			continue
		}
		tmp := items[start]
		j := start
		for {
			src := int(entries[j].i)
			entries[j].i = -1
			if src == start {
				items[j] = tmp
				break
			}
			items[j] = items[src]
			j = src
		}
	}
}
