package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStderrQuiet runs the built CLI against the fakes: without --verbose
// stderr carries nothing the CLI did not write itself (the SDK's JSON debug
// lines are dropped); with --verbose the debug lines are there, as text.
func TestStderrQuiet(t *testing.T) {
	env := allSourcesEnv(t)
	t.Run("timeline", func(t *testing.T) {
		r := runCLI(t, env, "timeline", traceID)
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.NotEmpty(t, r.stdout)
		assert.Empty(t, r.stderr)
	})
	t.Run("check", func(t *testing.T) {
		r := runCLI(t, env, "check")
		require.Equal(t, exitOK, r.code, r.stderr)
		assert.Empty(t, r.stderr)
	})
	t.Run("failure: only the CLI's own lines", func(t *testing.T) {
		closed := closedURL(t)
		r := runCLI(t, []string{"TRACEWEAVE_TEMPO_URL=" + closed, "TRACEWEAVE_LOKI_URL=" + closed}, "timeline", traceID)
		require.Equal(t, exitUpstream, r.code, r.stderr)
		lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
		require.Len(t, lines, 1, r.stderr)
		assert.True(t, strings.HasPrefix(lines[0], "traceweave: every source failed"), r.stderr)
	})
	for _, cmd := range [][]string{{"timeline", "--verbose", traceID}, {"check", "--verbose"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			r := runCLI(t, env, cmd...)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Contains(t, r.stderr, "[DEBUG] traceweave: failed to get plugin build info")
			for _, line := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
				assert.False(t, strings.HasPrefix(line, "{"), "a JSON log line: %s", line)
			}
		})
	}
}
