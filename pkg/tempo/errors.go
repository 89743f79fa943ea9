package tempo

import (
	"errors"
	"fmt"
	"github.com/traceweave/traceweave/internal/safetext"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// Named errors of the Tempo source. Callers classify with errors.Is, never by
// message text: the plugin maps them to frame notices and health messages.
var (
	// ErrTraceNotFound means Tempo answered but does not know the trace
	// (v2: 200 with an empty trace; v1: 404).
	ErrTraceNotFound = errors.New("trace not found")
	// ErrDecode means Tempo answered 2xx with a body this client cannot
	// decode (unknown content type, corrupt protobuf or JSON).
	ErrDecode = errors.New("cannot decode the Tempo response")
	// ErrUnreachable means no HTTP answer came back: connection refused,
	// DNS failure, TLS failure, connection reset.
	ErrUnreachable = errors.New("tempo is unreachable")
	// ErrTimeout means Tempo did not answer within the configured timeout.
	ErrTimeout = errors.New("tempo did not answer in time")
)

// maxErrorBody bounds the part of an error body kept in UpstreamError, so a
// huge HTML error page cannot flood logs and panels.
const maxErrorBody = 512

// traceNotFoundError names the trace in the message while staying
// classifiable as ErrTraceNotFound.
type traceNotFoundError struct{ traceID string }

func (e *traceNotFoundError) Error() string {
	return fmt.Sprintf("trace %s not found in Tempo", e.traceID)
}

func (e *traceNotFoundError) Unwrap() error { return ErrTraceNotFound }

// UpstreamError is a non-2xx answer from Tempo. Body is Tempo's plain-text
// error message, clipped. It reports its error source from the HTTP status
// (see backend.ErrorSourceFromHTTPStatus), so backend.IsDownstreamError is
// true for it without further wrapping: a bad ID or a Tempo outage is not a
// plugin bug.
type UpstreamError struct {
	Status int
	Body   string
}

// Error names Tempo and the status, then Tempo's message if it sent one.
func (e *UpstreamError) Error() string {
	msg := fmt.Sprintf("tempo answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// ErrorSource is the SDK error source of the status (downstream for 4xx/5xx
// answers such as 400, 401, 404, 429 and 500).
func (e *UpstreamError) ErrorSource() backend.ErrorSource {
	return backend.ErrorSourceFromHTTPStatus(e.Status)
}

// Is makes errors.Is(err, backend.ErrorWithSource{...}) and therefore
// backend.IsDownstreamError / IsPluginError answer from the status.
func (e *UpstreamError) Is(target error) bool {
	if ws, ok := target.(backend.ErrorWithSource); ok {
		return ws.ErrorSource() == e.ErrorSource()
	}
	return false
}

// newUpstreamError keeps the first line-ish part of Tempo's message.
func newUpstreamError(status int, body []byte) *UpstreamError {
	return &UpstreamError{Status: status, Body: clipBody(body)}
}

func clipBody(b []byte) string { return safetext.Clip(b, maxErrorBody) }
