package frames

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// spanLogEntries decodes the logs cells of a trace frame.
func spanLogEntries(t *testing.T, f *data.Frame) map[string][]map[string]any {
	t.Helper()
	spans, _ := f.FieldByName("spanID")
	logs, _ := f.FieldByName("logs")
	out := map[string][]map[string]any{}
	for i := 0; i < spans.Len(); i++ {
		var entries []map[string]any
		require.NoError(t, json.Unmarshal(logs.At(i).(json.RawMessage), &entries))
		out[spans.At(i).(string)] = entries
	}
	return out
}

func entryField(e map[string]any, key string) (any, bool) {
	fields, _ := e["fields"].([]any)
	for _, f := range fields {
		kv, _ := f.(map[string]any)
		if kv["key"] == key {
			return kv["value"], true
		}
	}
	return nil, false
}

// TestTraceFrameBoundsLogsPerSpan: with MaxLogsPerSpan a span's logs cell
// holds its first lines by time, then one entry, last in time, counting the
// rest; its OTLP events stay; the frame says so in a notice; and without the
// bound (0 or -1) every line is there.
func TestTraceFrameBoundsLogsPerSpan(t *testing.T) {
	m := benchModel(10, 60, true)
	const bound = 4
	opts := traceOptions()
	opts.MaxLogsPerSpan = bound
	f := Trace(m, opts)
	experimental.CheckGoldenJSONFrame(t, "testdata", "trace_bench_bounded.golden", f, updateGolden())

	cells := spanLogEntries(t, f)
	cut, hidden := 0, 0
	for i := range m.Spans {
		s := &m.Spans[i]
		entries := cells[s.SpanID]
		lines, omitted := 0, 0.0
		for j, e := range entries {
			if n, ok := entryField(e, "omitted"); ok {
				require.Equal(t, len(entries)-1, j, "span %s: the count is the last entry", s.SpanID)
				omitted = n.(float64)
				for _, prev := range entries[:j] {
					assert.LessOrEqual(t, prev["timestamp"].(float64), e["timestamp"].(float64), "and last in time")
				}
				body, _ := entryField(e, "body")
				assert.Contains(t, body, "Logs for this span")
				continue
			}
			if e["name"] == traceLogName {
				lines++
			}
		}
		assert.Equal(t, min(len(s.Logs), bound), lines, "span %s", s.SpanID)
		assert.Equal(t, float64(max(len(s.Logs)-bound, 0)), omitted, "span %s", s.SpanID)
		assert.Equal(t, len(s.Events)+lines+btoi(omitted > 0), len(entries), "span %s: its events stay", s.SpanID)
		if len(s.Logs) > bound {
			cut++
			hidden += len(s.Logs) - bound
			// The lines shown are the span's first by time.
			first := m.Logs[s.Logs[0]].Body
			found := false
			for _, e := range entries {
				if b, _ := entryField(e, "body"); b == first {
					found = true
				}
			}
			assert.True(t, found, "span %s shows its first line", s.SpanID)
		}
	}
	require.Positive(t, cut, "the model has spans past the bound")
	require.NotNil(t, f.Meta)
	require.Len(t, f.Meta.Notices, 1)
	assert.Contains(t, f.Meta.Notices[0].Text, "traceView.maxLogsPerSpan")
	assert.Contains(t, f.Meta.Notices[0].Text, itoa(cut)+" spans have more than 4 log lines")
	assert.Contains(t, f.Meta.Notices[0].Text, "("+itoa(hidden)+" lines in all)")

	for _, unbounded := range []int{0, -1} {
		opts.MaxLogsPerSpan = unbounded
		f := Trace(m, opts)
		assert.Empty(t, f.Meta.Notices)
		cells := spanLogEntries(t, f)
		for i := range m.Spans {
			assert.Len(t, cells[m.Spans[i].SpanID], len(m.Spans[i].Events)+len(m.Spans[i].Logs))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFirstErrorFrame: the firstError frame is the timeline frame's row of
// the first error, with the same fields; a trace without errors gives the
// fields and no row.
func TestFirstErrorFrame(t *testing.T) {
	m := recordedModel(t)
	require.NotNil(t, m.Summary.FirstError, "the recorded trace has an error")
	fe := FirstError(m, traceOptions())
	experimental.CheckGoldenJSONFrame(t, "testdata", "first_error_recorded.golden", fe, updateGolden())
	tl := Timeline(m, traceOptions())
	require.Equal(t, NameFirstError, fe.Name)
	require.Equal(t, len(tl.Fields), len(fe.Fields))
	n, err := fe.RowLen()
	require.NoError(t, err)
	require.Equal(t, 1, n)
	flag, _ := tl.FieldByName("firstError")
	row := -1
	for i := 0; i < flag.Len(); i++ {
		if flag.At(i).(bool) {
			row = i
		}
	}
	require.GreaterOrEqual(t, row, 0)
	for i, f := range tl.Fields {
		assert.Equal(t, f.Name, fe.Fields[i].Name)
		assert.Equal(t, f.At(row), fe.Fields[i].At(0), "field %s", f.Name)
	}

	clean := timeline.Merge(&timeline.Trace{TraceID: m.TraceID, Spans: []timeline.Span{{SpanID: "00f067aa0ba90207", Name: "ok", StartNs: 1, EndNs: 2}}})
	require.Nil(t, clean.Summary.FirstError)
	n, err = FirstError(clean, Options{}).RowLen()
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestBuildCoversEveryFrameName: every selectable frame has a builder that
// names its frame as selected.
func TestBuildCoversEveryFrameName(t *testing.T) {
	m := recordedModel(t)
	for _, name := range []string{NameTrace, NameLogs, NameTimeline, NameSummary, NameFirstError} {
		f := Build(name, m, traceOptions())
		require.NotNil(t, f, name)
		assert.Equal(t, name, f.Name)
	}
	assert.Nil(t, Build("traces", m, Options{}))
}
