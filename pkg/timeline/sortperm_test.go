package timeline

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSortPermMatchesStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 2000 {
		size := rng.IntN(300)
		keys := make([]int64, size)
		ties := make([]int, size)
		for i := range keys {
			keys[i], ties[i] = int64(rng.IntN(1+size/3)), rng.IntN(3)
		}
		switch runs := rng.IntN(2 * maxMergedRuns); {
		case runs == 0:
			slices.Sort(keys)
		case runs < maxMergedRuns+8: // about runs ordered runs, around the merge limit
			for lo := 0; lo < size; lo += size/runs + 1 {
				slices.Sort(keys[lo:min(size, lo+size/runs+1)])
			}
		}
		var tie func(a, b int32) int
		if n%2 == 1 {
			tie = func(a, b int32) int { return cmp.Compare(ties[a], ties[b]) }
		}
		entries := make([]permEntry, size)
		for i := range entries {
			entries[i] = permEntry{k: keys[i], i: int32(i), aux: int32(-i)}
		}
		want := slices.Clone(entries)
		slices.SortStableFunc(want, func(a, b permEntry) int {
			if c := cmp.Compare(a.k, b.k); c != 0 || tie == nil {
				return c
			}
			return tie(a.i, b.i)
		})
		sortPerm(entries, tie)
		require.Equal(t, want, entries, "case %d", n)
	}
}

// BenchmarkSortPerm sorts 100k entries made of a given number of ordered
// runs (0: shuffled), with sortPerm and with the comparison sort it falls
// back to, to place maxMergedRuns.
func BenchmarkSortPerm(b *testing.B) {
	const n = 100_000
	for _, runs := range []int{1, 8, 64, 256, 0} {
		rng := rand.New(rand.NewPCG(7, 8))
		keys := make([]permEntry, n)
		for i := range keys {
			keys[i] = permEntry{k: int64(rng.IntN(n)), i: int32(i)}
		}
		if runs > 0 {
			for lo := 0; lo < n; lo += n / runs {
				run := keys[lo:min(n, lo+n/runs)]
				slices.SortFunc(run, func(a, b permEntry) int { return cmp.Compare(a.k, b.k) })
			}
		}
		entries := make([]permEntry, n)
		b.Run(fmt.Sprintf("runs=%d/sortPerm", runs), func(b *testing.B) {
			for b.Loop() {
				copy(entries, keys)
				sortPerm(entries, nil)
			}
		})
		b.Run(fmt.Sprintf("runs=%d/SortFunc", runs), func(b *testing.B) {
			for b.Loop() {
				copy(entries, keys)
				slices.SortFunc(entries, func(a, b permEntry) int { return cmp.Or(cmp.Compare(a.k, b.k), cmp.Compare(a.i, b.i)) })
			}
		})
	}
}
