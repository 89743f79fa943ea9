package tempo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
)

// SearchRequest is one TraceQL search.
type SearchRequest struct {
	Query      string    // TraceQL, sent as q
	Start, End time.Time // always sent, as unix seconds (start floor, end ceil)
	Limit      int       // traces wanted; Tempo is asked for Limit+1 (param "limit") to know a cut
}

// ServiceStats are Tempo's span counts of one service in a found trace.
type ServiceStats struct{ Spans, Errors int }

// SearchHit is one trace Tempo found.
type SearchHit struct {
	TraceID     string // normalised: 32 lower-case hex (models.NormalizeTraceID)
	RootService string
	RootName    string
	StartNs     int64
	DurationNs  int64 // durationMs × 1e6; 0 when absent
	Services    map[string]ServiceStats
}

// SearchResult is a decoded search answer.
type SearchResult struct {
	Hits           []SearchHit // at most Limit, in Tempo's order, each trace ID once (first wins)
	More           bool        // Tempo returned more than Limit hits
	Dropped        int         // hits whose traceID was not 1–32 hex digits (never reach callers)
	DroppedExample string      // the first dropped ID, safetext-clipped to ≤ 40 printable chars, for a notice
}

// maxSearchBody bounds the search answer read into memory. The recorded
// answer (testdata/tempo_search_traceql.json) is 827 bytes for one trace
// with one span set; at the largest request (models.MaxSearchLimit + 1 =
// 101 traces) that shape is about 84 KB, so 16 MiB leaves each trace
// 160 KiB of span sets and service stats, while a runaway or hostile answer
// costs a query 16 MiB instead of the 512 MiB any response may reach
// (upstream.MaxResponseBytes), with a request's RefIDs running 5 at a time.
const maxSearchBody = 16 << 20

// maxDroppedExample bounds SearchResult.DroppedExample, in characters: the
// ID goes into a notice, and an ID that is not a trace ID can be anything.
const maxDroppedExample = 40

// Search asks Tempo's TraceQL search, GET /api/search, for the traces of
// req.Query that started in [req.Start, req.End] (docs/DESIGN.md, "Search"),
// through the same client as TraceByID (auth, tenant, custom headers,
// retry of a busy Tempo). An invalid request is ErrInvalidSearch and Tempo
// is not called. A non-2xx answer is an *upstream.Error with Tempo's status
// and its text clipped (400 for a malformed TraceQL); no answer is
// ErrUnreachable, ErrTimeout or cancelled, as for TraceByID; an answer that
// is not a search answer is ErrDecode (and upstream.ErrBadResponse).
//
// Tempo's trace IDs are untrusted: each is normalised, and one that is not
// 1–32 hex digits is counted in Dropped and never returned, so it cannot
// reach a LogQL filter or a Kafka prefilter.
func (c *Client) Search(ctx context.Context, req SearchRequest) (*SearchResult, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	u := c.base.JoinPath("api", "search")
	q := TimeRange{Start: req.Start, End: req.End}.query()
	q.Set("q", req.Query)
	q.Set("limit", strconv.Itoa(req.Limit+1))
	u.RawQuery = q.Encode()
	// Tempo can answer a search in protobuf too; JSON is what is decoded.
	resp, err := c.get(ctx, u, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readStatusError(resp)
	}
	if err := searchContentType(resp.Header.Get("Content-Type")); err != nil {
		return nil, badSearchAnswer(err)
	}
	body, err := c.readBody(ctx, io.LimitReader(resp.Body, maxSearchBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxSearchBody {
		return nil, badSearchAnswer(fmt.Errorf("%w: the search answer is larger than %d MiB", ErrDecode, maxSearchBody>>20))
	}
	res, err := decodeSearch(body, req.Limit)
	if err != nil {
		return nil, badSearchAnswer(err)
	}
	return res, nil
}

func badSearchAnswer(err error) error {
	return &upstream.Error{Upstream: upstream.Tempo, Kind: upstream.ErrBadResponse, Err: err}
}

// searchContentType refuses an answer that says it is not JSON, so that a
// proxy's HTML sign-in page in front of Tempo is reported as what it is
// (docs/FAULTS.md, "wrong content type") rather than as a body that does
// not parse. Tempo labels its search answers application/json
// (the recorded answer of testdata/tempo_search_traceql.json came so).
func searchContentType(contentType string) error {
	mt, err := mediaType(contentType)
	if err != nil {
		return err
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return fmt.Errorf("%w: unexpected Content-Type %q for a search answer (want application/json)", ErrDecode, clipBody([]byte(mt)))
	}
	return nil
}

// validate refuses a request that models.ParseQuery would not let a panel
// make: no TraceQL, a limit outside 1–models.MaxSearchLimit (so Limit+1
// cannot overflow), no time range or one that ends before it starts.
func (r SearchRequest) validate() error {
	switch {
	case strings.TrimSpace(r.Query) == "":
		return fmt.Errorf("%w: the TraceQL query is empty", ErrInvalidSearch)
	case r.Limit < 1 || r.Limit > models.MaxSearchLimit:
		return fmt.Errorf("%w: limit %d is not between 1 and %d", ErrInvalidSearch, r.Limit, models.MaxSearchLimit)
	case r.Start.IsZero() || r.End.IsZero():
		return fmt.Errorf("%w: a search needs a start and an end", ErrInvalidSearch)
	case r.End.Before(r.Start):
		return fmt.Errorf("%w: the end %s is before the start %s", ErrInvalidSearch, r.End.UTC().Format(time.RFC3339Nano), r.Start.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// searchAnswer is the part of Tempo's SearchResponse the search uses; span
// sets and metrics are skipped. An absent or null "traces" is no trace:
// protobuf's JSON mapping may leave out an empty repeated field.
type searchAnswer struct {
	Traces []searchTrace `json:"traces"`
}

// searchTrace is Tempo's TraceSearchMetadata. TraceID is kept raw so that
// an ID of any JSON type drops its hit instead of failing the answer.
type searchTrace struct {
	TraceID           json.RawMessage               `json:"traceID"`
	RootServiceName   string                        `json:"rootServiceName"`
	RootTraceName     string                        `json:"rootTraceName"`
	StartTimeUnixNano wireUint                      `json:"startTimeUnixNano"`
	DurationMs        wireUint                      `json:"durationMs"`
	ServiceStats      map[string]searchServiceStats `json:"serviceStats"`
}

// searchServiceStats is Tempo's ServiceStats; errorCount is left out when 0
// (testdata/tempo_search_traceql.json).
type searchServiceStats struct {
	SpanCount  wireUint `json:"spanCount"`
	ErrorCount wireUint `json:"errorCount"`
}

// wireUint is a non-negative integer of Tempo's JSON. Protobuf's JSON
// mapping writes 64-bit integers as strings (startTimeUnixNano) and 32-bit
// ones as numbers (durationMs, spanCount), and its readers accept either
// form for both, so this does too. null is 0, like an absent field.
type wireUint int64

func (u *wireUint) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*u = 0
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	// 63 bits: the largest value an int64 holds; no sign is accepted.
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return fmt.Errorf("%s is not a non-negative integer", clipBody(b))
	}
	*u = wireUint(n)
	return nil
}

// count is u as an int, which is 32 bits wide on 32-bit platforms.
func (u wireUint) count() (int, error) {
	if int64(u) > math.MaxInt {
		return 0, fmt.Errorf("%w: search answer: a service's span count %d is out of range", ErrDecode, int64(u))
	}
	return int(u), nil
}

// decodeSearch decodes a search answer body, keeping the first limit hits
// with a valid trace ID, each ID once. More is whether Tempo sent more than
// limit traces, counting repeats and dropped IDs: asked for limit+1, Tempo
// stops there, so such an answer may hide further traces. It never panics: whatever the body, it returns a
// result or an ErrDecode.
func decodeSearch(body []byte, limit int) (*SearchResult, error) {
	if !isJSONObject(body) {
		return nil, fmt.Errorf("%w: the search answer is not a JSON object", ErrDecode)
	}
	var ans searchAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%w: search answer: %w", ErrDecode, err)
	}
	res := &SearchResult{More: len(ans.Traces) > limit}
	seen := make(map[string]bool, min(len(ans.Traces), limit))
	for _, t := range ans.Traces {
		id, ok := hitTraceID(t.TraceID)
		if !ok {
			if res.Dropped == 0 {
				res.DroppedExample = droppedExample(t.TraceID)
			}
			res.Dropped++
			continue
		}
		// Every hit is read, kept or not, so that whether an answer is
		// readable does not depend on the limit.
		hit, err := t.hit(id)
		if err != nil {
			return nil, err
		}
		if seen[id] || len(res.Hits) == limit {
			continue
		}
		seen[id] = true
		res.Hits = append(res.Hits, hit)
	}
	return res, nil
}

// hit is t as a SearchHit with the normalised id.
func (t searchTrace) hit(id string) (SearchHit, error) {
	if int64(t.DurationMs) > math.MaxInt64/int64(time.Millisecond) {
		return SearchHit{}, fmt.Errorf("%w: search answer: trace %s lasts %d ms", ErrDecode, id, int64(t.DurationMs))
	}
	h := SearchHit{
		TraceID:     id,
		RootService: t.RootServiceName,
		RootName:    t.RootTraceName,
		StartNs:     int64(t.StartTimeUnixNano),
		DurationNs:  int64(t.DurationMs) * int64(time.Millisecond),
	}
	if len(t.ServiceStats) > 0 {
		h.Services = make(map[string]ServiceStats, len(t.ServiceStats))
		for name, st := range t.ServiceStats {
			spans, err := st.SpanCount.count()
			if err != nil {
				return SearchHit{}, err
			}
			errs, err := st.ErrorCount.count()
			if err != nil {
				return SearchHit{}, err
			}
			h.Services[name] = ServiceStats{Spans: spans, Errors: errs}
		}
	}
	return h, nil
}

// hitTraceID is a hit's trace ID normalised, if it is a JSON string of 1–32
// hex digits. Tempo leaves out an ID's leading zeros; the padding puts them
// back, as for a trace ID a user types.
func hitTraceID(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	id, err := models.NormalizeTraceID(s)
	return id, err == nil
}

// droppedExample is a dropped hit's ID as a notice may quote it: the
// string's text, or the raw JSON of an ID that is no string, printable and
// at most maxDroppedExample characters (the ellipsis of a clipped one
// included).
func droppedExample(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		raw = []byte(s)
	}
	return safetext.Clip(raw, maxDroppedExample-1)
}
