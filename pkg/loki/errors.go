package loki

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/traceweave/traceweave/internal/upstream"
)

// Categories of Loki failures, for errors.Is. They let the health check and
// the query handler tell the user what to fix (credentials, address, load)
// without matching message text. Every failure of a request to Loki is an
// *upstream.Error (the shape the three clients share), of one of these
// categories or of upstream.ErrTimeout, ErrCanceled, ErrStatus or
// ErrBadResponse (with ErrBadResponse below wrapped too).
var (
	// ErrUnreachable: no HTTP answer at all (DNS, refused, TLS). An answer
	// that did not come in time is upstream.ErrTimeout instead: a slow Loki
	// is not reported as a down one.
	ErrUnreachable = upstream.ErrUnreachable
	// ErrAuth: Loki or a gateway in front of it answered 401 or 403.
	ErrAuth = upstream.ErrAuth
	// ErrRateLimited: Loki answered 429 (per-tenant query limits).
	ErrRateLimited = upstream.ErrRateLimited
	// ErrInvalidTimeRange: the query's end is not after its start.
	ErrInvalidTimeRange = errors.New("invalid time range")
)

// maxErrorBody caps how much of an error body is read and kept: Loki's
// errors are one line of text.
const maxErrorBody = 4 << 10

// newStatusError is a non-2xx answer from Loki. body is Loki's own
// plain-text message (for example "parse error at line 1, col 25: literal
// not terminated"), which says more than the status, so the error shows it,
// clipped; path is the API path that failed, e.g. /loki/api/v1/query_range.
func newStatusError(status int, path string, body []byte) *upstream.Error {
	var b strings.Builder
	b.WriteString("loki")
	if path != "" {
		b.WriteString(" ")
		b.WriteString(path)
	}
	kind := upstream.KindOfStatus(status)
	switch kind {
	case ErrAuth:
		b.WriteString(": authentication failed (check loki.basicAuthUser, the Loki password or token, and loki.tenant)")
	case ErrRateLimited:
		b.WriteString(": rate limited, try a shorter time range or again later")
	}
	fmt.Fprintf(&b, ": HTTP %d %s", status, http.StatusText(status))
	if text := upstream.Body(body, 512); text != "" {
		b.WriteString(": ")
		b.WriteString(text)
	}
	return &upstream.Error{Upstream: upstream.Loki, Kind: kind, Status: status, Message: b.String()}
}

// badResponse is a 2xx answer that is not a Loki answer; err wraps
// ErrBadResponse and says what came back.
func badResponse(err error) *upstream.Error {
	return &upstream.Error{Upstream: upstream.Loki, Kind: upstream.ErrBadResponse, Err: err}
}
