package upstream

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"
)

func TestErrorStatusAndSource(t *testing.T) {
	for _, tc := range []struct {
		err    *Error
		status backend.Status
		source backend.ErrorSource
	}{
		{&Error{Upstream: Tempo, Kind: ErrStatus, Status: 500}, 500, backend.ErrorSourceDownstream},
		{&Error{Upstream: Loki, Kind: ErrRateLimited, Status: 429}, 429, backend.ErrorSourceDownstream},
		{&Error{Upstream: Loki, Kind: ErrAuth, Status: 401}, 401, backend.ErrorSourceDownstream},
		{&Error{Upstream: Tempo, Kind: ErrUnreachable}, backend.StatusBadGateway, backend.ErrorSourceDownstream},
		{&Error{Upstream: Loki, Kind: ErrTimeout}, backend.StatusTimeout, backend.ErrorSourceDownstream},
		{&Error{Upstream: Loki, Kind: ErrCanceled}, 499, backend.ErrorSourceDownstream},
		{&Error{Upstream: Kafka, Kind: ErrNotFound}, backend.StatusBadRequest, backend.ErrorSourceDownstream},
		{&Error{Upstream: Kafka, Kind: ErrDenied}, backend.StatusBadRequest, backend.ErrorSourceDownstream},
		{&Error{Upstream: Kafka, Kind: ErrAuth}, backend.StatusInternal, backend.ErrorSourceDownstream},
		{&Error{Upstream: Kafka, Kind: ErrBroker}, backend.StatusInternal, backend.ErrorSourceDownstream},
		{&Error{Upstream: Tempo, Kind: ErrBadResponse}, backend.StatusInternal, backend.ErrorSourceDownstream},
	} {
		name := fmt.Sprintf("%s %v %d", tc.err.Upstream, tc.err.Kind, tc.err.Status)
		assert.Equal(t, tc.status, tc.err.ResponseStatus(), name)
		assert.Equal(t, tc.source, tc.err.ErrorSource(), name)
		assert.True(t, backend.IsDownstreamError(fmt.Errorf("wrapped: %w", tc.err)), name)
	}
}

func TestErrorClassifies(t *testing.T) {
	cause := context.DeadlineExceeded
	var err error = &Error{Upstream: Loki, Kind: ErrTimeout, Message: "loki at h did not answer within 1s", Err: cause}
	err = fmt.Errorf("every source failed: %w", err)
	assert.ErrorIs(t, err, ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the cause stays reachable")
	assert.NotErrorIs(t, err, ErrUnreachable)
	var ue *Error
	assert.True(t, errors.As(err, &ue))
	assert.Equal(t, "every source failed: loki at h did not answer within 1s", err.Error())

	noMessage := &Error{Upstream: Kafka, Kind: ErrBroker, Err: errors.New("kafka topic \"a\": broker error")}
	assert.Equal(t, "kafka topic \"a\": broker error", noMessage.Error(), "without Message the cause speaks")
}

func TestStatusOf(t *testing.T) {
	assert.Equal(t, 404, StatusOf(fmt.Errorf("v2: %w", &Error{Upstream: Tempo, Kind: ErrStatus, Status: 404})))
	assert.Equal(t, 0, StatusOf(&Error{Upstream: Loki, Kind: ErrUnreachable}))
	assert.Equal(t, 0, StatusOf(errors.New("not an upstream answer")))
}

func TestKindOfStatus(t *testing.T) {
	assert.Equal(t, ErrAuth, KindOfStatus(401))
	assert.Equal(t, ErrAuth, KindOfStatus(403))
	assert.Equal(t, ErrRateLimited, KindOfStatus(429))
	assert.Equal(t, ErrStatus, KindOfStatus(404))
	assert.Equal(t, ErrStatus, KindOfStatus(503))
}

func TestBodyIsPrintableAndClipped(t *testing.T) {
	assert.Equal(t, "a b…", Body([]byte("a\nb\x00cdef"), 4))
}
