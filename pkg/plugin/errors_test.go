package plugin

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/assert"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/upstream"
	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/kafka"
	"github.com/traceweave/traceweave/pkg/tempo"
)

func TestErrorResponse(t *testing.T) {
	allFailed := func(errs ...error) error {
		st := make([]engine.SourceStatus, len(errs))
		for i, e := range errs {
			st[i] = engine.SourceStatus{Source: fmt.Sprint(i), Err: e}
		}
		return &engine.AllFailedError{Statuses: st}
	}
	unreachable := &upstream.Error{Upstream: upstream.Tempo, Kind: upstream.ErrUnreachable, Message: "connecting to Tempo at h failed"}
	status500 := &upstream.Error{Upstream: upstream.Loki, Kind: upstream.ErrStatus, Status: 500, Message: "loki: HTTP 500 pw=hunter2"}
	kafkaAuth := &upstream.Error{Upstream: upstream.Kafka, Kind: upstream.ErrAuth,
		Err: &kafka.TopicError{Topic: "audit", Partition: -1, Kind: kafka.ErrAuthentication, Cause: errors.New("SASL_AUTHENTICATION_FAILED")}}
	for _, tc := range []struct {
		name   string
		err    error
		status backend.Status
		source backend.ErrorSource
	}{
		{"tempo unreachable", allFailed(unreachable), backend.StatusBadGateway, backend.ErrorSourceDownstream},
		{"the first source decides", allFailed(status500, unreachable), 500, backend.ErrorSourceDownstream},
		{"redacted, still classified", safetext.NewRedactor([]string{"hunter2"}).Error(allFailed(status500)), 500, backend.ErrorSourceDownstream},
		{"kafka topic missing", allFailed(&upstream.Error{Upstream: upstream.Kafka, Kind: upstream.ErrNotFound}), backend.StatusBadRequest, backend.ErrorSourceDownstream},
		{"kafka SASL login rejected", allFailed(kafkaAuth), backend.StatusUnauthorized, backend.ErrorSourceDownstream},
		{"kafka SASL login rejected, redacted", safetext.NewRedactor([]string{"hunter2"}).Error(allFailed(kafkaAuth)), backend.StatusUnauthorized, backend.ErrorSourceDownstream},
		{"kafka SASL first decides", allFailed(kafkaAuth, status500), backend.StatusUnauthorized, backend.ErrorSourceDownstream},
		{"loki first decides over kafka SASL", allFailed(status500, kafkaAuth), 500, backend.ErrorSourceDownstream},
		{"deadline first", allFailed(status500, fmt.Errorf("x: %w", context.DeadlineExceeded)), backend.StatusTimeout, backend.ErrorSourceDownstream},
		{"trace not found", fmt.Errorf("%w: and no lines", tempo.ErrTraceNotFound), backend.StatusNotFound, backend.ErrorSourceDownstream},
		{"no source", engine.ErrNoSource, backend.StatusBadRequest, backend.ErrorSourceDownstream},
		{"a plugin bug", errors.New("nil map"), backend.StatusInternal, backend.ErrorSourcePlugin},
	} {
		r := errorResponse(tc.err)
		assert.Equal(t, tc.status, r.Status, tc.name)
		assert.Equal(t, tc.source, r.ErrorSource, tc.name)
		assert.Equal(t, tc.err.Error(), r.Error.Error(), tc.name)
	}
	assert.Contains(t, errorResponse(allFailed(kafkaAuth)).Error.Error(), kafka.AuthenticationHint)
	assert.NotContains(t, errorResponse(safetext.NewRedactor([]string{"hunter2"}).Error(allFailed(status500))).Error.Error(), "hunter2")
}
