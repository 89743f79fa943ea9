package loki

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Categories of Loki failures, for errors.Is. They let the health check and
// the query handler tell the user what to fix (credentials, address, load)
// without matching message text.
var (
	// ErrUnreachable: no HTTP answer at all (DNS, refused, TLS, timeout).
	ErrUnreachable = errors.New("loki is unreachable")
	// ErrAuth: Loki or a gateway in front of it answered 401 or 403.
	ErrAuth = errors.New("loki rejected the credentials")
	// ErrRateLimited: Loki answered 429 (per-tenant query limits).
	ErrRateLimited = errors.New("loki rate-limited the query")
	// ErrInvalidTimeRange: the query's end is not after its start.
	ErrInvalidTimeRange = errors.New("invalid time range")
)

// maxErrorBody caps how much of an error body is read and kept: Loki's
// errors are one line of text.
const maxErrorBody = 4 << 10

// UpstreamError is a non-2xx answer from Loki. Body is Loki's own plain-text
// message (for example "parse error at line 1, col 25: literal not
// terminated"), which says more than the status, so the error shows it.
type UpstreamError struct {
	Status int
	Body   string
	// Path is the API path that failed, e.g. /loki/api/v1/query_range.
	Path string
}

// Error says which endpoint failed, with what status and Loki's text.
func (e *UpstreamError) Error() string {
	var b strings.Builder
	b.WriteString("loki")
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		b.WriteString(": authentication failed (check loki.basicAuthUser, the Loki password or token, and loki.tenant)")
	case http.StatusTooManyRequests:
		b.WriteString(": rate limited, try a shorter time range or again later")
	}
	fmt.Fprintf(&b, ": HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		b.WriteString(": ")
		b.WriteString(e.Body)
	}
	return b.String()
}

// Is classifies the status: ErrAuth for 401/403, ErrRateLimited for 429.
func (e *UpstreamError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// UnreachableError is a request that got no HTTP answer. It names Loki's
// host (never the URL's query or credentials) and wraps the cause, so
// errors.Is(err, context.DeadlineExceeded) still works.
type UnreachableError struct {
	Host string
	Err  error
}

// Error names Loki, its host and the cause.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("loki at %s is unreachable: %v", e.Host, e.Err)
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Is reports ErrUnreachable.
func (e *UnreachableError) Is(target error) bool { return target == ErrUnreachable }

// TimeoutError is a request Loki did not answer in time. It is errors.Is
// ErrUnreachable too (no answer came), but says that Loki was slow, and
// within what, rather than that it is down.
type TimeoutError struct {
	Host   string
	Within string
	Err    error
}

// Error names Loki, its host and the time it was given. The cause is left
// out: whether the HTTP client or the context noticed first is noise.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("loki at %s did not answer within %s", e.Host, e.Within)
}

// Unwrap returns the cause (a context deadline or a network timeout).
func (e *TimeoutError) Unwrap() error { return e.Err }

// Is reports ErrUnreachable: no answer came.
func (e *TimeoutError) Is(target error) bool { return target == ErrUnreachable }
