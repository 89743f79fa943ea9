package models

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const someTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

func TestQueryFrames(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       []string
		err        string
	}{
		{"no selection: the four frames saved dashboards read", `{"traceId":"` + someTrace + `"}`, DefaultFrames, ""},
		{"empty selection", `{"traceId":"` + someTrace + `","frames":[]}`, DefaultFrames, ""},
		{"one frame", `{"traceId":"` + someTrace + `","frames":["summary"]}`, []string{FrameSummary}, ""},
		{"answer order, duplicates dropped", `{"traceId":"` + someTrace + `","frames":["firstError","trace","firstError","logs"]}`,
			[]string{FrameTrace, FrameLogs, FrameFirstError}, ""},
		{"logs query", `{"queryType":"logs","traceId":"` + someTrace + `"}`, []string{FrameLogs}, ""},
		{"logs query selecting logs", `{"queryType":"logs","traceId":"` + someTrace + `","frames":["logs"]}`, []string{FrameLogs}, ""},
		{"logs query selecting another frame", `{"queryType":"logs","traceId":"` + someTrace + `","frames":["trace"]}`, nil,
			`queryType "logs" returns only the "logs" frame`},
		{"unknown frame", `{"traceId":"` + someTrace + `","frames":["traces"]}`, nil,
			`unknown frame "traces": use trace, logs, timeline, summary or firstError`},
		{"not a list", `{"traceId":"` + someTrace + `","frames":"trace"}`, nil, "not valid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := ParseQuery([]byte(c.json), "")
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, q.Frames)
		})
	}
}

func TestPanelSettings(t *testing.T) {
	s, err := LoadSettings([]byte(`{}`), nil)
	require.NoError(t, err)
	assert.Equal(t, DefaultCacheTTL, s.Cache.TTLOrDefault())
	assert.Equal(t, int64(DefaultCacheMaxBytes), s.Cache.MaxBytes)
	assert.Equal(t, DefaultMaxLogsPerSpan, s.TraceView.MaxLogsPerSpan)

	s, err = LoadSettings([]byte(`{"cache":{"ttl":"0s","maxBytes":1048576},"traceView":{"maxLogsPerSpan":-1}}`), nil)
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), s.Cache.TTLOrDefault(), `"0s" turns keeping finished runs off`)
	assert.Equal(t, int64(1<<20), s.Cache.MaxBytes)
	assert.Equal(t, -1, s.TraceView.MaxLogsPerSpan)

	s, err = LoadSettings([]byte(`{"cache":{"ttl":"1m"},"traceView":{"maxLogsPerSpan":20}}`), nil)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, s.Cache.TTLOrDefault())
	assert.Equal(t, 20, s.TraceView.MaxLogsPerSpan)

	for body, want := range map[string]string{
		`{"cache":{"ttl":"-1s"}}`:                 "cache.ttl: must not be negative",
		`{"cache":{"ttl":5}}`:                     "cache",
		`{"cache":{"maxBytes":-1}}`:               "cache.maxBytes: must be positive",
		`{"traceView":{"maxLogsPerSpan":-2}}`:     "traceView.maxLogsPerSpan: must be at least 1, or -1",
		`{"traceView":{"maxLogsPerSpan":"many"}}`: "traceView",
	} {
		_, err := LoadSettings([]byte(body), nil)
		require.Error(t, err, body)
		assert.ErrorIs(t, err, ErrInvalidSettings)
		assert.True(t, strings.Contains(err.Error(), want), "%s: %v", body, err)
	}
}
