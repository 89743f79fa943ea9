// Package plugin is the Grafana side of Traceweave: the datasource instance
// (one per configured datasource), its QueryData and CheckHealth handlers,
// and the mapping of errors to per-RefID statuses (errors.go). The query
// flow itself, asking Tempo, Loki and Kafka and merging the answers, is
// pkg/engine, which the CLI shares.
package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/traceweave/traceweave/internal/admission"
	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/sharedrun"
)

// PluginID is the plugin id of the public contract.
const PluginID = "traceweave-timeline-datasource"

// Make sure Datasource implements the handlers Grafana calls and is disposable.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured Traceweave datasource. Grafana creates it
// when the settings change and disposes of the old one.
type Datasource struct {
	uid  string
	name string
	// engine is nil when the settings are invalid; settingsErr then says why,
	// and every query and health check reports it instead of failing obscurely.
	engine      *engine.Engine
	settingsErr error
	// runs shares one engine run among the panels that ask for the same
	// trace at once; per instance, so nothing crosses datasources or orgs.
	runs *sharedrun.Group
	// gate is the process's admission of answers by size.
	gate *admission.Gate
}

// NewDatasource is the instance factory Grafana calls with the saved settings.
// Invalid settings do not fail the factory: the instance reports them on
// every call, so the user sees which field to fix on the config page.
//
// The Tempo and Loki clients start from what Grafana configures for every
// datasource (s.HTTPClientOptions: the secure socks proxy when Grafana
// enables it); upstream.ClientOptionsFrom says which of those options apply.
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	d := &Datasource{uid: s.UID, name: s.Name, gate: admission.Process()}
	cfg, err := models.LoadSettings(s.JSONData, s.DecryptedSecureJSONData)
	if err != nil {
		d.settingsErr = err
		return d, nil
	}
	base, err := grafanaHTTPOptions(ctx, s)
	if err != nil {
		// The SDK's errors come from Grafana's proxy configuration or
		// jsonData's top-level keys; neither carries a secret value.
		d.settingsErr = fmt.Errorf("%w: Grafana's HTTP client options (secure socks proxy): %w", models.ErrInvalidSettings, err)
	} else {
		eng, err := engine.NewFrom(base, cfg)
		if err != nil {
			d.settingsErr = fmt.Errorf("%w: %w", models.ErrInvalidSettings, err)
		} else {
			d.engine = eng
			d.runs = sharedrun.New(eng.Run, cfg.Cache.TTLOrDefault(), cfg.Cache.MaxBytes)
		}
	}
	return d, nil
}

// grafanaHTTPOptions is s.HTTPClientOptions, with a panic turned into an
// error: the SDK (v0.298.0, parseHTTPSettings) asserts that jsonData's
// top-level "url" and "access" are strings, and a provisioned file with a
// number there must give a settings error, not crash the plugin.
func grafanaHTTPOptions(ctx context.Context, s backend.DataSourceInstanceSettings) (opts httpclient.Options, err error) {
	defer func() {
		if r := recover(); r != nil {
			opts, err = httpclient.Options{}, fmt.Errorf("reading jsonData's top-level keys: %v", r)
		}
	}()
	return s.HTTPClientOptions(ctx)
}

// Dispose closes the upstream clients (the Kafka client holds connections)
// and drops the kept results of its runs.
func (d *Datasource) Dispose() {
	if d.runs != nil {
		d.runs.Close()
	}
	if d.engine != nil {
		d.engine.Close()
	}
}
