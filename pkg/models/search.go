package models

import (
	"fmt"
	"strings"
)

// QueryTypeSearch starts from a symptom: a TraceQL search whose found traces
// each get their logs (docs/DESIGN.md, "Search").
const QueryTypeSearch = "search"

// FrameSearch is the one frame a search query returns: a row per found trace.
const FrameSearch = "search"

// Limits of a search (docs/DESIGN.md, "Search").
const (
	// DefaultSearchLimit is how many traces a search returns when neither
	// the datasource nor the query sets it: Tempo's own search default, and
	// what a table panel shows without scrolling far.
	DefaultSearchLimit = 20
	// MaxSearchLimit bounds search.limit and a query's limit: every found
	// trace is fetched by ID and merged, so a search costs about as much as
	// this many trace queries' spans (their logs are fetched together).
	MaxSearchLimit = 100
	// MaxTraceQLLen bounds the TraceQL text: it travels in Tempo's URL,
	// which proxies and Tempo's HTTP server limit (Go's default header
	// limit is 1 MiB, common proxies allow 8 KiB for the request line).
	MaxTraceQLLen = 4096
)

// SearchSettings configure the search query.
type SearchSettings struct {
	// Limit is the number of traces a search returns (1–MaxSearchLimit);
	// 0 means DefaultSearchLimit.
	Limit int `json:"limit"`
}

// WithDefaults gives an unset limit its default.
func (s SearchSettings) WithDefaults() SearchSettings {
	if s.Limit == 0 {
		s.Limit = DefaultSearchLimit
	}
	return s
}

func (s SearchSettings) validate(bad func(field, format string, args ...any)) {
	if s.Limit < 1 || s.Limit > MaxSearchLimit {
		bad("search.limit", "must be between 1 and %d", MaxSearchLimit)
	}
}

// parseSearch validates the search fields of q: TraceQL (traceql, or query
// when traceql is empty, as Tempo's own query model names it) and the
// optional limit.
func parseSearch(q Query) (Query, error) {
	if q.TraceQL == "" {
		q.TraceQL = q.Query
	}
	q.TraceQL = strings.TrimSpace(q.TraceQL)
	switch {
	case q.TraceQL == "":
		return q, fmt.Errorf("a search needs a TraceQL query (traceql), e.g. { status = error }")
	case len(q.TraceQL) > MaxTraceQLLen:
		return q, fmt.Errorf("the TraceQL query is %d bytes; at most %d are accepted", len(q.TraceQL), MaxTraceQLLen)
	case q.Limit < 0 || q.Limit > MaxSearchLimit:
		return q, fmt.Errorf("limit %d: use 1 to %d, or leave it unset for the datasource's search.limit", q.Limit, MaxSearchLimit)
	}
	if q.TraceID != "" || q.SpanID != "" {
		return q, fmt.Errorf("queryType %q takes a TraceQL query, not a trace or span ID; use queryType %q for one trace", QueryTypeSearch, QueryTypeTimeline)
	}
	if len(q.Frames) > 0 && (len(q.Frames) > 1 || q.Frames[0] != FrameSearch) {
		return q, fmt.Errorf("queryType %q returns only the %q frame", QueryTypeSearch, FrameSearch)
	}
	q.Frames = []string{FrameSearch}
	return q, nil
}
