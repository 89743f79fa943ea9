package models

import (
	"fmt"
	"slices"
	"time"
)

// Defaults of how the panels of a dashboard share one run and what the trace
// frame carries (docs/DESIGN.md, "Sharing one run" and "Settings").
const (
	// DefaultCacheTTL is how long a finished run's merged model answers
	// further panels of the same trace. It counts from the run's start and
	// equals Grafana's smallest auto-refresh interval (min_refresh_interval,
	// 5s by default), so a dashboard refreshing at that rate always fetches
	// again and shows lines exported since; panels that ask while the run is
	// in flight share it whatever the TTL, so the TTL only serves panels that
	// ask after a run ended (lazily loaded rows, a second viewer), for
	// which a 1k-line run (~150 ms, BENCHMARKS.md run F) is long over.
	DefaultCacheTTL = 5 * time.Second
	// DefaultCacheMaxBytes bounds the estimated size of the kept models of
	// one datasource instance: a 1k-span / 100k-line model is ~71 MB by that
	// estimate (timeline.Model.ApproxBytes), so one such trace fits beside
	// smaller ones.
	DefaultCacheMaxBytes = 128 << 20
	// DefaultMaxLogsPerSpan bounds the log lines inside one span of the
	// trace frame: Grafana's trace view lists a span's logs in one
	// expandable section, where more than a hundred lines are no longer
	// read, only scrolled; the logs panel and the span's logs link show all.
	DefaultMaxLogsPerSpan = 100
)

// CacheSettings configure the sharing of one engine run among the panels
// that ask for the same trace at about the same time.
type CacheSettings struct {
	// TTL is how long a finished run's result is reused (from the run's
	// start). Nil means DefaultCacheTTL; "0s" turns reuse after the run off
	// (panels asking while it runs still share it).
	TTL *Duration `json:"ttl"`
	// MaxBytes bounds the estimated size of the kept results; the oldest
	// are dropped first.
	MaxBytes int64 `json:"maxBytes"`
}

// TTLOrDefault returns the configured TTL, or DefaultCacheTTL.
func (c CacheSettings) TTLOrDefault() time.Duration {
	if c.TTL == nil {
		return DefaultCacheTTL
	}
	return time.Duration(*c.TTL)
}

// TraceViewSettings shape the trace frame.
type TraceViewSettings struct {
	// MaxLogsPerSpan bounds the log lines in one span's logs; -1 means no
	// bound. 0 means DefaultMaxLogsPerSpan.
	MaxLogsPerSpan int `json:"maxLogsPerSpan"`
}

func (s *Settings) applyPanelDefaults() {
	if s.Cache.MaxBytes == 0 {
		s.Cache.MaxBytes = DefaultCacheMaxBytes
	}
	if s.TraceView.MaxLogsPerSpan == 0 {
		s.TraceView.MaxLogsPerSpan = DefaultMaxLogsPerSpan
	}
}

func (s *Settings) validatePanels(bad func(field, format string, args ...any)) {
	if s.Cache.TTL != nil && *s.Cache.TTL < 0 {
		bad("cache.ttl", "must not be negative (\"0s\" turns the cache off)")
	}
	if s.Cache.MaxBytes < 0 {
		bad("cache.maxBytes", "must be positive")
	}
	if s.TraceView.MaxLogsPerSpan < -1 {
		bad("traceView.maxLogsPerSpan", "must be at least 1, or -1 for no bound")
	}
}

// Frame names a query can select (docs/DESIGN.md, "Frames"). AllFrames is the
// order frames are returned in; a timeline query without a selection returns
// DefaultFrames, the four frames saved dashboards pick by index.
const (
	FrameTrace      = "trace"
	FrameLogs       = "logs"
	FrameTimeline   = "timeline"
	FrameSummary    = "summary"
	FrameFirstError = "firstError"
)

// AllFrames lists every selectable frame in answer order.
var AllFrames = []string{FrameTrace, FrameLogs, FrameTimeline, FrameSummary, FrameFirstError}

// DefaultFrames is what a timeline query without a frame selection returns.
var DefaultFrames = []string{FrameTrace, FrameLogs, FrameTimeline, FrameSummary}

// normalizeFrames validates a frame selection and returns it deduplicated in
// AllFrames order; an empty selection gives the query type's frames.
func normalizeFrames(queryType string, frames []string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range frames {
		if !slices.Contains(AllFrames, f) {
			return nil, fmt.Errorf("unknown frame %q: use %s, %s, %s, %s or %s", clip(f), FrameTrace, FrameLogs, FrameTimeline, FrameSummary, FrameFirstError)
		}
		want[f] = true
	}
	if queryType == QueryTypeLogs {
		if len(want) > 1 || (len(want) == 1 && !want[FrameLogs]) {
			return nil, fmt.Errorf("queryType %q returns only the %q frame; use queryType %q to select frames", QueryTypeLogs, FrameLogs, QueryTypeTimeline)
		}
		return []string{FrameLogs}, nil
	}
	if len(want) == 0 {
		return DefaultFrames, nil
	}
	out := make([]string, 0, len(want))
	for _, name := range AllFrames {
		if want[name] {
			out = append(out, name)
		}
	}
	return out, nil
}
