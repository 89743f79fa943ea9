// Package loki finds the log lines of one trace in Grafana Loki: it builds
// the LogQL trace filter, pages through query_range without losing or
// repeating lines, and decodes the answer into timeline.LogRecords with
// service, severity and trace/span IDs filled in.
package loki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// API paths used.
const (
	pathReady      = "/ready"
	pathQueryRange = "/loki/api/v1/query_range"
	pathLabels     = "/loki/api/v1/labels"
)

// encodingFlagsHeader asks Loki (3.0+) to keep index labels, structured
// metadata and parsed labels apart; older Loki ignores it and merges them
// into the stream labels, which the decoder also reads.
const (
	encodingFlagsHeader = "X-Loki-Response-Encoding-Flags"
	categorizeLabels    = "categorize-labels"
)

// maxInstantGrowth bounds how far the page limit is raised to read the lines
// of one timestamp that do not fit in a page (limit × 2, × 4, × 8).
const maxInstantGrowth = 8

// healthRange is the look-back of the health check's labels request: short,
// so the check is cheap on a big Loki.
const healthRange = 5 * time.Minute

// Client queries one Loki for the log lines of a trace. It is safe for
// concurrent use.
type Client struct {
	http     *http.Client
	base     string
	host     string
	selector string
	filter   string
	maxLines int
	maxTotal int
	// timeout is loki.timeout, named in timeout errors so a slow Loki is not reported as a down one.
	timeout time.Duration
}

// Result is what Query found.
type Result struct {
	// Records are the matching lines in time order, each once.
	Records []timeline.LogRecord
	// Truncated is true when loki.maxTotalLines stopped the query while Loki
	// had more lines; the plugin shows a notice then.
	Truncated bool
	// Pages counts the query_range requests made.
	Pages int
	// Notices describe lines that could not be read (see Query), for the
	// frame's notices.
	Notices []string
}

// New builds a client from the Loki settings. Zero limits, selector and
// filter get the models defaults; the HTTP client comes from
// cfg.ClientOptions (auth, tenant header, timeouts, SDK middlewares).
func New(cfg models.LokiSettings) (*Client, error) {
	u, err := models.UpstreamURL("loki.url", cfg.URL, "http://loki:3100")
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:     u.String(),
		host:     u.Host,
		selector: strings.TrimSpace(cfg.Selector),
		filter:   cfg.TraceFilter,
		maxLines: cfg.MaxLines,
		maxTotal: cfg.MaxTotalLines,
		timeout:  time.Duration(cfg.Timeout),
	}
	if c.selector == "" {
		c.selector = models.DefaultLokiSelector
	}
	if err := models.ValidateSelector(c.selector); err != nil {
		return nil, fmt.Errorf("%w: loki.selector: %w", models.ErrInvalidSettings, err)
	}
	if c.filter == "" {
		c.filter = models.TraceFilterAuto
	}
	if BuildQueries(c.selector, c.filter, "1") == nil {
		return nil, fmt.Errorf("%w: loki.traceFilter %q is not one of auto, structured, line", models.ErrInvalidSettings, clip(c.filter, 40))
	}
	if c.maxLines <= 0 {
		c.maxLines = models.DefaultLokiMaxLines
	}
	if c.maxTotal <= 0 {
		c.maxTotal = models.DefaultLokiMaxTotal
	}
	hc, err := httpclient.New(cfg.ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("loki: building the HTTP client: %w", err)
	}
	c.http = hc
	return c, nil
}

// Close releases idle connections; the client must not be used afterwards.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Query returns every line of trace traceID in [startNs, endNs) (Unix ns, end
// exclusive) that the configured trace filter matches, up to
// loki.maxTotalLines.
//
// Lines are read forward in pages of loki.maxLines. A full page continues
// from its last timestamp, skipping the lines of that timestamp it already
// returned (counted per stream, time and text), so lines sharing a
// timestamp across a page edge are returned once each. When a whole page
// has one timestamp, that instant is re-read alone with a larger limit;
// if Loki refuses the limit or the instant still does not fit, the lines
// beyond it are missing and Result.Notices says so.
//
// The trace ID is validated (models.NormalizeTraceID) before any request.
// After a failed page the records read so far are returned with the error.
func (c *Client) Query(ctx context.Context, traceID string, startNs, endNs int64) (*Result, error) {
	id, err := models.NormalizeTraceID(traceID)
	if err != nil {
		return nil, err
	}
	if endNs <= startNs {
		return nil, fmt.Errorf("%w: end %d is not after start %d", ErrInvalidTimeRange, endNs, startNs)
	}
	queries := BuildQueries(c.selector, c.filter, id)
	if len(queries) == 0 {
		return nil, fmt.Errorf("%w: loki.traceFilter %q", models.ErrInvalidSettings, clip(c.filter, 40))
	}
	return c.run(ctx, queries, startNs, endNs)
}

// run pages through each query in turn and unions their lines.
func (c *Client) run(ctx context.Context, queries []string, startNs, endNs int64) (*Result, error) {
	col := &collector{res: &Result{}, max: c.maxTotal}
	if len(queries) > 1 {
		col.union = make(map[lineKey]int)
	}
	var err error
	for _, q := range queries {
		col.local = nil
		if col.union != nil {
			col.local = make(map[lineKey]int)
		}
		if err = c.paginate(ctx, q, startNs, endNs, col); err != nil || col.res.Truncated {
			break
		}
	}
	res := col.res
	sort.SliceStable(res.Records, func(i, j int) bool { return res.Records[i].TimeNs < res.Records[j].TimeNs })
	return res, err
}

// lineKey identifies a line: Loki keeps one copy of identical lines of a stream.
type lineKey struct {
	stream string
	ts     int64
	line   string
}

func keyOf(e *entry) lineKey { return lineKey{e.stream, e.rec.TimeNs, e.rec.Body} }

// collector accumulates the records of a query, capped at max.
type collector struct {
	res *Result
	max int
	// union and local deduplicate across queries (nil with one query): a
	// line is kept when this query has returned it more often than all
	// earlier queries together.
	union, local map[lineKey]int
}

func (c *collector) full() bool { return len(c.res.Records) >= c.max }

// add keeps e; false means the cap was already reached.
func (c *collector) add(e *entry) bool {
	if c.union != nil {
		k := keyOf(e)
		c.local[k]++
		if c.local[k] <= c.union[k] {
			return true
		}
		c.union[k] = c.local[k]
	}
	if c.full() {
		return false
	}
	c.res.Records = append(c.res.Records, e.rec)
	return true
}

// paginate reads one query from start to end into col.
func (c *Client) paginate(ctx context.Context, query string, start, end int64, col *collector) error {
	limit := c.maxLines
	// boundary counts the lines at timestamp start that earlier pages returned.
	var boundary map[lineKey]int
	for start < end {
		if col.full() {
			// The previous page was full: Loki has more.
			col.res.Truncated = true
			return nil
		}
		entries, err := c.page(ctx, query, start, end, limit)
		col.res.Pages++
		if err != nil {
			return err
		}
		last := start
		for i := range entries {
			e := &entries[i]
			if e.rec.TimeNs > last {
				last = e.rec.TimeNs
			}
			if e.rec.TimeNs == start && boundary != nil {
				if k := keyOf(e); boundary[k] > 0 {
					boundary[k]--
					continue
				}
			}
			if !col.add(e) {
				col.res.Truncated = true
				return nil
			}
		}
		if len(entries) < limit {
			return nil
		}
		if last == start {
			// A full page of one timestamp: moving start cannot get past it.
			seen := make(map[lineKey]int, len(entries)+len(boundary))
			for k, n := range boundary {
				seen[k] = n // lines of earlier pages this page did not repeat
			}
			for i := range entries {
				seen[keyOf(&entries[i])]++
			}
			if err := c.readInstant(ctx, query, start, limit, seen, col); err != nil || col.res.Truncated {
				return err
			}
			start, boundary = start+1, nil
			continue
		}
		boundary = make(map[lineKey]int)
		for i := range entries {
			if entries[i].rec.TimeNs == last {
				boundary[keyOf(&entries[i])]++
			}
		}
		start = last
	}
	return nil
}

// readInstant reads the lines of one timestamp ts, [ts, ts+1), with a
// growing limit, and adds those not in seen. Loki refuses limits above its
// max_entries_limit_per_query (default 5000) with 400: then, or when even the
// largest limit is full, the lines past it are reported missing.
func (c *Client) readInstant(ctx context.Context, query string, ts int64, limit int, seen map[lineKey]int, col *collector) error {
	var best []entry
	fits := false
	for l := limit * 2; l <= limit*maxInstantGrowth; l *= 2 {
		entries, err := c.page(ctx, query, ts, ts+1, l)
		col.res.Pages++
		var ue *UpstreamError
		if errors.As(err, &ue) && ue.Status == http.StatusBadRequest {
			break // the limit is above what this Loki allows
		}
		if err != nil {
			return err
		}
		best = entries
		if len(entries) < l {
			fits = true
			break
		}
	}
	for i := range best {
		e := &best[i]
		if k := keyOf(e); seen[k] > 0 {
			seen[k]--
			continue
		}
		if !col.add(e) {
			col.res.Truncated = true
			return nil
		}
	}
	if !fits {
		n := max(limit, len(best))
		col.res.Notices = append(col.res.Notices, fmt.Sprintf(
			"Loki: more than %d lines share the timestamp %s; only the first %d were read (Loki's max_entries_limit_per_query)",
			n, time.Unix(0, ts).UTC().Format(time.RFC3339Nano), n))
	}
	return nil
}

// page makes one query_range request.
func (c *Client) page(ctx context.Context, query string, start, end int64, limit int) ([]entry, error) {
	q := url.Values{}
	q.Set("query", query)
	q.Set("start", strconv.FormatInt(start, 10))
	q.Set("end", strconv.FormatInt(end, 10))
	q.Set("limit", strconv.Itoa(limit))
	q.Set("direction", "forward")
	resp, err := c.get(ctx, pathQueryRange, q, http.Header{encodingFlagsHeader: {categorizeLabels}})
	if err != nil {
		return nil, err
	}
	defer closeBody(resp.Body)
	// A login page or proxy error with status 200 is not a Loki answer: say
	// what came back instead of a JSON parser's complaint about it.
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return nil, fmt.Errorf("%w: loki at %s answered %s, not JSON; is loki.url a Loki?", ErrBadResponse, c.host, safetext.Clip([]byte(ct), 100))
	}
	entries, err := decodeResponse(resp.Body)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, c.transportError(ctx, ctxErr)
		}
		// The parser quotes raw body bytes: keep them printable and short.
		detail := strings.TrimPrefix(err.Error(), ErrBadResponse.Error()+": ")
		return nil, fmt.Errorf("%w: %s", ErrBadResponse, safetext.Clip([]byte(detail), 200))
	}
	return entries, nil
}

// CheckHealth tells whether Loki can answer Traceweave's queries: GET /ready
// (Loki is up and its ring is ready), then a labels request over the last
// five minutes, which goes through the same auth and tenant as queries. The
// error says what is wrong: unreachable (ErrUnreachable), credentials
// (ErrAuth), or Loki's status and text (*UpstreamError).
func (c *Client) CheckHealth(ctx context.Context) error {
	resp, err := c.get(ctx, pathReady, nil, nil)
	if err != nil {
		return err
	}
	closeBody(resp.Body)
	now := time.Now()
	q := url.Values{}
	q.Set("start", strconv.FormatInt(now.Add(-healthRange).UnixNano(), 10))
	q.Set("end", strconv.FormatInt(now.UnixNano(), 10))
	resp, err = c.get(ctx, pathLabels, q, nil)
	if err != nil {
		return err
	}
	defer closeBody(resp.Body)
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || body.Status != "success" {
		return fmt.Errorf("%w: %s did not return a successful JSON answer; is %s a Loki?", ErrBadResponse, pathLabels, c.host)
	}
	return nil
}

// get sends a GET and returns a 2xx response; the caller closes its body.
// Other statuses become *UpstreamError with Loki's text, transport failures
// *UnreachableError.
func (c *Client) get(ctx context.Context, path string, q url.Values, h http.Header) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("loki: building the request for %s: %w", path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	for retried := false; ; retried = true {
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, err)
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		// A busy Loki (429: too many outstanding requests, 503) may say
		// when to come back: a short wait is worth one more try.
		if wait, ok := models.RetrySoon(resp, time.Now()); ok && !retried {
			closeBody(resp.Body)
			if err := models.Sleep(ctx, wait); err != nil {
				return nil, c.transportError(ctx, err)
			}
			continue
		}
		defer closeBody(resp.Body)
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &UpstreamError{Status: resp.StatusCode, Body: safetext.Clip(b, 512), Path: path}
	}
}

// transportError classifies a request that got no HTTP answer: cancelled,
// timed out (naming loki.timeout, so a slow Loki is not reported as a down
// one) or unreachable.
func (c *Client) transportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error's text repeats the URL with its query; the cause is enough.
		err = ue.Err
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("request to loki at %s cancelled: %w", c.host, ctx.Err())
	}
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
		within := "the query deadline"
		if c.timeout > 0 {
			within = c.timeout.String() + " (loki.timeout)"
		}
		return &TimeoutError{Host: c.host, Within: within, Err: err}
	}
	return &UnreachableError{Host: c.host, Err: err}
}

// closeBody drains a little of what is left (so the connection can be
// reused) and closes the body.
func closeBody(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, 64<<10))
	_ = b.Close()
}
