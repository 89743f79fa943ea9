package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/models"
)

// TestGeneratedFileIsCurrent fails when a Go default changed and
// src/defaults.gen.ts was not regenerated: the front end would show one
// default and the backend apply another.
func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := render()
	require.NoError(t, err)
	got, err := os.ReadFile("../../../src/defaults.gen.ts")
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "src/defaults.gen.ts is stale: run go generate ./pkg/models")
}

func TestRenderedValues(t *testing.T) {
	b, err := render()
	require.NoError(t, err)
	out := string(b)
	for _, line := range []string{
		"export const DEFAULT_UPSTREAM_TIMEOUT = '30s';",
		"export const DEFAULT_WINDOW_AFTER = '2m';",
		"export const DEFAULT_LOKI_SELECTOR = '{service_name=~\".+\"}';",
		"export const DEFAULT_KAFKA_MAX_RECORDS = 5_000_000;",
		"export const DEFAULT_KAFKA_MAX_BYTES = 1_073_741_824;",
		"export const DEFAULT_LOKI_MAX_LINES = 5000;",
		"  { tier: 'mysql', match: { attribute: 'service.name', regex: '(?i)^(mysql|mariadb)' } },",
	} {
		assert.Contains(t, out, line+"\n")
	}
	assert.Equal(t, len(models.DefaultTierRules()), strings.Count(out, "{ tier: "))
}

func TestFormatting(t *testing.T) {
	assert.Equal(t, `'it\'s a \\ \u000a'`, str("it's a \\ \n"))
	assert.Equal(t, "99999", num(99999))
	assert.Equal(t, "100_000", num(100000))
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30s", 2 * time.Minute: "2m", 90 * time.Second: "1m30s",
		time.Hour: "1h", 500 * time.Millisecond: "500ms", 2*time.Hour + 30*time.Second: "2h0m30s",
	} {
		assert.Equal(t, want, duration(models.Duration(d)), d.String())
	}
}
