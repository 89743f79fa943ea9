package timeline

import (
	"cmp"
	"slices"
)

// sortStable sorts items stably by key (ties: tie, then input order),
// moving each element once: it sorts a flat array of (key, index) pairs —
// small, cache-friendly — and then applies the permutation in place by
// following its cycles. Spans and logs are structs of a few hundred bytes;
// a stable sort swapping them directly, or comparing them through indexes,
// made Merge several times slower at 100k logs. tie may be nil.
func sortStable[T any](items []T, key func(*T) int64, tie func(a, b *T) int) {
	n := len(items)
	type entry struct {
		k int64
		i int32
	}
	entries := make([]entry, n)
	sorted := true
	for i := range items {
		entries[i] = entry{key(&items[i]), int32(i)}
		if i > 0 && entries[i].k < entries[i-1].k {
			sorted = false
		}
	}
	if sorted && tie == nil {
		return
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.k, b.k); c != 0 {
			return c
		}
		if tie != nil {
			if c := tie(&items[a.i], &items[b.i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.i, b.i) // equal keys keep input order
	})
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
