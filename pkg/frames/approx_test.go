package frames

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestApproxBytesTracksTheHeap compares timeline.Model.ApproxBytes, the
// size the shared-run cache is bounded by, with the heap a generated
// 1k-span / 100k-line model takes: it may overestimate (the safe side for a
// bound), not by more than half, and must not underestimate by more than a
// fifth.
func TestApproxBytesTracksTheHeap(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := benchModel(1_000, 100_000, true)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	ratio := float64(m.ApproxBytes()) / heap
	t.Logf("ApproxBytes %d MB, heap %.0f MB (%.2f)", m.ApproxBytes()>>20, heap/(1<<20), ratio)
	assert.GreaterOrEqual(t, ratio, 0.8)
	assert.LessOrEqual(t, ratio, 1.5)
	runtime.KeepAlive(m)
}
