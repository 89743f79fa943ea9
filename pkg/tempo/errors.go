package tempo

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/upstream"
)

// Named errors of the Tempo source. Callers classify with errors.Is, never by
// message text: the plugin maps them to frame notices and health messages.
// Every failure of a request to Tempo is an *upstream.Error (the shape the
// three clients share); these name its categories.
var (
	// ErrTraceNotFound means Tempo answered but does not know the trace
	// (v2: 200 with an empty trace; v1: 404).
	ErrTraceNotFound = errors.New("trace not found")
	// ErrDecode means Tempo answered 2xx with a body this client cannot
	// decode (unknown content type, corrupt protobuf or JSON). Such an
	// error is also upstream.ErrBadResponse.
	ErrDecode = errors.New("cannot decode the Tempo response")
	// ErrInvalidSearch means a SearchRequest cannot be asked (no TraceQL,
	// a limit out of range, no or an inverted time range); Tempo is not
	// called. The query parser refuses such queries first, so reaching it
	// is a caller's bug.
	ErrInvalidSearch = errors.New("invalid search request")
	// ErrUnreachable means no HTTP answer came back: connection refused,
	// DNS failure, TLS failure, connection reset.
	ErrUnreachable = upstream.ErrUnreachable
	// ErrTimeout means Tempo did not answer within the configured timeout.
	ErrTimeout = upstream.ErrTimeout
	// ErrAuth means Tempo (or a proxy in front of it) answered 401 or 403:
	// the credentials or tenant are wrong, not the URL.
	ErrAuth = upstream.ErrAuth
)

// maxErrorBody bounds the part of an error body kept in an upstream.Error,
// so a huge HTML error page cannot flood logs and panels.
const maxErrorBody = 512

// traceNotFoundError names the trace in the message while staying
// classifiable as ErrTraceNotFound.
type traceNotFoundError struct{ traceID string }

func (e *traceNotFoundError) Error() string {
	return fmt.Sprintf("trace %s not found in Tempo", e.traceID)
}

func (e *traceNotFoundError) Unwrap() error { return ErrTraceNotFound }

// newStatusError is a non-2xx answer from Tempo: the status, then Tempo's
// plain-text message, clipped. Its error source follows the status (see
// upstream.Error.ErrorSource), so backend.IsDownstreamError is true for it:
// a bad ID or a Tempo outage is not a plugin bug.
func newStatusError(status int, body []byte) *upstream.Error {
	msg := fmt.Sprintf("tempo answered %d %s", status, http.StatusText(status))
	if b := clipBody(body); b != "" {
		msg += ": " + b
	}
	return &upstream.Error{Upstream: upstream.Tempo, Kind: upstream.KindOfStatus(status), Status: status, Message: msg}
}

func clipBody(b []byte) string { return safetext.Clip(b, maxErrorBody) }
