package spans

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/traceweave/traceweave/internal/safetext"
	"github.com/traceweave/traceweave/internal/upstream"
)

func failed(t *testing.T, ctx context.Context, err error) sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span := tp.Tracer("test").Start(ctx, "s")
	Fail(ctx, span, err)
	span.End()
	require.Len(t, rec.Ended(), 1)
	return rec.Ended()[0]
}

func TestFailScrubsWithTheRedactor(t *testing.T) {
	err := &upstream.Error{Upstream: upstream.Loki, Kind: upstream.ErrStatus, Message: "HTTP 500: bad password hunter2"}
	ctx := WithRedactor(context.Background(), safetext.NewRedactor([]string{"hunter2"}))
	s := failed(t, ctx, err)
	require.Equal(t, codes.Error, s.Status().Code)
	require.Contains(t, s.Status().Description, "HTTP 500")
	require.NotContains(t, s.Status().Description, "hunter2")
	require.Len(t, s.Events(), 1)
	require.NotContains(t, s.Events()[0].Attributes[0].Value.Emit(), "hunter2")
}

func TestFailWithoutRedactorRecordsOnlyTheCategory(t *testing.T) {
	err := &upstream.Error{Upstream: upstream.Loki, Kind: upstream.ErrStatus, Message: "HTTP 500: bad password hunter2"}
	s := failed(t, context.Background(), err)
	require.Equal(t, codes.Error, s.Status().Code)
	require.Equal(t, upstream.ErrStatus.Error(), s.Status().Description)
	s = failed(t, context.Background(), errors.New("hunter2"))
	require.Equal(t, "failed", s.Status().Description)
}

func TestFailIgnoresNil(t *testing.T) {
	require.Equal(t, codes.Unset, failed(t, context.Background(), nil).Status().Code)
}
