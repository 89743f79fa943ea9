package stack

// The panels of provisioning/dashboards/incident-investigation.json each
// select the one frame they show (the query's "frames", docs/DESIGN.md
// "Frames"): Grafana has no dashboard transformation that picks a frame by
// name, and a query returning several frames changes the display names the
// panels match (with frames of different names a field's display name is
// "<frame> <field>", and filterByValue, regex field filters and the stat/bar
// gauge "Fields" option match display names). These checks build the frames
// a panel's target selects with the plugin's own builders (pkg/frames), with
// rows where a panel's result depends on them, and replay the panel's
// transformations, field config and value selection on them through the
// model of Grafana in grafana_test.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

const (
	firstErrorTitle = "First error"
	timeGoneTitle   = "Where did the time go"
	searchTitle     = "Recent error traces"
)

// frameInput is what the plugin builds a target's frames from.
type frameInput struct {
	// model is a trace query's merge; nil is an empty trace.
	model *timeline.Model
	// logSources are a search's log sources, one count column each.
	logSources []string
}

// targetFrames returns the frames the plugin answers a panel target with:
// the target's frame selection as models.ParseQuery reads it (a timeline
// query without one gets the four default frames, in their order).
func targetFrames(target map[string]any, in frameInput) ([]simFrame, error) {
	raw, err := json.Marshal(target)
	if err != nil {
		return nil, err
	}
	raw = bytes.ReplaceAll(raw, []byte("${traceId}"), []byte(sampleTraceID))
	q, err := models.ParseQuery(raw, "")
	if err != nil {
		return nil, err
	}
	return pluginFrames(q.Frames, in), nil
}

// pluginFrames returns the named frames as the plugin builds them; a search
// frame has no rows (the checks of its panel need only its fields).
func pluginFrames(names []string, in frameInput) []simFrame {
	m := in.model
	if m == nil {
		m = &timeline.Model{}
	}
	opts := frames.Options{DatasourceUID: traceweaveUID}
	var out []simFrame
	for _, name := range names {
		if name == frames.NameSearch {
			out = append(out, simulate(frames.Search(nil, in.logSources, opts)))
		} else {
			out = append(out, simulate(frames.Build(name, m, opts)))
		}
	}
	return out
}

// simulate reads a plugin frame the way the browser gets it.
func simulate(f *data.Frame) simFrame {
	sf := simFrame{Name: f.Name}
	for _, fld := range f.Fields {
		typ := "other"
		switch ft := fld.Type(); {
		case ft.Time():
			typ = "time"
		case ft.Numeric():
			typ = "number"
		case ft == data.FieldTypeString || ft == data.FieldTypeNullableString:
			typ = "string"
		case ft == data.FieldTypeBool || ft == data.FieldTypeNullableBool:
			typ = "boolean"
		}
		sim := simField{Name: fld.Name, Type: typ}
		if fld.Config != nil {
			sim.Unit = fld.Config.Unit
			for _, l := range fld.Config.Links {
				sim.Links = append(sim.Links, simLink{Title: l.Title, URL: l.URL})
			}
		}
		for i := range fld.Len() {
			v, ok := fld.ConcreteAt(i)
			switch {
			case !ok:
				v = nil
			case typ == "number":
				v, _ = fld.FloatAt(i)
			}
			sim.Values = append(sim.Values, v)
		}
		sf.Fields = append(sf.Fields, sim)
	}
	return sf
}

// incidentPanel is the JSON of one incident panel, decoded.
type incidentPanel struct {
	Type            string           `json:"type"`
	Title           string           `json:"title"`
	Targets         []map[string]any `json:"targets"`
	Transformations []transformation `json:"transformations"`
	FieldConfig     panelFieldConfig `json:"fieldConfig"`
	Options         struct {
		ReduceOptions reduceOptions `json:"reduceOptions"`
	} `json:"options"`
}

func findPanel(s *stack, title string) (*incidentPanel, error) {
	panels, _ := s.dashboard["panels"].([]any)
	for _, p := range panels {
		m, _ := p.(map[string]any)
		if m["title"] != title {
			continue
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		var ip incidentPanel
		if err := json.Unmarshal(raw, &ip); err != nil {
			return nil, fmt.Errorf("panel %q: %w", title, err)
		}
		return &ip, nil
	}
	return nil, fmt.Errorf("dashboard has no panel %q", title)
}

// replayPanel runs transformations and overrides on the frames the panel's
// one Traceweave target selects, built from in (checkDashboard validates the
// target itself), wanting a target of queryType wantQuery.
func replayPanel(p *incidentPanel, wantType, wantQuery string, in frameInput) ([]simFrame, panelReplay, []string) {
	var probs []string
	if p.Type != wantType {
		probs = append(probs, fmt.Sprintf("panel %q is a %s, want %s", p.Title, p.Type, wantType))
	}
	if len(p.Targets) != 1 || p.Targets[0]["queryType"] != wantQuery || dsUID(p.Targets[0]["datasource"]) != traceweaveUID {
		probs = append(probs, fmt.Sprintf("panel %q: want one target of datasource uid %s with queryType %s", p.Title, traceweaveUID, wantQuery))
		return nil, panelReplay{}, probs
	}
	frs, err := targetFrames(p.Targets[0], in)
	if err != nil {
		return nil, panelReplay{}, append(probs, fmt.Sprintf("panel %q: target rejected by models.ParseQuery: %v", p.Title, err))
	}
	rep, pr := replayTransformations(p.Transformations, frs)
	probs = append(probs, pr...)
	final, pr := applyOverrides(p.FieldConfig, rep.Frames)
	probs = append(probs, pr...)
	if !p.Options.ReduceOptions.Values && (wantType == "stat" || wantType == "bargauge") {
		probs = append(probs, fmt.Sprintf("panel %q: reduceOptions.values must be true (one value per row, and no value at all when no row is left)", p.Title))
	}
	return final, rep, probs
}

// timeGoneCase is a summary the "Where did the time go" panel must draw.
type timeGoneCase struct {
	name  string
	tiers []timeline.TierStat
	// titles are the bar labels wanted, one per tier in summary order.
	titles []string
}

// timeGoneCases have tiers with and without a configured colour (a Grafana
// colour name and #rrggbb), names any tier rule may give (spaces,
// parentheses, a dollar sign), and a trace without spans.
func timeGoneCases() []timeGoneCase {
	tiers := func(colors ...string) []timeline.TierStat {
		return []timeline.TierStat{
			{Tier: "edge", Color: colors[0], SelfNs: 12_500_000, Share: 0.4213},
			{Tier: "checkout api (v2)", Color: colors[1], SelfNs: 3_000_000, Share: 0.1},
			{Tier: "cache$1", Color: colors[2], SelfNs: 140_000, Share: 0.0049},
		}
	}
	titles := []string{"edge (42%)", "checkout api (v2) (10%)", "cache$1 (0%)"}
	return []timeGoneCase{
		{"with colours", tiers("purple", "", "#1f77b4"), titles},
		{"without colours", tiers("", "", ""), titles},
		{"no spans", nil, nil},
	}
}

// checkTimeGonePanel wants "Where did the time go" to draw one bar per tier
// of the summary frame, in its order: the tier's self time in ms, labelled
// "<tier> (<share>%)", in the tier's configured colour when the summary's
// color cell has one and in the panel's by-value scheme when it is null;
// with no tier, no bar and the panel's "No spans".
func checkTimeGonePanel(s *stack) []string {
	p, err := findPanel(s, timeGoneTitle)
	if err != nil {
		return []string{err.Error()}
	}
	var probs []string
	for _, c := range timeGoneCases() {
		m := &timeline.Model{Summary: &timeline.Summary{Tiers: c.tiers}}
		final, _, pr := replayPanel(p, "bargauge", models.QueryTypeTimeline, frameInput{model: m})
		probs = append(probs, pr...)
		if final == nil {
			return probs
		}
		got, err := bars(p.Options.ReduceOptions, final)
		if err != nil {
			probs = append(probs, fmt.Sprintf("panel %q: fields %q: %v", p.Title, p.Options.ReduceOptions.Fields, err))
			continue
		}
		var names, want []string
		for _, b := range got {
			names = append(names, b.Field.Name)
		}
		for _, t := range c.tiers {
			want = append(want, t.Tier)
		}
		if !slices.Equal(names, want) {
			probs = append(probs, fmt.Sprintf("panel %q (%s): draws bars of fields %q, want one bar per tier %q", p.Title, c.name, names, want))
			continue
		}
		if len(c.tiers) == 0 && p.FieldConfig.Defaults.NoValue != "No spans" {
			probs = append(probs, fmt.Sprintf("panel %q: a trace without spans shows %q, want \"No spans\"", p.Title, p.FieldConfig.Defaults.NoValue))
		}
		for i, b := range got {
			t := c.tiers[i]
			where := fmt.Sprintf("panel %q (%s), tier %q", p.Title, c.name, t.Tier)
			if ms, ok := b.Value.(float64); !ok || ms != float64(t.SelfNs)/1e6 {
				probs = append(probs, fmt.Sprintf("%s: bar value %v, want its selfTime %v ms", where, b.Value, float64(t.SelfNs)/1e6))
			}
			if b.Field.Unit != "ms" {
				probs = append(probs, fmt.Sprintf("%s: unit %q, want ms", where, b.Field.Unit))
			}
			if b.Title != c.titles[i] {
				probs = append(probs, fmt.Sprintf("%s: bar label %q, want %q (the tier and its share)", where, b.Title, c.titles[i]))
			}
			switch col := b.Field.Color; {
			case t.Color != "" && (col == nil || col.Mode != "fixed" || col.FixedColor != t.Color):
				probs = append(probs, fmt.Sprintf("%s: colour %+v, want the fixed colour %s its tier rule sets", where, col, t.Color))
			case t.Color == "" && (col == nil || !strings.HasPrefix(col.Mode, "continuous-")):
				probs = append(probs, fmt.Sprintf("%s: colour %+v, want the panel's by-value scheme (continuous-…) for a tier without a colour", where, col))
			}
		}
	}
	return probs
}

// checkFirstErrorPanel wants "First error" to read the firstError frame
// alone (the first-error row of the timeline, or no row) and show its name
// (a string: the stat panel shows only numeric fields unless "Fields"
// selects it), titled with its service and offset, and "No errors" when
// there is no row.
func checkFirstErrorPanel(s *stack) []string {
	p, err := findPanel(s, firstErrorTitle)
	if err != nil {
		return []string{err.Error()}
	}
	final, _, probs := replayPanel(p, "stat", models.QueryTypeTimeline, frameInput{})
	if final == nil {
		return probs
	}
	names, fields, err := selectedFields(p.Options.ReduceOptions, final)
	if err != nil {
		probs = append(probs, fmt.Sprintf("panel %q: fields %q: %v", p.Title, p.Options.ReduceOptions.Fields, err))
	}
	if len(final) != 1 || final[0].Name != frames.NameFirstError {
		var left []string
		for _, f := range final {
			left = append(left, f.Name)
		}
		probs = append(probs, fmt.Sprintf("panel %q: frames %q are left after the transformations, want only %s (rows of other frames would show up)", p.Title, left, frames.NameFirstError))
	}
	if !slices.Equal(names, []string{frames.NameFirstError + ".name"}) {
		return append(probs, fmt.Sprintf("panel %q shows fields %q, want only %s.name", p.Title, names, frames.NameFirstError))
	}
	probs = append(probs, checkTemplateRefs(p.Title, fields[0], final[0])...)
	for _, want := range []string{"service", "offset"} {
		if !strings.Contains(fields[0].DisplayName, "${__data.fields."+want+"}") {
			probs = append(probs, fmt.Sprintf("panel %q: title %q does not show the %s", p.Title, fields[0].DisplayName, want))
		}
	}
	// With no row left Grafana shows the defaults' no-value text, mapped
	// through a "null" special mapping when there is one.
	noErrors := p.FieldConfig.Defaults.NoValue == "No errors"
	for _, m := range p.FieldConfig.Defaults.Mappings {
		opts, _ := m["options"].(map[string]any)
		res, _ := opts["result"].(map[string]any)
		if m["type"] == "special" && opts["match"] == "null" {
			noErrors = res["text"] == "No errors"
		}
	}
	if !noErrors {
		probs = append(probs, fmt.Sprintf("panel %q does not read \"No errors\" when the trace has none", p.Title))
	}
	return probs
}

// provisionedLogSources are the log sources of the provisioned Traceweave
// datasource, in source order (Loki, then the topics): the per-source count
// columns of its search frame.
func provisionedLogSources(s *stack) ([]string, error) {
	settings, err := traceweaveSettings(s.datasources)
	if err != nil {
		return nil, err
	}
	var out []string
	if settings.Loki.URL != "" {
		out = append(out, timeline.SourceLoki)
	}
	for _, t := range settings.Kafka.Topics {
		out = append(out, timeline.KafkaSource(t.Name))
	}
	return out, nil
}

// checkSearchPanel wants "Recent error traces" to be a table of one
// Traceweave search, showing every column of the search frame (the per-source
// counts last, after the total), the trace ID first and linked to this
// dashboard with that trace and the time range, durations in ms.
func checkSearchPanel(s *stack) []string {
	p, err := findPanel(s, searchTitle)
	if err != nil {
		return []string{err.Error()}
	}
	sources, err := provisionedLogSources(s)
	if err != nil {
		return []string{err.Error()}
	}
	final, _, probs := replayPanel(p, "table", models.QueryTypeSearch, frameInput{logSources: sources})
	if final == nil {
		return probs
	}
	if len(final) != 1 || final[0].Name != frames.NameSearch {
		return append(probs, fmt.Sprintf("panel %q: want the %s frame alone after the transformations", p.Title, frames.NameSearch))
	}
	fr := final[0]
	var got []string
	byName := map[string]simField{}
	for _, f := range fr.Fields {
		got = append(got, f.Name)
		byName[f.Name] = f
	}
	var all []string
	for _, f := range pluginFrames([]string{frames.NameSearch}, frameInput{logSources: sources})[0].Fields {
		all = append(all, f.Name)
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(all))) {
		probs = append(probs, fmt.Sprintf("panel %q shows fields %q, want every field of the search frame %q", p.Title, got, all))
	}
	if len(got) == 0 || got[0] != "traceId" {
		probs = append(probs, fmt.Sprintf("panel %q: columns %q, want traceId first (the column to click)", p.Title, got))
	}
	if i := slices.Index(got, "logs"); i < 0 || !slices.Equal(got[i+1:], sources) {
		probs = append(probs, fmt.Sprintf("panel %q: columns %q, want the per-source counts %q right after logs, at the end", p.Title, got, sources))
	}
	wantURL := "/d/" + dashboardUID + "?var-traceId=${__value.raw}&${__url_time_range}"
	links := byName["traceId"].Links
	if len(links) == 0 || links[0].Title != "Investigate this trace" || links[0].URL != wantURL {
		probs = append(probs, fmt.Sprintf("panel %q: traceId links %+v, want first \"Investigate this trace\" to %s", p.Title, links, wantURL))
	}
	for _, f := range fr.Fields {
		for _, l := range f.Links {
			for _, m := range dataFieldRefRE.FindAllStringSubmatch(l.URL, -1) {
				if _, ok := byName[m[1]]; !ok {
					probs = append(probs, fmt.Sprintf("panel %q: link %q of %s uses ${__data.fields.%s}, which the search frame lacks", p.Title, l.Title, f.Name, m[1]))
				}
			}
		}
	}
	for _, name := range []string{"duration", "slowestTierSelfTime"} {
		if u := byName[name].Unit; u != "ms" {
			probs = append(probs, fmt.Sprintf("panel %q: %s unit %q, want ms", p.Title, name, u))
		}
	}
	return probs
}

func TestIncidentPanels(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkTimeGonePanel(s))
	noProblems(t, checkFirstErrorPanel(s))
	noProblems(t, checkSearchPanel(s))
}

// TestPluginFramesMatchPanels pins the frame layout the panels were written
// for, so a frame change in pkg/frames shows up here with the panel to fix.
func TestPluginFramesMatchPanels(t *testing.T) {
	frs := pluginFrames(append(slices.Clone(models.AllFrames), frames.NameSearch), frameInput{logSources: []string{timeline.SourceLoki}})
	var names []string
	for _, f := range frs {
		names = append(names, f.Name)
	}
	if want := []string{frames.NameTrace, frames.NameLogs, frames.NameTimeline, frames.NameSummary, frames.NameFirstError, frames.NameSearch}; !slices.Equal(names, want) {
		t.Fatalf("frames %q, want %q", names, want)
	}
	has := func(fr simFrame, name, typ string) bool {
		return slices.ContainsFunc(fr.Fields, func(f simField) bool { return f.Name == name && f.Type == typ })
	}
	for _, w := range []struct{ frame, field, typ string }{
		{frames.NameSummary, "tier", "string"}, {frames.NameSummary, "selfTime", "number"}, {frames.NameSummary, "share", "number"},
		{frames.NameSummary, "color", "string"},
		{frames.NameFirstError, "firstError", "boolean"}, {frames.NameFirstError, "service", "string"},
		{frames.NameFirstError, "name", "string"}, {frames.NameFirstError, "offset", "number"},
		{frames.NameSearch, "traceId", "string"}, {frames.NameSearch, "start", "time"}, {frames.NameSearch, "duration", "number"},
		{frames.NameSearch, "firstError", "string"}, {frames.NameSearch, "firstErrorTime", "time"},
		{frames.NameSearch, "slowestTierSelfTime", "number"}, {frames.NameSearch, "logs", "number"},
		{frames.NameSearch, timeline.SourceLoki, "number"},
	} {
		i := slices.IndexFunc(frs, func(f simFrame) bool { return f.Name == w.frame })
		if !has(frs[i], w.field, w.typ) {
			t.Errorf("frame %s has no %s field %s", w.frame, w.typ, w.field)
		}
	}
}

// panelSelections is the frame selection each Traceweave panel of the
// incident dashboard must make, by panel type: the frame its visualization
// reads and nothing more, so a dashboard open sends each frame once
// (the logs panel uses queryType logs, whose answer is the logs frame).
// A search's answer is its one frame whatever the panel.
var panelSelections = map[string][]string{
	"traces":   {frames.NameTrace},
	"logs":     {frames.NameLogs},
	"table":    {frames.NameTimeline},
	"stat":     {frames.NameFirstError},
	"bargauge": {frames.NameSummary},
}

// checkPanelSelections wants every Traceweave target to select exactly the
// frames of panelSelections.
func checkPanelSelections(s *stack) []string {
	var probs []string
	panels, _ := s.dashboard["panels"].([]any)
	for _, p := range panels {
		panel, _ := p.(map[string]any)
		typ, _ := panel["type"].(string)
		targets, _ := panel["targets"].([]any)
		for _, tg := range targets {
			target, _ := tg.(map[string]any)
			if dsUID(target["datasource"]) != traceweaveUID {
				continue
			}
			frs, err := targetFrames(target, frameInput{})
			if err != nil {
				probs = append(probs, fmt.Sprintf("panel %q: %v", panel["title"], err))
				continue
			}
			var got []string
			for _, f := range frs {
				got = append(got, f.Name)
			}
			want, ok := panelSelections[typ]
			if target["queryType"] == models.QueryTypeSearch {
				want, ok = []string{frames.NameSearch}, true
			}
			if !ok || !slices.Equal(got, want) {
				probs = append(probs, fmt.Sprintf("panel %q (%s) gets frames %q, want %q", panel["title"], typ, got, want))
			}
		}
	}
	return probs
}

func TestPanelsSelectTheirFrames(t *testing.T) {
	noProblems(t, checkPanelSelections(loadStack(t)))
}

// TestPanelChecksCatchMistakes breaks in-memory copies of the panels, one
// mistake each, including the display-name trap.
func TestPanelChecksCatchMistakes(t *testing.T) {
	panel := func(s *stack, title string) map[string]any {
		for _, p := range s.dashboard["panels"].([]any) {
			if m := p.(map[string]any); m["title"] == title {
				return m
			}
		}
		t.Fatalf("no panel %q", title)
		return nil
	}
	transforms := func(s *stack, title string) []any { return panel(s, title)["transformations"].([]any) }
	target := func(s *stack, title string) map[string]any {
		return panel(s, title)["targets"].([]any)[0].(map[string]any)
	}
	// transform returns the options of the panel's transformation with id.
	transform := func(s *stack, title, id string) map[string]any {
		for _, tr := range transforms(s, title) {
			if m := tr.(map[string]any); m["id"] == id {
				return m["options"].(map[string]any)
			}
		}
		t.Fatalf("panel %q has no %s transformation", title, id)
		return nil
	}
	override := func(s *stack, title, field string) map[string]any {
		for _, o := range panel(s, title)["fieldConfig"].(map[string]any)["overrides"].([]any) {
			if m := o.(map[string]any); m["matcher"].(map[string]any)["options"] == field {
				return m
			}
		}
		t.Fatalf("panel %q has no override of %s", title, field)
		return nil
	}
	cases := []struct {
		name   string
		mutate func(s *stack)
		check  func(s *stack) []string
		want   string
	}{
		{"stat on the timeline frame", func(s *stack) {
			target(s, firstErrorTitle)["frames"] = []any{"timeline"}
		}, checkFirstErrorPanel, "want only firstError"},
		{"stat without a frame selection", func(s *stack) {
			delete(target(s, firstErrorTitle), "frames")
		}, checkPanelSelections, `gets frames ["trace" "logs" "timeline" "summary"], want ["firstError"]`},
		{"trace view asking for everything", func(s *stack) {
			target(s, "Trace ${traceId}")["frames"] = []any{"trace", "logs"}
		}, checkPanelSelections, `want ["trace"]`},
		{"unknown frame", func(s *stack) {
			target(s, timeGoneTitle)["frames"] = []any{"summaries"}
		}, checkTimeGonePanel, `unknown frame "summaries"`},
		{"stat on numeric fields", func(s *stack) {
			panel(s, firstErrorTitle)["options"].(map[string]any)["reduceOptions"].(map[string]any)["fields"] = ""
		}, checkFirstErrorPanel, "want only firstError.name"},
		{"stat fields by raw name", func(s *stack) {
			panel(s, firstErrorTitle)["options"].(map[string]any)["reduceOptions"].(map[string]any)["fields"] = "/^name$/"
		}, checkFirstErrorPanel, "want only firstError.name"},
		{"rows not turned into fields", func(s *stack) {
			p := panel(s, timeGoneTitle)
			p["transformations"] = slices.DeleteFunc(slices.Clone(transforms(s, timeGoneTitle)), func(tr any) bool {
				return tr.(map[string]any)["id"] == "rowsToFields"
			})
		}, checkTimeGonePanel, "want one bar per tier"},
		{"share label filtered out", func(s *stack) {
			transform(s, timeGoneTitle, "filterFieldsByName")["include"] = map[string]any{"names": []any{"tier", "selfTime", "color"}}
		}, checkTimeGonePanel, `bar label "edge (%)"`},
		{"share not rounded", func(s *stack) {
			transform(s, timeGoneTitle, "filterFieldsByName")["include"] = map[string]any{"names": []any{"tier", "selfTime", "sharePercentExact", "color"}}
			fc := panel(s, timeGoneTitle)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)
			fc["displayName"] = "${__field.name} (${__field.labels.sharePercentExact}%)"
		}, checkTimeGonePanel, `bar label "edge (42.13%)"`},
		{"bars labelled by Grafana's default name", func(s *stack) {
			delete(panel(s, timeGoneTitle)["fieldConfig"].(map[string]any)["defaults"].(map[string]any), "displayName")
		}, checkTimeGonePanel, `bar label "edge 42"`},
		{"colour column filtered out", func(s *stack) {
			transform(s, timeGoneTitle, "filterFieldsByName")["include"] = map[string]any{"names": []any{"tier", "selfTime", "sharePercent"}}
		}, checkTimeGonePanel, "want the fixed colour purple"},
		{"one fixed colour for every tier", func(s *stack) {
			fc := panel(s, timeGoneTitle)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)
			fc["color"] = map[string]any{"mode": "fixed", "fixedColor": "blue"}
		}, checkTimeGonePanel, "want the panel's by-value scheme"},
		{"bars without a unit", func(s *stack) {
			delete(panel(s, timeGoneTitle)["fieldConfig"].(map[string]any)["defaults"].(map[string]any), "unit")
		}, checkTimeGonePanel, `unit "", want ms`},
		{"bar gauge on the logs query", func(s *stack) {
			target(s, timeGoneTitle)["queryType"] = "logs"
		}, checkTimeGonePanel, "queryType timeline"},
		{"search panel back on Tempo", func(s *stack) {
			p := panel(s, searchTitle)
			p["targets"] = []any{map[string]any{"refId": "A", "datasource": map[string]any{"type": "tempo", "uid": "tempo"}, "queryType": "traceql", "query": "{ status = error }"}}
		}, checkSearchPanel, "with queryType search"},
		{"search without TraceQL", func(s *stack) {
			delete(target(s, searchTitle), "traceql")
		}, checkSearchPanel, "a search needs a TraceQL query"},
		{"search asking for the timeline frame", func(s *stack) {
			target(s, searchTitle)["frames"] = []any{"timeline"}
		}, checkPanelSelections, `returns only the "search" frame`},
		{"organize key of another frame", func(s *stack) {
			transform(s, searchTitle, "organize")["indexByName"].(map[string]any)["traceID"] = 0
		}, checkSearchPanel, `"traceID" names no field`},
		{"a per-source column hidden", func(s *stack) {
			transform(s, searchTitle, "organize")["excludeByName"] = map[string]any{"kafka:audit": true}
		}, checkSearchPanel, "want every field of the search frame"},
		{"trace ID not first", func(s *stack) {
			transform(s, searchTitle, "organize")["indexByName"].(map[string]any)["traceId"] = 99
		}, checkSearchPanel, "want traceId first"},
		{"investigate link lost", func(s *stack) {
			o := override(s, searchTitle, "traceId")
			o["properties"] = o["properties"].([]any)[1:]
		}, checkSearchPanel, `want first "Investigate this trace"`},
		{"override of a field the search frame lacks", func(s *stack) {
			override(s, searchTitle, "duration")["matcher"].(map[string]any)["options"] = "durationMs"
		}, checkSearchPanel, "durationMs matches no field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := loadStack(t)
			for _, p := range tc.check(s) {
				if strings.Contains(p, tc.want) {
					t.Fatalf("the unmodified dashboard already has %q", p)
				}
			}
			tc.mutate(s)
			probs := tc.check(s)
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", tc.want, probs)
		})
	}
}
