package frames

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEstimateBytesTracksTheFrames compares EstimateBytes with the Arrow
// size of the frames it estimates (what the SDK sends): the admission of
// answers by size relies on it being of the right order.
func TestEstimateBytesTracksTheFrames(t *testing.T) {
	for _, c := range []struct{ spans, logs int }{{1_000, 1_000}, {1_000, 20_000}, {100, 20_000}} {
		m := benchModel(c.spans, c.logs, true)
		opts := traceOptions()
		opts.MaxLogsPerSpan = 100
		for _, name := range []string{NameTrace, NameLogs, NameTimeline} {
			raw, err := Build(name, m, opts).MarshalArrow()
			require.NoError(t, err)
			est := EstimateBytes(m, []string{name}, opts)
			ratio := float64(est) / float64(len(raw))
			t.Logf("%d spans / %d lines %s: estimate %d, Arrow %d (%.2f)", c.spans, c.logs, name, est, len(raw), ratio)
			assert.InDelta(t, 1, ratio, 0.2, "%d spans / %d lines, frame %s", c.spans, c.logs, name)
		}
	}
	assert.Zero(t, EstimateBytes(nil, []string{NameLogs}, Options{}))
}
