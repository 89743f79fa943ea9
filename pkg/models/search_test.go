package models

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSearchQuery(t *testing.T) {
	q, err := ParseQuery(json.RawMessage(`{"refId":"A","queryType":"search","traceql":"  { status = error }  ","limit":5,"sources":["loki","loki"]}`), "")
	require.NoError(t, err)
	assert.Equal(t, QueryTypeSearch, q.QueryType)
	assert.Equal(t, "{ status = error }", q.TraceQL)
	assert.Equal(t, 5, q.Limit)
	assert.Equal(t, []string{"loki"}, q.Sources)
	assert.Equal(t, []string{FrameSearch}, q.Frames)

	// Grafana's outer queryType and Tempo's own field name, query, work too.
	q, err = ParseQuery(json.RawMessage(`{"query":"{ duration > 1s }"}`), QueryTypeSearch)
	require.NoError(t, err)
	assert.Equal(t, "{ duration > 1s }", q.TraceQL)
}

func TestParseSearchQueryRejects(t *testing.T) {
	for name, tc := range map[string]struct{ raw, want string }{
		"no traceql":    {`{"queryType":"search","traceql":"   "}`, "needs a TraceQL query"},
		"too long":      {`{"queryType":"search","traceql":"` + strings.Repeat("x", MaxTraceQLLen+1) + `"}`, "at most 4096"},
		"limit high":    {`{"queryType":"search","traceql":"{}","limit":101}`, "limit 101"},
		"limit neg":     {`{"queryType":"search","traceql":"{}","limit":-1}`, "limit -1"},
		"trace id":      {`{"queryType":"search","traceql":"{}","traceId":"abc"}`, "not a trace or span ID"},
		"other frame":   {`{"queryType":"search","traceql":"{}","frames":["trace"]}`, `only the "search" frame`},
		"bad source":    {`{"queryType":"search","traceql":"{}","sources":["es"]}`, `unknown source "es"`},
		"unknown qtype": {`{"queryType":"searches"}`, `use "timeline", "logs" or "search"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseQuery(json.RawMessage(tc.raw), "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSearchLimitSetting(t *testing.T) {
	s, err := LoadSettings([]byte(`{}`), nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultSearchLimit, s.Search.Limit)

	s, err = LoadSettings([]byte(`{"search":{"limit":7}}`), nil)
	require.NoError(t, err)
	assert.Equal(t, 7, s.Search.Limit)

	_, err = LoadSettings([]byte(`{"search":{"limit":1000}}`), nil)
	require.ErrorIs(t, err, ErrInvalidSettings)
	assert.Contains(t, err.Error(), "search.limit")
}
