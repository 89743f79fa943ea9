package e2e

import (
	"encoding/json"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/harness"
)

// updateGolden rewrites testdata/*.jsonc from what the binary returns. Off by
// default: a golden file must never silently accept a changed frame.
var updateGolden = flag.Bool("update", false, "rewrite the golden frames in test/e2e/testdata")

// queryRange is the panel's time range of the scenario queries: an hour
// around the trace, wider than the window the trace itself gives.
func queryRange() (time.Time, time.Time) { return t0.Add(-30 * time.Minute), t0.Add(30 * time.Minute) }

// runQuery sends one query for refID A and returns its response.
func runQuery(t *testing.T, p *harness.Plugin, s harness.Settings, model map[string]any, from, to time.Time) backend.DataResponse {
	t.Helper()
	resp, err := p.QueryData(ctxT(t), s, harness.Query("A", model, from, to))
	require.NoError(t, err)
	r, ok := resp.Responses["A"]
	require.True(t, ok, "no response for A")
	return r
}

// frameNames lists the frames' names in order.
func frameNames(fs data.Frames) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func frameByName(t *testing.T, fs data.Frames, name string) *data.Frame {
	t.Helper()
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no frame %q in %v", name, frameNames(fs))
	return nil
}

// col returns the values of a frame's field as T (the type the frame
// decoded from Arrow holds: string, int64, float64, *float64, bool,
// time.Time, json.RawMessage).
func col[T any](t *testing.T, f *data.Frame, name string) []T {
	t.Helper()
	fld, _ := f.FieldByName(name)
	require.NotNil(t, fld, "frame %s has no field %s", f.Name, name)
	out := make([]T, fld.Len())
	for i := range out {
		v, ok := fld.At(i).(T)
		require.True(t, ok, "%s.%s[%d] is %T", f.Name, name, i, fld.At(i))
		out[i] = v
	}
	return out
}

func fieldLinks(t *testing.T, f *data.Frame, name string) []data.DataLink {
	t.Helper()
	fld, _ := f.FieldByName(name)
	require.NotNil(t, fld, "frame %s has no field %s", f.Name, name)
	require.NotNil(t, fld.Config, "%s.%s has no config", f.Name, name)
	return fld.Config.Links
}

func noticeTexts(f *data.Frame) []string {
	if f.Meta == nil {
		return nil
	}
	out := make([]string, len(f.Meta.Notices))
	for i, n := range f.Meta.Notices {
		out[i] = n.Text
	}
	return out
}

// logByBody returns the scenario line with this body.
func logByBody(t *testing.T, body string) logSpec {
	t.Helper()
	for _, l := range scenarioLogs {
		if l.body == body {
			return l
		}
	}
	t.Fatalf("unexpected log line %q", body)
	return logSpec{}
}

// wantAttach is how the merge must have attached l.
func wantAttach(l logSpec) string {
	if l.spanID != "" {
		return "spanId"
	}
	return "time"
}

func checkGolden(t *testing.T, name string, f *data.Frame) {
	t.Helper()
	experimental.CheckGoldenJSONResponse(t, "testdata", name, &backend.DataResponse{Frames: data.Frames{f}}, *updateGolden)
}

// TestTimelineMergesAllSources is the product's promise end to end: one
// timeline query through the built binary returns the five-tier trace from
// Tempo with its 14 lines from Loki, otlp_logs and audit, each once, in the
// right span, in time order, with its sources.
func TestTimelineMergesAllSources(t *testing.T) {
	s := newScenario(t, tempoServe)
	p := harness.Start(t)
	from, to := queryRange()
	r := runQuery(t, p, s.settings(), map[string]any{"queryType": "timeline", "traceId": scenarioTrace}, from, to)
	require.NoError(t, r.Error)
	require.Equal(t, []string{"trace", "logs", "timeline", "summary"}, frameNames(r.Frames))
	traceF, logsF, timelineF, summaryF := r.Frames[0], r.Frames[1], r.Frames[2], r.Frames[3]

	t.Run("upstream requests", func(t *testing.T) {
		assert.Equal(t, []string{"/api/v2/traces/" + scenarioTrace}, s.tempo.requested())
		reqs := s.loki.requests()
		require.Len(t, reqs, 1, "14 lines fit one page")
		// The window is the trace padded by the default window (30s before, 2m after).
		assert.Equal(t, t0.Add(-30*time.Second).UnixNano(), reqs[0].start)
		assert.Equal(t, at(250).Add(2*time.Minute).UnixNano(), reqs[0].end)
		assert.Contains(t, reqs[0].query, `trace_id="`+scenarioTrace+`"`)
		assert.Empty(t, noticeTexts(traceF), "every source answered: no notice")
	})

	t.Run("trace frame", func(t *testing.T) {
		require.Equal(t, len(scenarioSpans), traceF.Rows())
		ids := col[string](t, traceF, "spanID")
		parents := col[string](t, traceF, "parentSpanID")
		services := col[string](t, traceF, "serviceName")
		names := col[string](t, traceF, "operationName")
		statuses := col[int64](t, traceF, "statusCode")
		traceIDs := col[string](t, traceF, "traceID")
		logCells := col[json.RawMessage](t, traceF, "logs")
		tagCells := col[json.RawMessage](t, traceF, "tags")
		// The scenario lists spans in start order, the order of the frame.
		for i, sp := range scenarioSpans {
			assert.Equal(t, sp.id, ids[i], "row %d", i)
			assert.Equal(t, sp.parent, parents[i], sp.id)
			assert.Equal(t, sp.service, services[i], sp.id)
			assert.Equal(t, sp.name, names[i], sp.id)
			assert.Equal(t, scenarioTrace, traceIDs[i], sp.id)
			wantStatus := int64(0)
			if sp.status == 2 {
				wantStatus = 2
			}
			assert.Equal(t, wantStatus, statuses[i], sp.id)

			var tags []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			}
			require.NoError(t, json.Unmarshal(tagCells[i], &tags), sp.id)
			assert.Contains(t, tags, struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			}{"tier", sp.tier}, sp.id)

			// The span's logs cell: its own events, then the attached lines,
			// in time order.
			var cell []struct {
				Timestamp float64 `json:"timestamp"`
				Name      string  `json:"name"`
				Fields    []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"fields"`
			}
			require.NoError(t, json.Unmarshal(logCells[i], &cell), sp.id)
			var gotBodies, gotEvents []string
			for k, e := range cell {
				if k > 0 {
					assert.LessOrEqual(t, cell[k-1].Timestamp, e.Timestamp, "%s logs out of order", sp.id)
				}
				if e.Name != "log" {
					gotEvents = append(gotEvents, e.Name)
					continue
				}
				fields := map[string]any{}
				for _, f := range e.Fields {
					fields[f.Key] = f.Value
				}
				body, _ := fields["body"].(string)
				gotBodies = append(gotBodies, body)
				l := logByBody(t, body)
				assert.Equal(t, l.wantSources, fields["source"], body)
				assert.Equal(t, l.severity, fields["severity"], body)
				// attach is listed only for lines placed by time: a line
				// naming its span needs no explanation.
				if a := wantAttach(l); a == "time" {
					assert.Equal(t, a, fields["attach"], body)
				} else {
					assert.NotContains(t, fields, "attach", body)
				}
				assert.InDelta(t, float64(at(l.ms).UnixNano())/1e6, e.Timestamp, 1e-3, body)
			}
			var wantBodies, wantEvents []string
			for _, l := range scenarioLogs {
				if l.wantSpan == sp.id {
					wantBodies = append(wantBodies, l.body)
				}
			}
			for _, e := range sp.events {
				wantEvents = append(wantEvents, e.name)
			}
			assert.Equal(t, wantBodies, gotBodies, "logs of span %s %s", sp.id, sp.name)
			assert.Equal(t, wantEvents, gotEvents, "events of span %s %s", sp.id, sp.name)
		}
		checkGolden(t, "trace", traceF)
	})

	t.Run("logs frame", func(t *testing.T) {
		require.Equal(t, len(scenarioLogs), logsF.Rows(), "every line exactly once")
		times := col[time.Time](t, logsF, "timestamp")
		bodies := col[string](t, logsF, "body")
		spanIDs := col[string](t, logsF, "spanId")
		traceIDs := col[string](t, logsF, "traceId")
		sources := col[string](t, logsF, "source")
		severities := col[string](t, logsF, "severity")
		services := col[string](t, logsF, "service")
		tiers := col[string](t, logsF, "tier")
		attaches := col[string](t, logsF, "attach")
		for i, l := range scenarioLogs {
			// scenarioLogs is in time order, the frame's order.
			assert.Equal(t, l.body, bodies[i], "row %d", i)
			assert.True(t, at(l.ms).Equal(times[i]), "%s: time %s, want %s", l.body, times[i], at(l.ms))
			assert.Equal(t, l.wantSpan, spanIDs[i], l.body)
			assert.Equal(t, scenarioTrace, traceIDs[i], l.body)
			assert.Equal(t, l.wantSources, sources[i], l.body)
			assert.Equal(t, l.severity, severities[i], l.body)
			assert.Equal(t, l.service, services[i], l.body)
			assert.Equal(t, spanByID(t, l.wantSpan).tier, tiers[i], l.body)
			assert.Equal(t, wantAttach(l), attaches[i], l.body)
		}
		require.NotNil(t, logsF.Meta)
		assert.Equal(t, data.FrameTypeLogLines, logsF.Meta.Type)
		checkGolden(t, "logs", logsF)
	})

	t.Run("timeline frame", func(t *testing.T) {
		require.Equal(t, len(scenarioSpans)+len(scenarioLogs), timelineF.Rows())
		times := col[time.Time](t, timelineF, "time")
		offsets := col[float64](t, timelineF, "offset")
		kinds := col[string](t, timelineF, "kind")
		services := col[string](t, timelineF, "service")
		tiers := col[string](t, timelineF, "tier")
		names := col[string](t, timelineF, "name")
		durations := col[*float64](t, timelineF, "duration")
		spanIDs := col[string](t, timelineF, "spanId")
		sources := col[string](t, timelineF, "source")
		severities := col[string](t, timelineF, "severity")
		firstErrors := col[bool](t, timelineF, "firstError")

		seenSpans := map[string]int{}
		seenLogs := map[string]int{}
		var firstErrorRows []int
		for i := range times {
			if i > 0 {
				assert.False(t, times[i].Before(times[i-1]), "row %d (%s) before row %d", i, names[i], i-1)
			}
			assert.InDelta(t, float64(times[i].Sub(t0))/1e6, offsets[i], 1e-6, "row %d offset", i)
			if firstErrors[i] {
				firstErrorRows = append(firstErrorRows, i)
			}
			switch kinds[i] {
			case "span":
				sp := spanByID(t, spanIDs[i])
				seenSpans[sp.id]++
				assert.True(t, at(sp.startMs).Equal(times[i]), sp.id)
				assert.Equal(t, sp.service, services[i], sp.id)
				assert.Equal(t, sp.tier, tiers[i], sp.id)
				assert.Equal(t, sp.name, names[i], sp.id)
				assert.Equal(t, "tempo", sources[i], sp.id)
				require.NotNil(t, durations[i], sp.id)
				assert.InDelta(t, sp.endMs-sp.startMs, *durations[i], 1e-6, sp.id)
			case "log":
				l := logByBody(t, names[i])
				seenLogs[l.body]++
				assert.True(t, at(l.ms).Equal(times[i]), l.body)
				assert.Equal(t, l.service, services[i], l.body)
				assert.Equal(t, spanByID(t, l.wantSpan).tier, tiers[i], l.body)
				assert.Equal(t, l.wantSpan, spanIDs[i], l.body)
				assert.Equal(t, l.wantSources, sources[i], l.body)
				assert.Equal(t, l.severity, severities[i], l.body)
				assert.Nil(t, durations[i], l.body)
			default:
				t.Errorf("row %d: kind %q", i, kinds[i])
			}
		}
		for _, sp := range scenarioSpans {
			assert.Equal(t, 1, seenSpans[sp.id], "span %s rows", sp.id)
		}
		for _, l := range scenarioLogs {
			assert.Equal(t, 1, seenLogs[l.body], "log %q rows", l.body)
		}
		// What broke first: the Rails client's Redis GET timing out.
		require.Len(t, firstErrorRows, 1)
		fe := firstErrorRows[0]
		assert.Equal(t, "span", kinds[fe])
		assert.Equal(t, spCacheGet, spanIDs[fe])
		assert.Equal(t, "redis", tiers[fe])
		assert.True(t, slices.ContainsFunc(noticeTexts(timelineF), func(n string) bool {
			return strings.HasPrefix(n, "first error: rails-api GET at +130")
		}), "notices %q name the Redis GET at +130 ms", noticeTexts(timelineF))
		checkGolden(t, "timeline", timelineF)
	})

	t.Run("summary frame", func(t *testing.T) {
		tiers := col[string](t, summaryF, "tier")
		require.Equal(t, []string{"proxy", "go", "rails", "mysql", "redis"}, tiers)
		spans := col[int64](t, summaryF, "spans")
		logs := col[int64](t, summaryF, "logs")
		errs := col[int64](t, summaryF, "errors")
		services := col[string](t, summaryF, "services")
		wantSpans, wantLogs := map[string]int64{}, map[string]int64{}
		for _, sp := range scenarioSpans {
			wantSpans[sp.tier]++
		}
		for _, l := range scenarioLogs {
			wantLogs[spanByID(t, l.wantSpan).tier]++
		}
		for i, tier := range tiers {
			assert.Equal(t, wantSpans[tier], spans[i], "spans of %s", tier)
			assert.Equal(t, wantLogs[tier], logs[i], "logs of %s", tier)
			wantErrs := int64(0)
			if tier == "redis" {
				wantErrs = 1
			}
			assert.Equal(t, wantErrs, errs[i], "errors of %s", tier)
		}
		assert.Equal(t, "go-proxy", services[0])
		assert.Equal(t, "go-api", services[1])
		assert.Equal(t, "rails-api", services[2])
		checkGolden(t, "summary", summaryF)
	})

	t.Run("links", func(t *testing.T) {
		// Every click-through goes to the datasource the settings name.
		internal := func(l data.DataLink) *data.InternalDataLink {
			require.NotNil(t, l.Internal, l.Title)
			return l.Internal
		}
		spanLinks := fieldLinks(t, timelineF, "spanId")
		require.Len(t, spanLinks, 1)
		assert.Equal(t, dsUID, internal(spanLinks[0]).DatasourceUID)
		assert.Equal(t, dsName, internal(spanLinks[0]).DatasourceName)
		assert.Equal(t, map[string]any{"queryType": "logs", "traceId": "${__data.fields.traceId}", "spanId": "${__value.raw}"}, internal(spanLinks[0]).Query)

		traceLinks := fieldLinks(t, timelineF, "traceId")
		require.Len(t, traceLinks, 2)
		assert.Equal(t, dsUID, internal(traceLinks[0]).DatasourceUID)
		assert.Equal(t, map[string]any{"queryType": "timeline", "traceId": "${__value.raw}"}, internal(traceLinks[0]).Query)
		assert.Equal(t, tempoDSUID, internal(traceLinks[1]).DatasourceUID, "second traceId link opens the configured Tempo")

		for _, f := range []struct {
			frame *data.Frame
			field string
		}{{traceF, "spanID"}, {logsF, "spanId"}, {logsF, "traceId"}} {
			links := fieldLinks(t, f.frame, f.field)
			require.NotEmpty(t, links, "%s.%s", f.frame.Name, f.field)
			assert.Equal(t, dsUID, internal(links[0]).DatasourceUID, "%s.%s", f.frame.Name, f.field)
		}
		streamLinks := fieldLinks(t, logsF, "stream")
		require.NotEmpty(t, streamLinks)
		assert.Equal(t, lokiDSUID, internal(streamLinks[0]).DatasourceUID)
	})
}

// TestTimelineLogsOfOneSpan is the trace view's "Logs for this span" link:
// queryType logs with a spanId returns only the logs frame, holding only the
// lines attached to that span — by span ID or by time.
func TestTimelineLogsOfOneSpan(t *testing.T) {
	s := newScenario(t, tempoServe)
	p := harness.Start(t)
	from, to := queryRange()
	for _, span := range []string{spController, spInsertAudit, spCacheGet, spAuth, spRender} {
		t.Run(spanByID(t, span).name, func(t *testing.T) {
			r := runQuery(t, p, s.settings(), map[string]any{"queryType": "logs", "traceId": scenarioTrace, "spanId": span}, from, to)
			require.NoError(t, r.Error)
			require.Equal(t, []string{"logs"}, frameNames(r.Frames))
			f := r.Frames[0]
			var want []string
			for _, l := range scenarioLogs {
				if l.wantSpan == span {
					want = append(want, l.body)
				}
			}
			got := col[string](t, f, "body")
			assert.Equal(t, want, nonNil(got))
			for i, id := range col[string](t, f, "spanId") {
				assert.Equal(t, span, id, got[i])
			}
			for i, src := range col[string](t, f, "source") {
				assert.Equal(t, logByBody(t, got[i]).wantSources, src, got[i])
			}
		})
	}
	t.Run("no span: every line", func(t *testing.T) {
		r := runQuery(t, p, s.settings(), map[string]any{"queryType": "logs", "traceId": scenarioTrace}, from, to)
		require.NoError(t, r.Error)
		require.Equal(t, []string{"logs"}, frameNames(r.Frames))
		assert.Len(t, col[string](t, r.Frames[0], "body"), len(scenarioLogs))
	})
	t.Run("span not in the trace", func(t *testing.T) {
		r := runQuery(t, p, s.settings(), map[string]any{"queryType": "logs", "traceId": scenarioTrace, "spanId": "ffffffffffffffff"}, from, to)
		require.NoError(t, r.Error)
		require.Equal(t, []string{"logs"}, frameNames(r.Frames))
		assert.Zero(t, r.Frames[0].Rows())
	})
	t.Run("upper-case IDs", func(t *testing.T) {
		r := runQuery(t, p, s.settings(), map[string]any{"queryType": "logs", "traceId": strings.ToUpper(scenarioTrace), "spanId": strings.ToUpper(spCacheGet)}, from, to)
		require.NoError(t, r.Error)
		got := col[string](t, r.Frames[0], "body")
		assert.Equal(t, []string{"Redis::TimeoutError: Connection timed out reading from redis:6379"}, got)
	})
}

// nonNil turns an empty result into nil so it compares equal to an empty want.
func nonNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clip(s)
}
