package plugin

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/traceweave/traceweave/pkg/engine"
)

// CheckHealth probes every configured upstream and says, per source, what
// works and what is wrong. Unconfigured sources are reported as skipped.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: d.settingsErr.Error()}, nil
	}
	results := d.engine.Health(ctx)
	return healthResult(results), nil
}

// healthResult turns per-source results into Grafana's health result: one
// line per source in the message, the details as JSON for the UI.
func healthResult(results []engine.SourceHealth) *backend.CheckHealthResult {
	status := backend.HealthStatusOk
	configured := 0
	lines := make([]string, 0, len(results))
	for _, r := range results {
		lines = append(lines, r.String())
		if r.Configured {
			configured++
			if r.Err != nil {
				status = backend.HealthStatusError
			}
		}
	}
	if configured == 0 {
		return &backend.CheckHealthResult{
			Status:  backend.HealthStatusError,
			Message: "Nothing to query: configure at least one source (Tempo URL, Loki URL, or Kafka brokers and topics).",
		}
	}
	details, _ := json.Marshal(map[string]any{"sources": results})
	return &backend.CheckHealthResult{Status: status, Message: strings.Join(lines, "\n"), JSONDetails: details}
}
