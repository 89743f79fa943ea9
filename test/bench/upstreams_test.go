package bench

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Latencies the fake upstreams add to every request, so that the benchmarks
// measure the overlap of the sources (the early Loki start, Loki in parallel
// with Kafka) and not only CPU time; BENCHMARKS.md states them with every
// figure measured on them.
const (
	tempoLatency = 40 * time.Millisecond
	lokiLatency  = 60 * time.Millisecond
)

// upstreamErrors collects requests the fakes did not expect: a benchmark
// whose client sends a wrong request fails instead of measuring it.
type upstreamErrors struct {
	mu   sync.Mutex
	errs []error
}

func (u *upstreamErrors) add(format string, args ...any) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.errs = append(u.errs, fmt.Errorf(format, args...))
}

// take returns and clears the collected errors.
func (u *upstreamErrors) take() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	err := errors.Join(u.errs...)
	u.errs = nil
	return err
}

// sleepCtx waits d or until the request is cancelled.
func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// tempoServer answers GET /api/v2/traces/{id} with Accept: application/protobuf
// after tempoLatency, from pre-built answers, and the incident dashboard's
// search (errorSearch) with the traces that have an error span.
type tempoServer struct {
	*httptest.Server
	traces   map[string][]byte
	found    []foundTrace // what errorSearch finds, by start
	errs     *upstreamErrors
	requests atomic.Int64
}

// errorSearch is the TraceQL of the dashboard's "Recent error traces" panel,
// the one search the fake Tempo evaluates.
const errorSearch = "{ status = error }"

// foundTrace is a trace as Tempo's search answer lists it.
type foundTrace struct {
	TraceID           string                     `json:"traceID"`
	RootServiceName   string                     `json:"rootServiceName"`
	RootTraceName     string                     `json:"rootTraceName"`
	StartTimeUnixNano string                     `json:"startTimeUnixNano"`
	DurationMs        int64                      `json:"durationMs"`
	ServiceStats      map[string]foundTraceStats `json:"serviceStats"`
	start             int64
}

type foundTraceStats struct {
	SpanCount  int `json:"spanCount"`
	ErrorCount int `json:"errorCount,omitempty"`
}

func newTempoServer(traces map[string][]byte, found []foundTrace, errs *upstreamErrors) *tempoServer {
	s := &tempoServer{traces: traces, found: found, errs: errs}
	slices.SortFunc(s.found, func(a, b foundTrace) int { return cmp.Compare(a.start, b.start) })
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// search answers Tempo's search API: the traces with an error span that
// started in [start, end] (whole seconds), at most limit, as JSON.
func (s *tempoServer) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, err3 := strconv.Atoi(q.Get("limit"))
	if err := errors.Join(err1, err2, err3); err != nil || q.Get("q") != errorSearch || limit <= 0 {
		s.errs.add("tempo: unexpected search %s", r.URL.RawQuery)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	out := []foundTrace{}
	for _, f := range s.found {
		if f.start >= start*1e9 && f.start <= end*1e9 && len(out) < limit {
			out = append(out, f)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"traces": out, "metrics": map[string]any{"completedJobs": 1, "totalJobs": 1}})
}

func (s *tempoServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !sleepCtx(r, tempoLatency) {
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/api/search" {
		s.search(w, r)
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/api/v2/traces/")
	if r.Method != http.MethodGet || !ok {
		s.errs.add("tempo: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Accept"); got != "application/protobuf" {
		s.errs.add("tempo: Accept %q, want application/protobuf", got)
	}
	body, ok := s.traces[id]
	if !ok {
		s.errs.add("tempo: unknown trace %q", id)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"trace":{},"metrics":{}}`))
		return
	}
	w.Header().Set("Content-Type", "application/protobuf")
	_, _ = w.Write(body)
}

// lokiServer answers query_range like Loki 3 with the categorize-labels
// encoding flag, after lokiLatency: the lines of the trace the query names,
// in [start, end), forward, at most limit.
type lokiServer struct {
	*httptest.Server
	traces   map[string][]lokiValue
	errs     *upstreamErrors
	requests atomic.Int64
}

// traceIDInQuery finds the trace filter of a trace query (one ID) or of a
// search's batch (trace_id=~ several, docs/DESIGN.md "Search").
var traceIDInQuery = regexp.MustCompile(`trace_id=~?"([0-9a-f]{32}(?:\|[0-9a-f]{32})*)"`)

// linesOf is the lines of the traces in ids ("|"-separated), in time order.
func (s *lokiServer) linesOf(ids string) []lokiValue {
	if !strings.Contains(ids, "|") {
		return s.traces[ids]
	}
	var out []lokiValue
	for _, id := range strings.Split(ids, "|") {
		out = append(out, s.traces[id]...)
	}
	slices.SortStableFunc(out, func(a, b lokiValue) int { return cmp.Compare(a.ts, b.ts) })
	return out
}

func newLokiServer(traces map[string][]lokiValue, errs *upstreamErrors) *lokiServer {
	s := &lokiServer{traces: traces, errs: errs}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *lokiServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !sleepCtx(r, lokiLatency) {
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/loki/api/v1/query_range" {
		s.errs.add("loki: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("X-Loki-Response-Encoding-Flags"); got != "categorize-labels" {
		s.errs.add("loki: encoding flags %q, want categorize-labels", got)
	}
	q := r.URL.Query()
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, err3 := strconv.Atoi(q.Get("limit"))
	if err := errors.Join(err1, err2, err3); err != nil || q.Get("direction") != "forward" || limit <= 0 || limit > 5000 {
		// Loki's default max_entries_limit_per_query is 5000.
		s.errs.add("loki: bad query_range parameters %v", q)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	m := traceIDInQuery.FindStringSubmatch(q.Get("query"))
	if m == nil || !strings.HasPrefix(q.Get("query"), `{service_name=~".+"}`) {
		s.errs.add("loki: query %q has no trace_id filter under the default selector", q.Get("query"))
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	vals := s.linesOf(m[1])
	lo := sort.Search(len(vals), func(i int) bool { return vals[i].ts >= start })
	hi := sort.Search(len(vals), func(i int) bool { return vals[i].ts >= end })
	if hi-lo > limit {
		hi = lo + limit
	}
	page := vals[lo:hi]
	// Group the page by stream, each stream's values in time order, as Loki does.
	byStream := make([][]int, len(lokiStreams))
	for i := range page {
		byStream[page[i].stream] = append(byStream[page[i].stream], i)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	bw := make([]byte, 0, 64<<10)
	bw = append(bw, `{"status":"success","data":{"resultType":"streams","encodingFlags":["categorize-labels"],"result":[`...)
	first := true
	for si, idx := range byStream {
		if len(idx) == 0 {
			continue
		}
		if !first {
			bw = append(bw, ',')
		}
		first = false
		bw = append(bw, `{"stream":`...)
		bw = append(bw, lokiStreams[si]...)
		bw = append(bw, `,"values":[`...)
		for j, i := range idx {
			if j > 0 {
				bw = append(bw, ',')
			}
			bw = append(bw, page[i].json...)
			if len(bw) > 48<<10 {
				if _, err := w.Write(bw); err != nil {
					return
				}
				bw = bw[:0]
			}
		}
		bw = append(bw, "]}"...)
	}
	bw = append(bw, `],"stats":{"summary":{"bytesProcessedPerSecond":0,"linesProcessedPerSecond":0,"totalBytesProcessed":0,"totalLinesProcessed":`...)
	bw = strconv.AppendInt(bw, int64(len(page)), 10)
	bw = append(bw, `,"execTime":0.06}}}}`...)
	_, _ = w.Write(bw)
}
