// Package upstream is what the three upstream clients (pkg/tempo, pkg/loki,
// pkg/kafka) share: the one shape of an upstream failure (Error), the HTTP
// client options of Tempo and Loki, and their retry rule for a busy
// upstream. The plugin's QueryData handler turns an Error into a per-RefID
// status and error source (docs/DESIGN.md, "Errors").
package upstream

import (
	"errors"
	"net/http"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/traceweave/traceweave/internal/safetext"
)

// Categories of upstream failures, for errors.Is: every *Error is exactly
// one of them (its Kind), whichever upstream it came from.
var (
	// ErrUnreachable: no answer at all (DNS, connection refused or reset,
	// TLS, no broker reachable).
	ErrUnreachable = errors.New("unreachable")
	// ErrTimeout: the upstream did not answer within its timeout or the
	// query's deadline.
	ErrTimeout = errors.New("did not answer in time")
	// ErrCanceled: the query was cancelled while the upstream was asked.
	ErrCanceled = errors.New("cancelled")
	// ErrAuth: the credentials were rejected (HTTP 401 or 403, a SASL
	// failure).
	ErrAuth = errors.New("credentials rejected")
	// ErrDenied: the credentials were accepted but may not read what is
	// asked (a Kafka topic without a Read ACL).
	ErrDenied = errors.New("not authorized")
	// ErrNotFound: a name from the settings does not exist upstream (a
	// Kafka topic).
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: the upstream answered 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrStatus: any other non-2xx HTTP answer.
	ErrStatus = errors.New("error status")
	// ErrBadResponse: an answer that cannot be read (wrong content type,
	// corrupt protobuf or JSON, a body cut short).
	ErrBadResponse = errors.New("unreadable answer")
	// ErrBroker: any other failure a Kafka broker reported.
	ErrBroker = errors.New("broker error")
)

// Names of the upstreams, as Error.Upstream holds them.
const (
	Tempo = "tempo"
	Loki  = "loki"
	Kafka = "kafka"
)

// Error is a failure of one upstream: which one, what kind, the HTTP status
// it answered, and a message fit to show a user. Message is built by the
// client from the upstream's own words clipped to printable text (Body);
// the engine then scrubs the datasource's secrets from it
// (safetext.Redactor), so neither a binary error page nor an echoed
// password reaches a notice, a health message or a log line.
type Error struct {
	// Upstream is Tempo, Loki or Kafka.
	Upstream string
	// Kind is one of the Err* categories above.
	Kind error
	// Status is the HTTP status the upstream answered, 0 when it gave none
	// (no answer, an unreadable 2xx answer, Kafka).
	Status int
	// Message is the whole text of the error.
	Message string
	// Err is the cause, if any (a network error, a package's named error
	// such as tempo.ErrDecode, a *kafka.TopicError), for errors.Is and As.
	Err error
}

// Error returns Message, or the cause's text when Message is empty.
func (e *Error) Error() string {
	if e.Message == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

// Unwrap exposes the category and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// ErrorSource is the SDK error source: from the HTTP status when the
// upstream answered one (downstream for 4xx and 5xx), else downstream, since
// every Error is a failure of an upstream, not of the plugin.
func (e *Error) ErrorSource() backend.ErrorSource {
	if e.Status != 0 {
		return backend.ErrorSourceFromHTTPStatus(e.Status)
	}
	return backend.ErrorSourceDownstream
}

// Is makes errors.Is(err, backend.ErrorWithSource{...}), and with it
// backend.IsDownstreamError and IsPluginError, answer from ErrorSource.
func (e *Error) Is(target error) bool {
	if ws, ok := target.(backend.ErrorWithSource); ok {
		return ws.ErrorSource() == e.ErrorSource()
	}
	return false
}

// ResponseStatus is the status of a query that failed with e: the
// upstream's own HTTP status when it answered one; 502 when it could not be
// reached; 504 when it was too slow; 499 when the query was cancelled; 400
// when a name in the settings does not exist upstream or may not be read
// (the settings need fixing); 500 otherwise. docs/FAULTS.md lists the
// status of every fault.
func (e *Error) ResponseStatus() backend.Status {
	if e.Status != 0 {
		return backend.Status(e.Status)
	}
	switch e.Kind {
	case ErrUnreachable:
		return backend.StatusBadGateway
	case ErrTimeout:
		return backend.StatusTimeout
	case ErrCanceled:
		return backend.Status(499)
	case ErrNotFound, ErrDenied:
		return backend.StatusBadRequest
	}
	return backend.StatusInternal
}

// StatusOf is the HTTP status of the upstream answer err is (or wraps),
// 0 when err is no such answer.
func StatusOf(err error) int {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Status
	}
	return 0
}

// KindOfStatus is the category of a non-2xx HTTP status: ErrAuth for 401
// and 403, ErrRateLimited for 429, ErrStatus otherwise.
func KindOfStatus(status int) error {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAuth
	case http.StatusTooManyRequests:
		return ErrRateLimited
	}
	return ErrStatus
}

// Body is an upstream's error body as a message may quote it: printable
// UTF-8, at most max bytes (safetext.Clip).
func Body(b []byte, max int) string { return safetext.Clip(b, max) }
