package tempo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/internal/upstreamtest"
)

const (
	pathSearch = "/api/search"
	// fixtureTraceQL, fixtureFrom and fixtureTo are the request of the
	// recorded search answer (testdata/tempo_search_traceql.json).
	fixtureTraceQL = `{resource.service.name="go-proxy"}`
	fixtureFrom    = 1795706550
	fixtureTo      = 1795710210
)

// fixtureSearch is the recorded request, for the first limit traces.
func fixtureSearch(limit int) SearchRequest {
	return SearchRequest{Query: fixtureTraceQL, Start: time.Unix(fixtureFrom, 0), End: time.Unix(fixtureTo, 0), Limit: limit}
}

// searchAnswer200 is a search answer with one trace per ID; an ID is any
// JSON value, so that hostile IDs can be written.
func searchAnswer200(t *testing.T, ids ...any) reply {
	t.Helper()
	traces := make([]map[string]any, len(ids))
	for i, id := range ids {
		traces[i] = map[string]any{
			"traceID": id, "rootServiceName": fmt.Sprintf("svc-%d", i), "rootTraceName": "GET /",
			"startTimeUnixNano": fmt.Sprint(1795710089000000000 + i), "durationMs": i + 1,
		}
	}
	body, err := json.Marshal(map[string]any{"traces": traces, "metrics": map[string]any{"completedJobs": 1}})
	require.NoError(t, err)
	return reply{status: 200, contentType: ctJSON, body: body}
}

func search(t *testing.T, rep reply, req SearchRequest) (*fakeTempo, *SearchResult, error) {
	t.Helper()
	f, c := startTempo(t, map[string]reply{pathSearch: rep})
	res, err := c.Search(context.Background(), req)
	return f, res, err
}

func hitIDs(res *SearchResult) []string {
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.TraceID
	}
	return ids
}

// TestSearchRecordedAnswer: the answer of a real Tempo 3.0.3 decodes to its
// one trace, with the errorCount Tempo leaves out when 0 read as 0.
func TestSearchRecordedAnswer(t *testing.T) {
	f, res, err := search(t, reply{status: 200, contentType: ctJSON, body: fixture(t, "tempo_search_traceql.json")}, fixtureSearch(20))
	require.NoError(t, err)
	assert.Equal(t, &SearchResult{Hits: []SearchHit{{
		TraceID:     fixtureTraceID,
		RootService: "go-proxy",
		RootName:    "GET /api/orders",
		StartNs:     1795710089284890717,
		DurationNs:  120 * int64(time.Millisecond),
		Services: map[string]ServiceStats{
			"go-api": {Spans: 2}, "go-proxy": {Spans: 1}, "mysql": {Spans: 1},
			"rails-api": {Spans: 3}, "redis": {Spans: 1, Errors: 1},
		},
	}}}, res)
	assert.Equal(t, []string{pathSearch}, f.requested())
}

// TestSearchRequest: the search sends the TraceQL, the range in whole Unix
// seconds (start rounded down, end up), one trace more than wanted, and the
// datasource's tenant and credentials (the fake checks those on every
// request).
func TestSearchRequest(t *testing.T) {
	req := fixtureSearch(20)
	req.Start = time.Unix(fixtureFrom, 900)
	req.End = time.Unix(fixtureTo-1, 1)
	f, _, err := search(t, reply{status: 200, contentType: ctJSON, body: fixture(t, "tempo_search_traceql.json")}, req)
	require.NoError(t, err)
	require.Equal(t, []string{pathSearch}, f.requested())
	q, h := f.request(0)
	assert.Equal(t, map[string][]string{
		"q":     {fixtureTraceQL},
		"start": {"1795706550"},
		"end":   {"1795710210"},
		"limit": {"21"},
	}, map[string][]string(q))
	assert.Equal(t, testTenant, h.Get("X-Scope-OrgID"))
	assert.Equal(t, basicAuth(), h.Get("Authorization"))
	assert.Equal(t, ctJSON, h.Get("Accept"))
}

// TestSearchMore: Tempo is asked for limit+1 traces; when it returns them,
// the first limit are kept and More says the result was cut.
func TestSearchMore(t *testing.T) {
	ids := []any{"a1", "a2", "a3"}
	_, res, err := search(t, searchAnswer200(t, ids...), fixtureSearch(2))
	require.NoError(t, err)
	assert.True(t, res.More)
	assert.Equal(t, []string{strings.Repeat("0", 30) + "a1", strings.Repeat("0", 30) + "a2"}, hitIDs(res))

	_, res, err = search(t, searchAnswer200(t, ids[:2]...), fixtureSearch(2))
	require.NoError(t, err)
	assert.False(t, res.More, "limit traces found, none more")
	assert.Len(t, res.Hits, 2)
}

// TestSearchPadsShortIDs: Tempo leaves out an ID's leading zeros (and a
// 64-bit ID is 16 digits); hits carry the 32-digit lower-case ID that Loki
// and Kafka hold.
func TestSearchPadsShortIDs(t *testing.T) {
	_, res, err := search(t, searchAnswer200(t, "bf92f3577b34da6a3ce929d0e0e4736", "A3CE929D0E0E4736", "7"), fixtureSearch(20))
	require.NoError(t, err)
	assert.Equal(t, []string{
		"0bf92f3577b34da6a3ce929d0e0e4736",
		"0000000000000000a3ce929d0e0e4736",
		"00000000000000000000000000000007",
	}, hitIDs(res))
	assert.Zero(t, res.Dropped)
}

// TestSearchDropsInvalidIDs: an ID that is not 1–32 hex digits (here one
// that would break out of a LogQL string) is counted and never returned.
func TestSearchDropsInvalidIDs(t *testing.T) {
	injection := `abc") or x="1`
	_, res, err := search(t, searchAnswer200(t,
		"4bf92f3577b34da6a3ce929d0e0e4736", injection, strings.Repeat("a", 33), "", "not-hex", 123, nil,
		map[string]any{"id": "abc"}, "abc"), fixtureSearch(20))
	require.NoError(t, err)
	assert.Equal(t, []string{fixtureTraceID, strings.Repeat("0", 29) + "abc"}, hitIDs(res))
	assert.Equal(t, 7, res.Dropped)
	assert.Equal(t, injection, res.DroppedExample, "the first dropped ID, for the notice")
	assert.Equal(t, "svc-8", res.Hits[1].RootService, "the hits after a dropped one keep their own fields")
}

// TestSearchDroppedExampleIsClipped: the example quoted in a notice is
// printable and at most 40 characters, whatever Tempo sent.
func TestSearchDroppedExampleIsClipped(t *testing.T) {
	for name, id := range map[string]any{
		"long":     strings.Repeat("zé\x01\n", 200),
		"no text":  []any{strings.Repeat("x", 100), 1},
		"controls": "\x00\x1b[31mred",
	} {
		t.Run(name, func(t *testing.T) {
			_, res, err := search(t, searchAnswer200(t, id), fixtureSearch(20))
			require.NoError(t, err)
			require.Equal(t, 1, res.Dropped)
			assert.LessOrEqual(t, utf8.RuneCountInString(res.DroppedExample), maxDroppedExample)
			assert.True(t, utf8.ValidString(res.DroppedExample))
			for _, r := range res.DroppedExample {
				assert.True(t, unicode.IsPrint(r), "%q in %q", r, res.DroppedExample)
			}
			assert.NotEmpty(t, res.DroppedExample)
		})
	}
}

// TestSearchReturnsEachTraceOnce: a trace ID Tempo returns twice, in any
// spelling, is one hit, the first; repeats do not take a place of the limit.
func TestSearchReturnsEachTraceOnce(t *testing.T) {
	short := "abc"
	_, res, err := search(t, searchAnswer200(t, short, "ABC", strings.Repeat("0", 29)+"abc", "def", short), fixtureSearch(2))
	require.NoError(t, err)
	assert.Equal(t, []string{strings.Repeat("0", 29) + "abc", strings.Repeat("0", 29) + "def"}, hitIDs(res))
	assert.Equal(t, "svc-0", res.Hits[0].RootService, "the first wins")
	assert.Equal(t, "svc-3", res.Hits[1].RootService)
	assert.Zero(t, res.Dropped)
}

// TestSearchFieldForms: integers are read as strings or numbers (protobuf's
// JSON mapping allows both); an absent or null duration, count or trace
// list is 0 or none.
func TestSearchFieldForms(t *testing.T) {
	body := `{"traces":[
		{"traceID":"a1","startTimeUnixNano":1795710089284890717,"durationMs":"5","serviceStats":{"s":{"spanCount":"3","errorCount":null}}},
		{"traceID":"a2","startTimeUnixNano":"1795710089284890718"},
		{"traceID":"a3","durationMs":null,"serviceStats":{}}
	]}`
	_, res, err := search(t, reply{status: 200, contentType: ctJSON, body: []byte(body)}, fixtureSearch(20))
	require.NoError(t, err)
	require.Len(t, res.Hits, 3)
	assert.Equal(t, int64(1795710089284890717), res.Hits[0].StartNs)
	assert.Equal(t, 5*int64(time.Millisecond), res.Hits[0].DurationNs)
	assert.Equal(t, map[string]ServiceStats{"s": {Spans: 3}}, res.Hits[0].Services)
	assert.Equal(t, int64(1795710089284890718), res.Hits[1].StartNs)
	assert.Zero(t, res.Hits[1].DurationNs, "durationMs absent")
	assert.Zero(t, res.Hits[2].DurationNs, "durationMs null")
	assert.Zero(t, res.Hits[2].StartNs)

	for _, body := range []string{`{"traces":[],"metrics":{"inspectedBytes":"0"}}`, `{"metrics":{}}`, `{"traces":null}`} {
		_, res, err := search(t, reply{status: 200, contentType: ctJSON, body: []byte(body)}, fixtureSearch(20))
		require.NoError(t, err, body)
		assert.Empty(t, res.Hits, body)
		assert.False(t, res.More, body)
	}
}

// TestSearchBadTraceQL: Tempo's 400 for a malformed query stays a 400
// carrying Tempo's text, clipped, so the plugin reports a bad request.
func TestSearchBadTraceQL(t *testing.T) {
	tempoText := "invalid TraceQL query: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER"
	body := tempoText + "\n" + strings.Repeat("x", 2*maxErrorBody)
	_, _, err := search(t, reply{status: 400, contentType: "text/plain; charset=utf-8", body: []byte(body)}, fixtureSearch(20))
	var ue *upstream.Error
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, http.StatusBadRequest, ue.Status)
	assert.Equal(t, upstream.ErrStatus, ue.Kind)
	assert.Equal(t, backend.StatusBadRequest, ue.ResponseStatus())
	assert.True(t, strings.HasPrefix(err.Error(), "tempo answered 400 Bad Request: "+tempoText+" xxx"), err.Error())
	assert.True(t, strings.HasSuffix(err.Error(), "…"), "clipped")
	assert.Less(t, len(err.Error()), maxErrorBody+64)
	assert.True(t, backend.IsDownstreamError(err))
}

// TestSearchUndecodableAnswer: a 2xx that is not a search answer is an
// unreadable answer, never a panic or a partial result.
func TestSearchUndecodableAnswer(t *testing.T) {
	for name, body := range map[string]string{
		"html":              "<html>login</html>",
		"array":             `[1,2]`,
		"cut short":         `{"traces":[{"traceID":"a1"`,
		"traces object":     `{"traces":{"traceID":"a1"}}`,
		"start not a count": `{"traces":[{"traceID":"a1","startTimeUnixNano":"yesterday"}]}`,
		"negative duration": `{"traces":[{"traceID":"a1","durationMs":-1}]}`,
		"duration overflow": `{"traces":[{"traceID":"a1","durationMs":9223372036854775807}]}`,
		"start overflow":    `{"traces":[{"traceID":"a1","startTimeUnixNano":"9223372036854775808"}]}`,
		"stats not counts":  `{"traces":[{"traceID":"a1","serviceStats":{"s":{"spanCount":true}}}]}`,
		"empty":             ``,
	} {
		t.Run(name, func(t *testing.T) {
			_, res, err := search(t, reply{status: 200, contentType: ctJSON, body: []byte(body)}, fixtureSearch(20))
			require.ErrorIs(t, err, ErrDecode)
			require.ErrorIs(t, err, upstream.ErrBadResponse)
			assert.Nil(t, res)
		})
	}
}

// TestSearchContentType: an answer labelled as something other than JSON
// (a proxy's sign-in page) is refused naming its type; JSON types, with
// parameters or a +json suffix, are decoded.
func TestSearchContentType(t *testing.T) {
	body := fixture(t, "tempo_search_traceql.json")
	for _, ct := range []string{"text/html; charset=utf-8", "application/protobuf", "text/plain", "json"} {
		t.Run(ct, func(t *testing.T) {
			_, res, err := search(t, reply{status: 200, contentType: ct, body: body}, fixtureSearch(20))
			require.ErrorIs(t, err, ErrDecode)
			require.ErrorIs(t, err, upstream.ErrBadResponse)
			assert.Contains(t, err.Error(), "Content-Type")
			assert.Nil(t, res)
		})
	}
	// Go's servers always send one (sniffed when the handler sets none).
	require.ErrorIs(t, searchContentType(""), ErrDecode)
	for _, ct := range []string{"application/json", "application/json; charset=UTF-8", "application/vnd.tempo+json"} {
		t.Run("ok "+ct, func(t *testing.T) {
			_, res, err := search(t, reply{status: 200, contentType: ct, body: body}, fixtureSearch(20))
			require.NoError(t, err)
			assert.Len(t, res.Hits, 1)
		})
	}
}

// TestSearchBodyBound: an answer over maxSearchBody is refused unread; one
// of exactly maxSearchBody is read.
func TestSearchBodyBound(t *testing.T) {
	answer := func(size int) []byte {
		head, tail := `{"traces":[],"metrics":{"pad":"`, `"}}`
		return []byte(head + strings.Repeat("p", size-len(head)-len(tail)) + tail)
	}
	_, res, err := search(t, reply{status: 200, contentType: ctJSON, body: answer(maxSearchBody)}, fixtureSearch(20))
	require.NoError(t, err)
	assert.Empty(t, res.Hits)

	_, _, err = search(t, reply{status: 200, contentType: ctJSON, body: answer(maxSearchBody + 1)}, fixtureSearch(20))
	require.ErrorIs(t, err, ErrDecode)
	require.ErrorIs(t, err, upstream.ErrBadResponse)
	assert.Contains(t, err.Error(), "larger than 16 MiB")
}

// TestSearchRejectsInvalidRequests: what Tempo cannot be asked is refused
// before any request.
func TestSearchRejectsInvalidRequests(t *testing.T) {
	ok := fixtureSearch(20)
	for name, mutate := range map[string]func(*SearchRequest){
		"empty query":     func(r *SearchRequest) { r.Query = "" },
		"blank query":     func(r *SearchRequest) { r.Query = " \n\t" },
		"limit 0":         func(r *SearchRequest) { r.Limit = 0 },
		"negative limit":  func(r *SearchRequest) { r.Limit = -1 },
		"limit too large": func(r *SearchRequest) { r.Limit = 1 << 62 },
		"end before":      func(r *SearchRequest) { r.End = r.Start.Add(-time.Nanosecond) },
		"no start":        func(r *SearchRequest) { r.Start = time.Time{} },
		"no end":          func(r *SearchRequest) { r.End = time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			req := ok
			mutate(&req)
			f, res, err := search(t, searchAnswer200(t, "a1"), req)
			require.ErrorIs(t, err, ErrInvalidSearch)
			assert.Nil(t, res)
			assert.Empty(t, f.requested(), "Tempo is not asked")
		})
	}
	req := ok
	req.End = req.Start
	f, _, err := search(t, searchAnswer200(t, "a1"), req)
	require.NoError(t, err, "an instant is a range")
	assert.Len(t, f.requested(), 1)
}

func TestSearchCancelled(t *testing.T) {
	_, c := startTempo(t, map[string]reply{pathSearch: {wait: true}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.Search(ctx, fixtureSearch(20))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, upstream.ErrCanceled)
	assert.NotErrorIs(t, err, ErrUnreachable)
}

func TestSearchUnreachable(t *testing.T) {
	addr := upstreamtest.ClosedAddr(t)
	c := newTestClient(t, "http://"+addr, 2*time.Second)
	_, err := c.Search(context.Background(), fixtureSearch(20))
	require.ErrorIs(t, err, ErrUnreachable)
	assert.Contains(t, err.Error(), "Tempo at "+addr)
	assert.NotContains(t, err.Error(), "go-proxy", "the message names the host, not the query")
}

// TestSearchRetriesABusyTempo: the search shares TraceByID's rule for a
// busy Tempo (upstream.RetrySoon).
func TestSearchRetriesABusyTempo(t *testing.T) {
	body := fixture(t, "tempo_search_traceql.json")
	busy := &upstreamtest.Busy{Status: http.StatusTooManyRequests, RetryAfter: "0", Refusals: 1,
		Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctJSON)
			_, _ = w.Write(body)
		})}
	srv := httptest.NewServer(busy)
	t.Cleanup(srv.Close)
	res, err := newTestClient(t, srv.URL, 0).Search(context.Background(), fixtureSearch(20))
	require.NoError(t, err)
	assert.Equal(t, []string{fixtureTraceID}, hitIDs(res))
	assert.EqualValues(t, 2, busy.Calls.Load())
}
