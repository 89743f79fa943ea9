package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// TestRenderUserTiers: user-named tiers show in the waterfall and the
// summary in their configured colour (#rrggbb as 24-bit, a Grafana name by
// its hue), and a tier without one gets the same palette colour every time.
func TestRenderUserTiers(t *testing.T) {
	one := func(n int) *int { return &n }
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	sp := func(id, parent, service, tier string, start, end int64) timeline.Span {
		return timeline.Span{TraceID: tid, SpanID: id, ParentSpanID: parent, Name: "op-" + id, Service: service,
			Tier: tier, Kind: timeline.KindServer, StartNs: start * 1e6, EndNs: end * 1e6}
	}
	m := timeline.Merge(&timeline.Trace{TraceID: tid, Spans: []timeline.Span{
		sp("00f067aa0ba90201", "", "envoy", "edge", 0, 100),
		sp("00f067aa0ba90202", "00f067aa0ba90201", "checkout", "checkout-api-with-a-long-name", 5, 95),
		sp("00f067aa0ba90203", "00f067aa0ba90202", "pg", "datastore", 10, 50),
	}, TierStyles: []models.TierStyle{
		{Tier: "edge", Order: one(1), Color: "#8f3bb8"},
		{Tier: "datastore", Order: one(2), Color: "dark-green"},
	}})
	render := func() string {
		var b bytes.Buffer
		r := renderer{w: &b, width: 120, colour: true}
		r.render(m, &engine.Outcome{})
		return b.String()
	}
	out := render()
	edge := "\033[38;2;143;59;184m"
	require.Contains(t, out, edge+"[edge]"+ansiReset)
	require.Contains(t, out, "\033[32m[datastore]"+ansiReset)
	free := tierColour("checkout-api-with-a-long-name", "")
	require.Contains(t, tierPalette, free)
	require.Contains(t, out, free+"[checkout-api-with-a-long-name]"+ansiReset)
	require.Equal(t, out, render(), "colours are stable")
	require.Equal(t, free, tierColour("checkout-api-with-a-long-name", ""))

	// The summary lists the tiers in order, the column as wide as the longest name.
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  \033[") {
			rows = append(rows, line)
		}
	}
	require.Len(t, rows, 3, out)
	require.True(t, strings.HasPrefix(rows[0], "  "+edge+"edge"+strings.Repeat(" ", len("checkout-api-with-a-long-name")-4)+ansiReset), rows[0])
	require.Contains(t, rows[1], "datastore")
	require.Contains(t, rows[2], "checkout-api-with-a-long-name")
}
