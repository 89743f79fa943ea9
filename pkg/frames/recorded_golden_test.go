package frames

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// recordedModel merges testdata/recorded_merge_input.json: the recorded
// Tempo fixture trace (8 spans, tiers by the default rules) with the 9
// recorded Loki lines as pkg/loki decodes them, and the line-filter answer's
// lines again as a Kafka topic holds them (time cut to the millisecond), so
// most lines come from two sources.
func recordedModel(t *testing.T) *timeline.Model {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "recorded_merge_input.json"))
	require.NoError(t, err)
	var in struct {
		Trace   *timeline.Trace        `json:"trace"`
		LogSets [][]timeline.LogRecord `json:"logSets"`
	}
	require.NoError(t, json.Unmarshal(b, &in))
	require.NotNil(t, in.Trace)
	return timeline.Merge(in.Trace, in.LogSets...)
}

// TestFramesGolden pins the trace and logs frames, besides the hand-built
// models of trace.golden and logs.golden, of the recorded fixtures merged
// (the logs frame also without options: no links, no Loki selector) and of
// generated models with several lines per span across three Kafka topics,
// every Loki line with its own structured metadata or sharing its stream's
// labels (the trace frame does not read labels: one golden serves both).
func TestFramesGolden(t *testing.T) {
	recorded := recordedModel(t)
	meta, stream := benchModel(10, 60, true), benchModel(10, 60, false)
	for name, f := range map[string]*data.Frame{
		"trace_recorded":           Trace(recorded, traceOptions()),
		"logs_recorded":            Logs(recorded, logsOptions()),
		"logs_recorded_no_options": Logs(recorded, Options{}),
		"trace_bench":              Trace(meta, traceOptions()),
		"logs_bench_metadata":      Logs(meta, logsOptions()),
		"logs_bench_stream_labels": Logs(stream, logsOptions()),
	} {
		n, err := f.RowLen()
		require.NoError(t, err)
		require.NotZero(t, n, name)
		experimental.CheckGoldenJSONFrame(t, "testdata", name+".golden", f, updateGolden())
	}
}

// TestFramesOfNoModel: a nil model (no trace, no lines) gives frames with
// every field and no rows, never a panic.
func TestFramesOfNoModel(t *testing.T) {
	for _, f := range []*data.Frame{Trace(nil, traceOptions()), Logs(nil, logsOptions())} {
		n, err := f.RowLen()
		require.NoError(t, err)
		require.Zero(t, n, f.Name)
		require.NotEmpty(t, f.Fields, f.Name)
	}
}
