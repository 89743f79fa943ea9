package collector

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/kafkaexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// collectorRelease is the collector release the module is built from (core
// v0.165.0 / v1.71.0, contrib v0.165.1, see go.mod); docker-compose.yaml pins
// the contrib image of the same release (TestComposeImageMatchesModule).
const collectorRelease = "0.165.0"

// envVars are the variables deploy/otel-collector.yaml reads, with the
// defaults it must fall back to (the compose stack sets none of them).
var envVars = map[string]string{
	"OTELCOL_OTLP_GRPC_ENDPOINT": "0.0.0.0:4317",
	"OTELCOL_OTLP_HTTP_ENDPOINT": "0.0.0.0:4318",
	"OTELCOL_HEALTH_ENDPOINT":    "0.0.0.0:13133",
	"OTELCOL_AUDIT_LOG":          "/var/log/demo/audit.log",
	"OTELCOL_SYSLOG":             "/var/log/demo/syslog",
	"OTELCOL_TEMPO_ENDPOINT":     "tempo:4317",
	"OTELCOL_LOKI_ENDPOINT":      "http://loki:3100/otlp",
	"OTELCOL_KAFKA_BROKERS":      "kafka:9092",
}

// repoRoot is the Traceweave repository (this module lives in test/collector).
func repoRoot(t testing.TB) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "deploy", "otel-collector.yaml")); err != nil {
		t.Fatalf("repository root not found from %s: %v", abs, err)
	}
	return abs
}

// deployConfig is the collector configuration of the compose stack.
func deployConfig(t testing.TB) string {
	return filepath.Join(repoRoot(t), "deploy", "otel-collector.yaml")
}

// factories are the components of the contrib distribution that
// deploy/otel-collector.yaml uses, from the real factories (their type names
// and deprecated aliases included).
func factories() (otelcol.Factories, error) {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	f := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	var err error
	f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory(), filelogreceiver.NewFactory())
	add(err)
	f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](batchprocessor.NewFactory(), resourceprocessor.NewFactory())
	add(err)
	f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](otlpexporter.NewFactory(), otlphttpexporter.NewFactory(), kafkaexporter.NewFactory())
	add(err)
	f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](healthcheckextension.NewFactory())
	add(err)
	return f, errors.Join(errs...)
}

// logBuffer collects the collector's own log lines (shown when a test fails).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Sync() error { return nil }

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newCollector builds a collector from the config files, merged in order
// (later files override keys of earlier ones, lists are replaced), with the
// file and env providers the otelcol-contrib binary has. Its log goes to logs.
func newCollector(t testing.TB, logs *logBuffer, configs ...string) *otelcol.Collector {
	t.Helper()
	uris := make([]string, len(configs))
	for i, c := range configs {
		uris[i] = "file:" + c
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "otelcol-traceweave-test", Description: "Traceweave collector test", Version: collectorRelease},
		Factories: factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs:              uris,
			ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
			DefaultScheme:     "env",
		}},
		DisableGracefulShutdown: true,
		SkipSettingGRPCLogger:   true,
		LoggingOptions: []zap.Option{zap.WrapCore(func(zapcore.Core) zapcore.Core {
			return zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), logs, zapcore.DebugLevel)
		})},
	})
	if err != nil {
		t.Fatalf("new collector: %v", err)
	}
	return col
}

// runningCollector is a collector started by startCollector.
type runningCollector struct {
	col  *otelcol.Collector
	done chan error
	logs *logBuffer
}

// startCollector runs the collector until the test ends and waits until its
// health_check extension answers 200 at healthAddr (every pipeline started).
func startCollector(t *testing.T, ctx context.Context, healthAddr string, configs ...string) *runningCollector {
	t.Helper()
	logs := &logBuffer{}
	rc := &runningCollector{col: newCollector(t, logs, configs...), done: make(chan error, 1), logs: logs}
	go func() { rc.done <- rc.col.Run(context.Background()) }()
	t.Cleanup(func() { rc.stop(t) })
	for {
		select {
		case err := <-rc.done:
			rc.done <- err
			t.Fatalf("collector stopped while starting: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("collector not healthy at %s: %v\n%s", healthAddr, ctx.Err(), logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get("http://" + healthAddr + "/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return rc
			}
		}
	}
}

// stop shuts the collector down (receivers first, then a flush of the
// processors and exporters) and waits for Run to return.
func (rc *runningCollector) stop(t testing.TB) {
	if rc.col == nil {
		return
	}
	rc.col.Shutdown()
	if err := <-rc.done; err != nil {
		t.Errorf("collector run: %v\n%s", err, rc.logs.String())
	}
	rc.col = nil
}

// unsetEnv removes the variables for the test and restores them after it.
func unsetEnv(t *testing.T, names ...string) {
	for _, n := range names {
		t.Setenv(n, "") // registers the restore
		if err := os.Unsetenv(n); err != nil {
			t.Fatal(err)
		}
	}
}

// writeFile writes content to a new file in the test's temp dir.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.TrimLeft(content, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
