package plugin

import (
	"context"
	"errors"
	"net"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/tempo"
)

// errorResponse maps an engine error to a per-RefID response with a status
// and error source chosen by error type, never by message text
// (docs/DESIGN.md, "Errors"; docs/FAULTS.md lists the status of every
// fault). An upstream failure is an *upstream.Error, whichever upstream it
// came from, and says its own status and source. When every source failed,
// the first one listed decides.
func errorResponse(err error) backend.DataResponse {
	status := backend.StatusInternal
	source := backend.ErrorSourcePlugin
	var (
		upErr  *upstream.Error
		netErr net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		status, source = backend.StatusTimeout, backend.ErrorSourceDownstream
	case errors.Is(err, context.Canceled):
		status, source = backend.Status(499), backend.ErrorSourceDownstream
	case errors.Is(err, engine.ErrNoSource), errors.Is(err, engine.ErrSearchNeedsTempo), errors.Is(err, engine.ErrSearchNeedsRange):
		status, source = backend.StatusBadRequest, backend.ErrorSourceDownstream
	case errors.Is(err, tempo.ErrTraceNotFound):
		status, source = backend.StatusNotFound, backend.ErrorSourceDownstream
	case errors.As(err, &upErr):
		status, source = upErr.ResponseStatus(), upErr.ErrorSource()
		if upErr.Upstream == upstream.Kafka && errors.Is(upErr, kafka.ErrAuthentication) {
			// The brokers answered and refused the login: the datasource's
			// credentials need fixing, which 401 says (docs/DESIGN.md, "Errors").
			status, source = backend.StatusUnauthorized, backend.ErrorSourceDownstream
		}
	case errors.As(err, &netErr), backend.IsDownstreamHTTPError(err):
		status, source = backend.StatusBadGateway, backend.ErrorSourceDownstream
	}
	return backend.ErrDataResponseWithSource(status, source, err.Error())
}
