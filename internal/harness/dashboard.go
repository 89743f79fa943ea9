package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// PluginType is the plugin id a dashboard's datasource references carry.
const PluginType = "traceweave-timeline-datasource"

// PanelQuery is what Grafana sends for one panel of a dashboard: one
// QueryData call with the panel's targets of this datasource.
type PanelQuery struct {
	Title   string
	Type    string
	Queries []backend.DataQuery
}

// DashboardPanels reads a dashboard's JSON as Grafana's front end does when
// it opens the dashboard: every panel with a target of this plugin (a
// target without a datasource takes the panel's) becomes one PanelQuery,
// its targets with the dashboard variables interpolated ("${name}" and
// "$name" in any string) and the dashboard's time range resolved once, for
// all panels.
func DashboardPanels(dashboard []byte, vars map[string]string, from, to time.Time) ([]PanelQuery, error) {
	var d struct {
		Panels []struct {
			Title      string            `json:"title"`
			Type       string            `json:"type"`
			Datasource json.RawMessage   `json:"datasource"`
			Targets    []json.RawMessage `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	var out []PanelQuery
	for _, p := range d.Panels {
		pq := PanelQuery{Title: p.Title, Type: p.Type}
		for _, raw := range p.Targets {
			var target map[string]any
			if err := json.Unmarshal(raw, &target); err != nil {
				return nil, fmt.Errorf("panel %q: target: %w", p.Title, err)
			}
			ds := target["datasource"]
			if ds == nil {
				_ = json.Unmarshal(p.Datasource, &ds)
			}
			if dsType(ds) != PluginType {
				continue
			}
			interpolated := interpolate(target, vars).(map[string]any)
			refID, _ := interpolated["refId"].(string)
			pq.Queries = append(pq.Queries, Query(refID, interpolated, from, to))
		}
		if len(pq.Queries) > 0 {
			out = append(out, pq)
		}
	}
	return out, nil
}

func dsType(ds any) string {
	if m, ok := ds.(map[string]any); ok {
		t, _ := m["type"].(string)
		return t
	}
	return ""
}

// interpolate replaces dashboard variables in every string of v.
func interpolate(v any, vars map[string]string) any {
	switch x := v.(type) {
	case string:
		for name, val := range vars {
			x = strings.ReplaceAll(x, "${"+name+"}", val)
			x = strings.ReplaceAll(x, "$"+name, val)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = interpolate(e, vars)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = interpolate(e, vars)
		}
		return out
	}
	return v
}

// PanelAnswer is one panel's answer, as Arrow bytes.
type PanelAnswer struct {
	Panel    PanelQuery
	Response *pluginv2.QueryDataResponse
	Err      error
	// Elapsed is from the dashboard's opening to this panel's answer: when
	// the user sees the panel filled.
	Elapsed time.Duration
}

// Bytes is the size of the answer's frames.
func (a PanelAnswer) Bytes() int {
	n := 0
	if a.Response != nil {
		for _, r := range a.Response.Responses {
			for _, f := range r.Frames {
				n += len(f)
			}
		}
	}
	return n
}

// OpenDashboard sends every panel's QueryData call at once, each on its own
// goroutine, as Grafana does when a dashboard opens, and returns when all
// have answered.
func (p *Plugin) OpenDashboard(ctx context.Context, s Settings, panels []PanelQuery) []PanelAnswer {
	out := make([]PanelAnswer, len(panels))
	var wg sync.WaitGroup
	start := time.Now()
	for i, pq := range panels {
		wg.Go(func() {
			resp, err := p.QueryDataProto(ctx, s, pq.Queries...)
			out[i] = PanelAnswer{Panel: pq, Response: resp, Err: err, Elapsed: time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

// TracePanels keeps the panels that show the dashboard's trace
// (${traceId}): every panel but a search (queryType "search"), which starts
// from a TraceQL search rather than the trace and asks Tempo's search API
// (docs/DESIGN.md, "Search"). Opening the trace's panels is one run.
func TracePanels(panels []PanelQuery) []PanelQuery {
	var out []PanelQuery
	for _, p := range panels {
		if !p.IsSearch() {
			out = append(out, p)
		}
	}
	return out
}

// IsSearch reports whether the panel runs a search (queryType "search").
func (p PanelQuery) IsSearch() bool {
	for _, q := range p.Queries {
		var m struct {
			QueryType string `json:"queryType"`
		}
		if json.Unmarshal(q.JSON, &m) == nil && m.QueryType == "search" {
			return true
		}
	}
	return false
}

// TracePanelAnswers keeps the answers of the panels TracePanels keeps.
func TracePanelAnswers(answers []PanelAnswer) []PanelAnswer {
	var out []PanelAnswer
	for _, a := range answers {
		if !a.Panel.IsSearch() {
			out = append(out, a)
		}
	}
	return out
}
