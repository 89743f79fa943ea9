// Command gpx_traceweave is the Traceweave backend plugin binary Grafana starts.
package main

import (
	"os"
	"runtime/debug"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/traceweave/traceweave/internal/admission"
	"github.com/traceweave/traceweave/internal/memlimit"
	// Replaces gRPC's proto codec so the frames of an answer go to Grafana
	// without one more copy (see the package doc).
	"github.com/traceweave/traceweave/internal/zerocopy"
	"github.com/traceweave/traceweave/pkg/plugin"
)

func main() {
	// memory_limit in the plugin's grafana.ini section (see internal/memlimit).
	if msg, err := memlimit.Apply(os.Getenv, debug.SetMemoryLimit); err != nil {
		log.DefaultLogger.Warn("ignoring the memory limit setting", "error", err.Error())
	} else if msg != "" {
		log.DefaultLogger.Info(msg)
	}
	// Answers are admitted by size against the limit just applied; their
	// room is held until the SDK has encoded them (see internal/admission).
	gate := admission.Process()
	gate.HoldUntilEncoded()
	zerocopy.OnEncoded(gate.Encoded)
	log.DefaultLogger.Info("answers are admitted by size", "budgetBytes", gate.Budget())
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
