// Package tempo fetches one trace by ID from Grafana Tempo and converts it to
// timeline spans, and finds traces with a TraceQL search (Search). It
// speaks the v2 trace-by-ID API in protobuf, falls back to v1 for older
// Tempo, accepts JSON when a server ignores Accept, and names every failure
// (not found, upstream status, unreachable, timeout, decode) so the plugin
// can turn it into a precise frame notice or health message.
//
// It deliberately does not import github.com/grafana/tempo (AGPL): the v2
// envelope is unwrapped with protowire, the trace itself is OTLP and decoded
// with pdata.
package tempo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

const acceptProtobuf = "application/protobuf"

// TimeRange restricts Tempo's block search to [Start, End]. Tempo takes
// whole Unix seconds, so Start is rounded down and End up.
type TimeRange struct {
	Start, End time.Time
}

// query is tr as Tempo's start and end parameters.
func (tr TimeRange) query() url.Values {
	q := url.Values{}
	q.Set("start", strconv.FormatInt(tr.Start.Unix(), 10))
	end := tr.End.Unix()
	if tr.End.Nanosecond() > 0 {
		end++
	}
	q.Set("end", strconv.FormatInt(end, 10))
	return q
}

// Result is a decoded trace-by-ID answer.
type Result struct {
	// Trace holds the spans in Tempo's order; Tier is not yet assigned.
	Trace timeline.Trace
	// Partial is true when Tempo said the trace may be incomplete (status
	// PARTIAL, e.g. a querier hit a limit); Message is Tempo's reason.
	Partial bool
	Message string
	// API is APIv2 or APIv1: which endpoint answered.
	API string
}

// Client talks to one Tempo. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	host    string
	timeout time.Duration
	http    *http.Client
	// transport is the SDK client's own transport: the SDK wraps it in
	// middleware, which hides its CloseIdleConnections from http.Client's.
	transport *http.Transport
}

// New builds a Client whose *http.Client comes from the SDK (timeouts, basic
// auth or bearer token, X-Scope-OrgID, TLS, tracing, metrics, response size
// limit: see upstream.ClientOptions). An unusable URL wraps
// models.ErrInvalidSettings.
func New(cfg models.TempoSettings) (*Client, error) {
	return NewFrom(httpclient.Options{}, cfg)
}

// NewFrom is New on top of base, the options Grafana configures for every
// datasource (backend.DataSourceInstanceSettings.HTTPClientOptions); see
// upstream.ClientOptionsFrom for which of them apply.
func NewFrom(base httpclient.Options, cfg models.TempoSettings) (*Client, error) {
	cfg = cfg.WithDefaults() // an unset timeout is models.DefaultUpstreamTimeout, as LoadSettings makes it
	u, err := models.UpstreamURL("tempo.url", cfg.URL, "http://tempo:3200")
	if err != nil {
		return nil, err
	}
	if u.Path == "" {
		u.Path = "/" // so JoinPath yields absolute paths ("/ready", not "ready")
	}
	opts := upstream.ClientOptionsFrom(base, cfg.HTTPUpstream)
	var transport *http.Transport
	opts.ConfigureTransport = func(_ httpclient.Options, t *http.Transport) { transport = t }
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("creating the Tempo HTTP client: %w", err)
	}
	timeout := httpclient.DefaultTimeoutOptions.Timeout
	if opts.Timeouts != nil {
		timeout = opts.Timeouts.Timeout
	}
	return &Client{base: u, host: u.Host, timeout: timeout, http: hc, transport: transport}, nil
}

// Close releases idle connections; call it when the datasource instance is
// disposed.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// TraceByID fetches a trace. traceID is a normalised 32-hex ID (anything
// NormalizeTraceID accepts is tolerated). tr, when non-nil, is sent as
// start/end. It asks v2 first and falls back to v1 when v2 answers 404 (Tempo
// before 2.6). An unknown trace is ErrTraceNotFound; a non-2xx answer is an
// *upstream.Error with the status; no answer is ErrUnreachable or
// ErrTimeout; an unreadable body is ErrDecode (and upstream.ErrBadResponse).
func (c *Client) TraceByID(ctx context.Context, traceID string, tr *TimeRange) (*Result, error) {
	return c.TraceByIDWithExtent(ctx, traceID, tr, nil)
}

// TraceByIDWithExtent is TraceByID that first calls onExtent (when non-nil)
// with the trace's extent read by ScanExtent from a protobuf answer, before
// the spans are decoded, so that the caller can start what waits on the
// trace's time window during the decode. onExtent runs on the calling
// goroutine, at most once, and is not called when the scan cannot tell
// (JSON answer, no spans, unreadable body): the decoded Result decides then.
func (c *Client) TraceByIDWithExtent(ctx context.Context, traceID string, tr *TimeRange, onExtent func(Extent)) (*Result, error) {
	id, err := models.NormalizeTraceID(traceID)
	if err != nil {
		return nil, err
	}
	res, err := c.fetchTrace(ctx, APIv2, tr, onExtent, "api", "v2", "traces", id)
	if upstream.StatusOf(err) == http.StatusNotFound {
		log.DefaultLogger.FromContext(ctx).Debug("Tempo has no v2 trace API, using v1", "host", c.host)
		res, err = c.fetchTrace(ctx, APIv1, tr, onExtent, "api", "traces", id)
		if upstream.StatusOf(err) == http.StatusNotFound {
			// v1 answers 404 with an empty body for an unknown trace.
			return nil, &traceNotFoundError{traceID: id}
		}
	}
	if errors.Is(err, ErrTraceNotFound) {
		return nil, &traceNotFoundError{traceID: id}
	}
	if err != nil {
		return nil, err
	}
	res.Trace.TraceID = id
	return res, nil
}

func (c *Client) fetchTrace(ctx context.Context, api string, tr *TimeRange, onExtent func(Extent), path ...string) (*Result, error) {
	u := c.base.JoinPath(path...)
	if tr != nil {
		u.RawQuery = tr.query().Encode()
	}
	resp, err := c.get(ctx, u, acceptProtobuf)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readStatusError(resp)
	}
	body, err := c.readBody(ctx, resp.Body)
	if err != nil {
		return nil, err
	}
	contentType := resp.Header.Get("Content-Type")
	if onExtent != nil {
		if x, ok := ScanExtent(api, contentType, body); ok {
			onExtent(x)
		}
	}
	res, err := Decode(api, contentType, body)
	if errors.Is(err, ErrDecode) {
		return nil, &upstream.Error{Upstream: upstream.Tempo, Kind: upstream.ErrBadResponse, Err: err}
	}
	return res, err
}

// CheckHealth asks Tempo's /api/echo (the endpoint Grafana's own Tempo
// datasource checks), with the configured auth and tenant; when a proxy or
// an old Tempo has no /api/echo (404) it asks /ready. The error says what is
// wrong: ErrUnreachable/ErrTimeout (host), ErrAuth (401/403, credentials or
// tenant), or an *upstream.Error with any other status.
func (c *Client) CheckHealth(ctx context.Context) error {
	err := c.probe(ctx, "api", "echo")
	if upstream.StatusOf(err) == http.StatusNotFound {
		err = c.probe(ctx, "ready")
	}
	return err
}

func (c *Client) probe(ctx context.Context, path ...string) error {
	u := c.base.JoinPath(path...)
	resp, err := c.get(ctx, u, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil
	}
	ue := readStatusError(resp)
	msg := fmt.Sprintf("Tempo at %s is not healthy: GET %s", c.host, u.EscapedPath())
	if ue.Kind == ErrAuth {
		msg = fmt.Sprintf("Tempo at %s refused access (%d %s): check the basic auth user and password, the bearer token or the tenant", c.host, ue.Status, http.StatusText(ue.Status))
	}
	return &upstream.Error{Upstream: upstream.Tempo, Kind: ue.Kind, Status: ue.Status, Message: msg + ": " + ue.Message}
}

func (c *Client) get(ctx context.Context, u *url.URL, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the Tempo request: %w", err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for retried := false; ; retried = true {
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, c.transportError(ctx, "connecting to", err)
		}
		// A busy Tempo (429, 503) that says to come back soon is asked once more.
		if wait, ok := upstream.RetrySoon(resp, time.Now()); ok && !retried {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			if err := upstream.Sleep(ctx, wait); err != nil {
				return nil, c.transportError(ctx, "waiting to ask again", err)
			}
			continue
		}
		return resp, nil
	}
}

// transportError classifies a failed exchange. The *url.Error is unwrapped
// so the message names the host once and no URL; credentials never appear
// because they travel in headers, and New rejects URLs with userinfo. The
// cause stays wrapped, so SDK helpers such as backend.IsDownstreamHTTPError
// still see the net.OpError inside.
func (c *Client) transportError(ctx context.Context, doing string, err error) *upstream.Error {
	cause := err
	var uerr *url.Error
	if errors.As(err, &uerr) {
		cause = uerr.Err
	}
	if ctxErr := ctx.Err(); errors.Is(ctxErr, context.Canceled) {
		return &upstream.Error{Upstream: upstream.Tempo, Kind: upstream.ErrCanceled,
			Message: fmt.Sprintf("request to Tempo at %s cancelled: %v", c.host, ctxErr), Err: ctxErr}
	}
	kind, msg := ErrUnreachable, fmt.Sprintf("%s Tempo at %s failed", doing, c.host)
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
		kind, msg = ErrTimeout, fmt.Sprintf("Tempo at %s did not answer within %s", c.host, c.timeout)
	}
	return &upstream.Error{Upstream: upstream.Tempo, Kind: kind, Message: msg + ": " + cause.Error(), Err: cause}
}

// readBody reads a 2xx answer's body. A read that fails after Tempo
// answered is classified like a failed exchange, except that a body broken
// off is an unreadable answer, as Loki's cut bodies are (docs/FAULTS.md).
func (c *Client) readBody(ctx context.Context, body io.Reader) ([]byte, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		err := c.transportError(ctx, "reading the answer from", err)
		if err.Kind == ErrUnreachable {
			err.Kind = upstream.ErrBadResponse
		}
		return nil, err
	}
	return b, nil
}

func readStatusError(resp *http.Response) *upstream.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	return newStatusError(resp.StatusCode, body)
}
