package otelsetup_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/traceweave/traceweave/demo/internal/otelsetup"
	"github.com/traceweave/traceweave/demo/internal/otelsetup/otelsetuptest"
)

func TestLoggerOutputsCarryTraceContext(t *testing.T) {
	svc := otelsetuptest.NewService(t, "go-api")
	ctx, span := svc.TracerProvider.Tracer("t").Start(context.Background(), "op")
	defer span.End()
	tid, sid := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()

	svc.Logger.With("component", "db").InfoContext(ctx, "hello\nworld", "user", "ada lovelace", "n", 3)
	svc.Logger.Info("no span")

	sys := svc.Syslog.Lines()
	if len(sys) != 2 {
		t.Fatalf("syslog lines %q", sys)
	}
	re := regexp.MustCompile(`^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d testhost go-api\[4242\]: INFO hello\\nworld component=db user="ada lovelace" n=3 trace_id=` + tid + ` span_id=` + sid + `$`)
	if !re.MatchString(sys[0]) {
		t.Errorf("syslog line %q does not match %s", sys[0], re)
	}
	if regexp.MustCompile(`trace_id=`).MatchString(sys[1]) {
		t.Errorf("line without a span has a trace_id: %q", sys[1])
	}

	js := svc.JSON.Lines()
	var m map[string]any
	if err := json.Unmarshal([]byte(js[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m["trace_id"] != tid || m["span_id"] != sid || m["component"] != "db" {
		t.Errorf("JSON line %s", js[0])
	}

	recs := svc.Logs.Records()
	if len(recs) != 2 || recs[0].TraceID().String() != tid || recs[0].SpanID().String() != sid || recs[1].TraceID() != (trace.TraceID{}) {
		t.Errorf("OTLP records: %d, first trace %s", len(recs), recs[0].TraceID())
	}
}

func TestNewResourceServiceName(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	res, err := otelsetup.NewResource(context.Background(), "go-proxy")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range res.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	if got["service.name"] != "go-proxy" || got["telemetry.sdk.language"] != "go" || got["telemetry.sdk.name"] != "opentelemetry" {
		t.Errorf("resource %v", got)
	}
	t.Setenv("OTEL_SERVICE_NAME", "renamed")
	res, _ = otelsetup.NewResource(context.Background(), "go-proxy")
	for _, kv := range res.Attributes() {
		if kv.Key == "service.name" && kv.Value.AsString() != "renamed" {
			t.Errorf("OTEL_SERVICE_NAME ignored: %s", kv.Value.AsString())
		}
	}
}
