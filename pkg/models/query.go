package models

import (
	"encoding/json"
	"fmt"
)

// Query types of the public contract.
const (
	QueryTypeTimeline = "timeline"
	QueryTypeLogs     = "logs"
)

// Source names a user can pick per query.
const (
	SourceTempo = "tempo"
	SourceLoki  = "loki"
	SourceKafka = "kafka"
)

// Query is the JSON of a panel target (docs/DESIGN.md, "Query model").
type Query struct {
	RefID     string   `json:"refId"`
	QueryType string   `json:"queryType"`
	TraceID   string   `json:"traceId"`
	SpanID    string   `json:"spanId"`
	Sources   []string `json:"sources"`
	// Frames selects the frames of a timeline query (models.AllFrames), so
	// each panel gets only what it shows; ParseQuery fills in the default
	// (DefaultFrames) when it is empty.
	Frames []string `json:"frames,omitempty"`
	// Query is what Grafana's internal links from other datasources send
	// (a Loki derived field always arrives as {"query": "<value>"}); when
	// traceId is empty, Query is taken as the trace ID.
	Query string `json:"query,omitempty"`
	// TraceQL and Limit are the search query's (queryType search): the
	// TraceQL sent to Tempo's search and the number of traces wanted (0:
	// the datasource's search.limit).
	TraceQL string `json:"traceql,omitempty"`
	Limit   int    `json:"limit,omitempty"`
}

// ParseQuery decodes and validates a query. The returned query has its
// trace and span IDs normalised (32 and 16 lower-case hex digits), a
// non-empty query type and a deduplicated source list; an empty list
// means every configured source.
func ParseQuery(raw json.RawMessage, queryType string) (Query, error) {
	var q Query
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &q); err != nil {
			return q, fmt.Errorf("the query is not valid JSON: %w", err)
		}
	}
	// Grafana passes queryType outside the JSON too; prefer the JSON's own.
	if q.QueryType == "" {
		q.QueryType = queryType
	}
	if q.QueryType == "" {
		q.QueryType = QueryTypeTimeline
	}
	switch q.QueryType {
	case QueryTypeTimeline, QueryTypeLogs:
	case QueryTypeSearch:
		var err error
		if q, err = parseSearch(q); err != nil {
			return q, err
		}
		return parseSources(q)
	default:
		return q, fmt.Errorf("unknown queryType %q: use %q, %q or %q", clip(q.QueryType), QueryTypeTimeline, QueryTypeLogs, QueryTypeSearch)
	}
	if q.TraceID == "" {
		q.TraceID = q.Query
	}
	id, err := NormalizeTraceID(q.TraceID)
	if err != nil {
		return q, err
	}
	q.TraceID = id
	if q.SpanID != "" {
		sid, err := NormalizeSpanID(q.SpanID)
		if err != nil {
			return q, err
		}
		q.SpanID = sid
	}
	if q, err = parseSources(q); err != nil {
		return q, err
	}
	if q.Frames, err = normalizeFrames(q.QueryType, q.Frames); err != nil {
		return q, err
	}
	return q, nil
}

// parseSources validates and deduplicates q.Sources.
func parseSources(q Query) (Query, error) {
	seen := map[string]bool{}
	var sources []string
	for _, s := range q.Sources {
		switch s {
		case SourceTempo, SourceLoki, SourceKafka:
		default:
			return q, fmt.Errorf("unknown source %q: use %q, %q or %q", clip(s), SourceTempo, SourceLoki, SourceKafka)
		}
		if !seen[s] {
			seen[s] = true
			sources = append(sources, s)
		}
	}
	q.Sources = sources
	return q, nil
}
