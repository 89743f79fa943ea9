// Package memlimit gives the plugin process a soft memory limit that a
// Grafana operator can set in grafana.ini.
//
// Why: a 100k-line answer is ~85 MB of Arrow, and the SDK holds the Arrow
// bytes and gRPC's copy of them at once after the query is done, so with Go's
// default GC pacing (the heap may grow to twice what survived the last
// collection) such a query peaks at 550–700 MB RSS (BENCHMARKS.md). A soft
// limit makes the GC work harder instead, near the limit only. Go reads
// GOMEMLIMIT itself, but since Grafana 12.4 plugin processes no longer
// inherit the host's environment; what Grafana does pass is every key of the
// plugin's own grafana.ini section as GF_PLUGIN_<KEY>:
//
//	[plugin.traceweave-timeline-datasource]
//	memory_limit = 300MiB
//
// arrives as GF_PLUGIN_MEMORY_LIMIT=300MiB.
package memlimit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EnvVar is the variable Grafana sets from memory_limit in the plugin's
// grafana.ini section.
const EnvVar = "GF_PLUGIN_MEMORY_LIMIT"

// Parse reads a limit in GOMEMLIMIT's syntax: a non-negative integer with an
// optional unit B, KiB, MiB, GiB or TiB, or "off", returned as
// math.MaxInt64, the runtime's "no limit".
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return math.MaxInt64, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("memory limit %q: want a byte count like 300MiB, 1GiB or 314572800 (units B, KiB, MiB, GiB, TiB), or off", s)
	}
	if shift > 0 && n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("memory limit %q is too large", s)
	}
	return n << shift, nil
}

// Apply sets the soft memory limit from GF_PLUGIN_MEMORY_LIMIT through set
// (debug.SetMemoryLimit in the binary) unless GOMEMLIMIT is set, which the Go
// runtime has already applied and which wins. It returns a line for the
// plugin log saying what happened ("" when neither is set), and an error for
// a value it cannot read, in which case no limit is set.
func Apply(getenv func(string) string, set func(int64) int64) (string, error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		if getenv(EnvVar) != "" {
			return fmt.Sprintf("memory limit: GOMEMLIMIT=%s is set and wins over %s", v, EnvVar), nil
		}
		return "", nil
	}
	v := getenv(EnvVar)
	if v == "" {
		return "", nil
	}
	n, err := Parse(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvVar, err)
	}
	set(n)
	return fmt.Sprintf("memory limit: soft limit set to %s (%d bytes) from %s", strings.TrimSpace(v), n, EnvVar), nil
}
