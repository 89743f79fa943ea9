package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/harness"
)

// hasNotice reports whether a notice of the frame contains every part.
func hasNotice(f *data.Frame, parts ...string) bool {
	return slices.ContainsFunc(noticeTexts(f), func(n string) bool {
		for _, p := range parts {
			if !strings.Contains(n, p) {
				return false
			}
		}
		return true
	})
}

// wantLogs checks the logs frame holds exactly lines, in time order, each
// with its source cell and span cell as given by the two functions.
func wantLogs(t *testing.T, f *data.Frame, lines []logSpec, source func(logSpec) string, span func(logSpec) string) {
	t.Helper()
	bodies := col[string](t, f, "body")
	sources := col[string](t, f, "source")
	spans := col[string](t, f, "spanId")
	want := make([]string, len(lines))
	for i, l := range lines {
		want[i] = l.body
	}
	require.Equal(t, want, bodies)
	for i, l := range lines {
		assert.Equal(t, source(l), sources[i], l.body)
		assert.Equal(t, span(l), spans[i], l.body)
	}
}

func attachedSpan(l logSpec) string { return l.wantSpan }
func ownSpan(l logSpec) string      { return l.spanID }
func allSources(l logSpec) string   { return l.wantSources }

// TestFaultLokiDown: Loki refuses connections. The trace and the Kafka
// lines still arrive, attached to their spans; lines found in both Loki and
// otlp_logs now name only Kafka; a notice names Loki.
func TestFaultLokiDown(t *testing.T) {
	s := newScenario(t, tempoServe)
	s.lokiURL = "http://" + closedPort(t)
	p := harness.Start(t)
	from, to := queryRange()
	r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, r.Error)
	require.Equal(t, []string{"trace", "logs", "timeline", "summary"}, frameNames(r.Frames))
	traceF, logsF := r.Frames[0], r.Frames[1]
	assert.Equal(t, len(scenarioSpans), traceF.Rows())
	assert.True(t, hasNotice(traceF, "Loki"), "notices %q", noticeTexts(traceF))
	assert.False(t, hasNotice(traceF, "Tempo"), "notices %q", noticeTexts(traceF))
	assert.False(t, hasNotice(traceF, "Kafka"), "notices %q", noticeTexts(traceF))
	wantLogs(t, logsF, logsWhere(inOTLP|inAudit), func(l logSpec) string {
		return strings.TrimPrefix(l.wantSources, "loki,")
	}, attachedSpan)
}

// TestFaultKafkaTopicMissing: a configured topic does not exist. Every
// line of the other topics and Loki still arrives; a notice names the
// missing topic.
func TestFaultKafkaTopicMissing(t *testing.T) {
	s := newScenario(t, tempoServe)
	s.topics = append(s.topics, map[string]any{"name": "syslog_archive", "encoding": "raw"})
	p := harness.Start(t)
	from, to := queryRange()
	r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, r.Error)
	require.Equal(t, []string{"trace", "logs", "timeline", "summary"}, frameNames(r.Frames))
	traceF, logsF := r.Frames[0], r.Frames[1]
	assert.Equal(t, len(scenarioSpans), traceF.Rows())
	assert.True(t, hasNotice(traceF, "syslog_archive"), "notices %q", noticeTexts(traceF))
	for _, other := range []string{`"otlp_logs"`, `"audit"`, "Loki", "Tempo"} {
		assert.False(t, hasNotice(traceF, other), "notices %q name %s", noticeTexts(traceF), other)
	}
	wantLogs(t, logsF, scenarioLogs, allSources, attachedSpan)
}

// TestFaultTraceNotFound: a Tempo older than 2.6 without the trace (v2 and
// v1 both 404). Loki and Kafka are searched over the query's own time
// range, the lines arrive trace-level, and a notice says the trace was not
// found in Tempo.
func TestFaultTraceNotFound(t *testing.T) {
	s := newScenario(t, tempoOld404)
	p := harness.Start(t)
	from, to := queryRange()
	r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, r.Error)
	assert.Equal(t, []string{"/api/v2/traces/" + scenarioTrace, "/api/traces/" + scenarioTrace}, s.tempo.requested())
	require.Equal(t, []string{"trace", "logs", "timeline", "summary"}, frameNames(r.Frames))
	traceF, logsF, timelineF := r.Frames[0], r.Frames[1], r.Frames[2]
	assert.Zero(t, traceF.Rows())
	assert.True(t, hasNotice(traceF, "trace "+scenarioTrace+" not found in Tempo"), "notices %q", noticeTexts(traceF))

	reqs := s.loki.requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, from.UnixNano(), reqs[0].start, "Loki searched from the query's start")
	assert.Equal(t, to.UnixNano(), reqs[0].end, "Loki searched to the query's end")

	// Without spans nothing attaches: the spanId cell is the line's own.
	wantLogs(t, logsF, scenarioLogs, allSources, ownSpan)
	for i, a := range col[string](t, logsF, "attach") {
		assert.Equal(t, "none", a, "row %d", i)
	}
	kinds := col[string](t, timelineF, "kind")
	assert.Len(t, kinds, len(scenarioLogs))
	for i, k := range kinds {
		assert.Equal(t, "log", k, "row %d", i)
	}
}

// TestFaultTempoFails: Tempo answers 500. A notice names Tempo and the logs
// are still searched, over the query's time range.
func TestFaultTempoFails(t *testing.T) {
	s := newScenario(t, tempoBroken)
	p := harness.Start(t)
	from, to := queryRange()
	r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, r.Error)
	assert.Equal(t, []string{"/api/v2/traces/" + scenarioTrace}, s.tempo.requested(), "a 500 is not a reason to try v1")
	require.Equal(t, []string{"trace", "logs", "timeline", "summary"}, frameNames(r.Frames))
	traceF, logsF := r.Frames[0], r.Frames[1]
	assert.Zero(t, traceF.Rows())
	assert.True(t, hasNotice(traceF, "Tempo"), "notices %q", noticeTexts(traceF))
	assert.False(t, hasNotice(traceF, "not found"), "a failing Tempo is not a missing trace: %q", noticeTexts(traceF))
	reqs := s.loki.requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, from.UnixNano(), reqs[0].start)
	assert.Equal(t, to.UnixNano(), reqs[0].end)
	wantLogs(t, logsF, scenarioLogs, allSources, ownSpan)
}

// TestFaultEverySourceFails: when every source a query asks fails, that
// RefID fails with an error naming them — and only that RefID.
func TestFaultEverySourceFails(t *testing.T) {
	from, to := queryRange()
	t.Run("only the failing RefID", func(t *testing.T) {
		s := newScenario(t, tempoServe)
		p := harness.Start(t)
		// Tempo and Loki fail for failingTrace only; A asks just those two.
		resp, err := p.QueryData(ctxT(t), s.settings(),
			harness.Query("A", map[string]any{"queryType": "timeline", "traceId": failingTrace, "sources": []string{"tempo", "loki"}}, from, to),
			harness.Query("B", map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to),
		)
		require.NoError(t, err)
		require.Len(t, resp.Responses, 2)
		a := resp.Responses["A"]
		require.Error(t, a.Error)
		assert.Contains(t, a.Error.Error(), "tempo")
		assert.Contains(t, a.Error.Error(), "loki")
		assert.NotEqual(t, backend.StatusOK, a.Status)
		assert.Empty(t, a.Frames)

		b := resp.Responses["B"]
		require.NoError(t, b.Error)
		require.Equal(t, []string{"trace", "logs", "timeline", "summary"}, frameNames(b.Frames))
		assert.Equal(t, len(scenarioSpans), b.Frames[0].Rows())
		wantLogs(t, b.Frames[1], scenarioLogs, allSources, attachedSpan)
	})
	t.Run("all three upstreams down", func(t *testing.T) {
		s := newScenario(t, tempoBroken)
		s.lokiURL = "http://" + closedPort(t)
		s.topics = []map[string]any{{"name": "audit_archive", "encoding": "json"}}
		p := harness.Start(t)
		r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
		require.Error(t, r.Error)
		assert.NotEqual(t, backend.StatusOK, r.Status)
		for _, part := range []string{"tempo", "loki", "audit_archive"} {
			assert.Contains(t, r.Error.Error(), part)
		}
	})
}

// TestFaultTempoPartialTrace: Tempo says the trace may be incomplete. The
// spans it did return are merged as usual and a notice passes Tempo's
// reason on.
func TestFaultTempoPartialTrace(t *testing.T) {
	s := newScenario(t, tempoPartial)
	p := harness.Start(t)
	from, to := queryRange()
	r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, r.Error)
	traceF, logsF := r.Frames[0], r.Frames[1]
	assert.Equal(t, len(scenarioSpans), traceF.Rows())
	assert.True(t, hasNotice(traceF, "partial", partialMessage), "notices %q", noticeTexts(traceF))
	wantLogs(t, logsF, scenarioLogs, allSources, attachedSpan)
}
