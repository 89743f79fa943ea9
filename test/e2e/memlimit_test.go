package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/internal/harness"
)

// TestMemoryLimitFromPluginSection starts the binary as Grafana does when
// grafana.ini has memory_limit in the plugin's section (Grafana passes it as
// GF_PLUGIN_MEMORY_LIMIT) and checks the plugin applied it, or refused a bad
// value with a warning and still serves queries.
func TestMemoryLimitFromPluginSection(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Run("applied", func(t *testing.T) {
		t.Setenv("GF_PLUGIN_MEMORY_LIMIT", "300MiB")
		p := harness.Start(t)
		require.Eventually(t, func() bool {
			return strings.Contains(p.Logs(), "soft limit set to 300MiB (314572800 bytes) from GF_PLUGIN_MEMORY_LIMIT")
		}, 10*time.Second, 20*time.Millisecond, p.Logs())
	})
	t.Run("bad value", func(t *testing.T) {
		t.Setenv("GF_PLUGIN_MEMORY_LIMIT", "300MB")
		p := harness.Start(t)
		require.Eventually(t, func() bool {
			return strings.Contains(p.Logs(), "ignoring the memory limit setting") && strings.Contains(p.Logs(), `300MB`)
		}, 10*time.Second, 20*time.Millisecond, p.Logs())
		res, err := p.CheckHealth(ctxT(t), harness.Settings{JSONData: map[string]any{}})
		require.NoError(t, err, "the plugin still serves")
		require.Contains(t, res.Message, "Tempo URL")
	})
}
