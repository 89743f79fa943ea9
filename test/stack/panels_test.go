package stack

// The incident panels ("First error", "Where did the time go") each select
// the one frame they show (the query's "frames", docs/DESIGN.md "Frames"):
// Grafana has no dashboard transformation that picks a frame by name, and a
// query returning several frames changes the display names the panels match
// (with frames of different names a field's display name is
// "<frame> <field>", and filterByValue, regex field filters and the stat/bar
// gauge "Fields" option match display names). These checks build the frames
// a panel's target selects with the plugin's own builders (pkg/frames) and
// replay the panel's transformations and field selection on them, as
// Grafana 13.2.3's @grafana/data implements them (fieldState.ts, filter.ts,
// filterByValue.ts, convertFieldType.ts, fieldDisplay.ts).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
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
)

// simField is what the checks need of a field: name, Grafana type, unit and
// the displayName an override gives it.
type simField struct {
	Name, Type, Unit, DisplayName string
}

type simFrame struct {
	Name   string
	Fields []simField
}

// targetFrames returns the frames the plugin answers a panel target with:
// the target's frame selection as models.ParseQuery reads it (a timeline
// query without one gets the four default frames, in their order).
func targetFrames(target map[string]any) ([]simFrame, error) {
	raw, err := json.Marshal(target)
	if err != nil {
		return nil, err
	}
	raw = bytes.ReplaceAll(raw, []byte("${traceId}"), []byte(sampleTraceID))
	q, err := models.ParseQuery(raw, "")
	if err != nil {
		return nil, err
	}
	return pluginFrames(q.Frames), nil
}

// pluginFrames returns the named frames as the plugin builds them.
func pluginFrames(names []string) []simFrame {
	m := &timeline.Model{}
	opts := frames.Options{DatasourceUID: traceweaveUID}
	var out []simFrame
	for _, name := range names {
		f := frames.Build(name, m, opts)
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
			unit := ""
			if fld.Config != nil {
				unit = fld.Config.Unit
			}
			sf.Fields = append(sf.Fields, simField{Name: fld.Name, Type: typ, Unit: unit})
		}
		out = append(out, sf)
	}
	return out
}

// displayName follows @grafana/data calculateFieldDisplayName for fields
// without labels: a configured displayName wins; otherwise the frame name is
// prefixed when the frames' names differ.
func displayName(f simField, fr simFrame, all []simFrame) string {
	if f.DisplayName != "" {
		return f.DisplayName
	}
	if f.Type == "time" {
		return f.Name
	}
	for i := 1; i < len(all); i++ {
		if all[i].Name != all[i-1].Name && fr.Name != "" {
			return fr.Name + " " + f.Name
		}
	}
	return f.Name
}

var jsRegexRE = regexp.MustCompile(`^/(.*?)/([gimys]*)$`)

// grafanaRegex follows stringToJsRegex: "/re/flags" is a regex, anything else
// must match whole. Patterns JavaScript has and RE2 lacks (lookaround) fail.
func grafanaRegex(p string) (*regexp.Regexp, error) {
	m := jsRegexRE.FindStringSubmatch(p)
	if m == nil {
		return regexp.Compile("^" + p + "$")
	}
	flags := ""
	for _, f := range m[2] {
		if strings.ContainsRune("ims", f) {
			flags += string(f)
		}
	}
	if flags != "" {
		flags = "(?" + flags + ")"
	}
	return regexp.Compile(flags + m[1])
}

// transformation is one entry of a panel's "transformations".
type transformation struct {
	ID      string          `json:"id"`
	Options json.RawMessage `json:"options"`
	Filter  any             `json:"filter"`
}

// valueFilter is one filterByValue condition, resolved against the frames.
type valueFilter struct {
	FieldName string
	Matcher   string
	Value     any
	Resolved  []string // "<frame>.<field>" of each frame where the name resolves
	Types     []string
}

// panelReplay is the outcome of running a panel's transformations.
type panelReplay struct {
	Frames  []simFrame
	Filters []valueFilter
}

// replayTransformations applies the transformations these panels use; any
// other one is reported, since its effect is not modelled here.
func replayTransformations(ts []transformation, in []simFrame) (panelReplay, []string) {
	var probs []string
	cur := slices.Clone(in)
	var filters []valueFilter
	for _, tr := range ts {
		if tr.Filter != nil {
			probs = append(probs, fmt.Sprintf("transformation %s: per-frame filter is not modelled by this check", tr.ID))
		}
		switch tr.ID {
		case "filterFieldsByName":
			var o struct {
				Include *struct {
					Names   []string `json:"names"`
					Pattern string   `json:"pattern"`
				} `json:"include"`
				Exclude any `json:"exclude"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil || o.Include == nil || o.Exclude != nil {
				probs = append(probs, fmt.Sprintf("filterFieldsByName: only include by names/pattern is modelled (%v)", err))
				continue
			}
			var re *regexp.Regexp
			if o.Include.Pattern != "" {
				var err error
				if re, err = grafanaRegex(o.Include.Pattern); err != nil {
					probs = append(probs, fmt.Sprintf("filterFieldsByName pattern %q: %v", o.Include.Pattern, err))
					continue
				}
			}
			var next []simFrame
			for _, fr := range cur {
				kept := simFrame{Name: fr.Name}
				for _, f := range fr.Fields {
					dn := displayName(f, fr, cur)
					byName := slices.Contains(o.Include.Names, f.Name) || slices.Contains(o.Include.Names, dn)
					if byName || (re != nil && re.MatchString(dn)) {
						kept.Fields = append(kept.Fields, f)
					}
				}
				if len(kept.Fields) > 0 { // a frame left without fields is dropped
					next = append(next, kept)
				}
			}
			cur = next
		case "convertFieldType":
			var o struct {
				Conversions []struct {
					TargetField     string `json:"targetField"`
					DestinationType string `json:"destinationType"`
				} `json:"conversions"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil {
				probs = append(probs, fmt.Sprintf("convertFieldType: %v", err))
				continue
			}
			for _, c := range o.Conversions {
				for i := range cur {
					for j, f := range cur[i].Fields {
						if c.TargetField == f.Name || c.TargetField == displayName(f, cur[i], cur) {
							cur[i].Fields[j].Type = c.DestinationType
						}
					}
				}
			}
		case "filterByValue":
			var o struct {
				Type    string `json:"type"`
				Filters []struct {
					FieldName string `json:"fieldName"`
					Config    struct {
						ID      string `json:"id"`
						Options struct {
							Value any `json:"value"`
						} `json:"options"`
					} `json:"config"`
				} `json:"filters"`
			}
			if err := json.Unmarshal(tr.Options, &o); err != nil {
				probs = append(probs, fmt.Sprintf("filterByValue: %v", err))
				continue
			}
			if o.Type != "include" {
				probs = append(probs, fmt.Sprintf("filterByValue: type %q, only include is modelled", o.Type))
			}
			// Rows are filtered, frames and fields stay: only record where
			// each condition's field name resolves (by display name).
			for _, f := range o.Filters {
				vf := valueFilter{FieldName: f.FieldName, Matcher: f.Config.ID, Value: f.Config.Options.Value}
				for _, fr := range cur {
					for _, fld := range fr.Fields {
						if displayName(fld, fr, cur) == f.FieldName {
							vf.Resolved = append(vf.Resolved, fr.Name+"."+fld.Name)
							vf.Types = append(vf.Types, fld.Type)
						}
					}
				}
				filters = append(filters, vf)
			}
		default:
			probs = append(probs, fmt.Sprintf("transformation %s is not modelled by this check", tr.ID))
		}
	}
	return panelReplay{Frames: cur, Filters: filters}, probs
}

// panelFieldConfig is the part of fieldConfig the replay applies.
type panelFieldConfig struct {
	Defaults struct {
		NoValue  string           `json:"noValue"`
		Unit     string           `json:"unit"`
		Mappings []map[string]any `json:"mappings"`
	} `json:"defaults"`
	Overrides []struct {
		Matcher struct {
			ID      string `json:"id"`
			Options any    `json:"options"`
		} `json:"matcher"`
		Properties []struct {
			ID    string `json:"id"`
			Value any    `json:"value"`
		} `json:"properties"`
	} `json:"overrides"`
}

// applyOverrides sets unit and displayName from byName overrides (matched by
// name or display name, before the new displayName takes effect).
func applyOverrides(fc panelFieldConfig, in []simFrame) ([]simFrame, []string) {
	var probs []string
	out := make([]simFrame, len(in))
	for i, fr := range in {
		out[i] = simFrame{Name: fr.Name, Fields: slices.Clone(fr.Fields)}
		for j, f := range fr.Fields {
			if f.Unit == "" {
				out[i].Fields[j].Unit = fc.Defaults.Unit
			}
			for _, o := range fc.Overrides {
				name, _ := o.Matcher.Options.(string)
				if o.Matcher.ID != "byName" {
					probs = append(probs, fmt.Sprintf("override matcher %s is not modelled by this check", o.Matcher.ID))
					continue
				}
				if name != f.Name && name != displayName(f, fr, in) {
					continue
				}
				for _, p := range o.Properties {
					v, _ := p.Value.(string)
					switch p.ID {
					case "displayName":
						out[i].Fields[j].DisplayName = v
					case "unit":
						out[i].Fields[j].Unit = v
					}
				}
			}
		}
	}
	return out, probs
}

// reduceOptions is the stat/bar gauge "Value options".
type reduceOptions struct {
	Values bool   `json:"values"`
	Fields string `json:"fields"`
	Limit  int    `json:"limit"`
}

// selectedFields follows getFieldDisplayValues: with no "fields" pattern only
// numeric fields are shown; otherwise fields whose display name matches.
func selectedFields(ro reduceOptions, frs []simFrame) ([]string, []simField, error) {
	var re *regexp.Regexp
	if ro.Fields != "" {
		var err error
		if re, err = grafanaRegex(ro.Fields); err != nil {
			return nil, nil, err
		}
	}
	var names []string
	var fields []simField
	for _, fr := range frs {
		for _, f := range fr.Fields {
			ok := f.Type == "number"
			if re != nil {
				ok = re.MatchString(displayName(f, fr, frs))
			}
			if ok {
				names = append(names, fr.Name+"."+f.Name)
				fields = append(fields, f)
			}
		}
	}
	return names, fields, nil
}

var dataFieldRefRE = regexp.MustCompile(`\$\{__data\.fields\.([A-Za-z0-9_]+)(?::[a-z]+)?\}`)

// checkTemplateRefs wants every ${__data.fields.X} of a display name to be a
// field of the frame the row comes from (else Grafana renders it empty).
func checkTemplateRefs(title string, f simField, fr simFrame) []string {
	var probs []string
	for _, m := range dataFieldRefRE.FindAllStringSubmatch(f.DisplayName, -1) {
		if !slices.ContainsFunc(fr.Fields, func(x simField) bool { return x.Name == m[1] }) {
			probs = append(probs, fmt.Sprintf("panel %q: display name %q uses ${__data.fields.%s}, which is not a field of frame %s after the transformations", title, f.DisplayName, m[1], fr.Name))
		}
	}
	return probs
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

// replayPanel runs transformations, overrides and field selection on the
// frames the panel's one Traceweave timeline target selects
// (checkDashboard validates the target itself).
func replayPanel(p *incidentPanel, wantType string) ([]simFrame, panelReplay, []string, []simField, []string) {
	var probs []string
	if p.Type != wantType {
		probs = append(probs, fmt.Sprintf("panel %q is a %s, want %s", p.Title, p.Type, wantType))
	}
	if len(p.Targets) != 1 || p.Targets[0]["queryType"] != "timeline" || dsUID(p.Targets[0]["datasource"]) != traceweaveUID {
		probs = append(probs, fmt.Sprintf("panel %q: want one target of datasource uid %s with queryType timeline (the query that returns the summary)", p.Title, traceweaveUID))
		return nil, panelReplay{}, nil, nil, probs
	}
	in, err := targetFrames(p.Targets[0])
	if err != nil {
		return nil, panelReplay{}, nil, nil, append(probs, fmt.Sprintf("panel %q: target rejected by models.ParseQuery: %v", p.Title, err))
	}
	rep, pr := replayTransformations(p.Transformations, in)
	probs = append(probs, pr...)
	final, pr := applyOverrides(p.FieldConfig, rep.Frames)
	probs = append(probs, pr...)
	names, fields, err := selectedFields(p.Options.ReduceOptions, final)
	if err != nil {
		probs = append(probs, fmt.Sprintf("panel %q: fields %q: %v", p.Title, p.Options.ReduceOptions.Fields, err))
	}
	if !p.Options.ReduceOptions.Values {
		probs = append(probs, fmt.Sprintf("panel %q: reduceOptions.values must be true (one value per row, and no value at all when no row is left)", p.Title))
	}
	return final, rep, names, fields, probs
}

// checkTimeGonePanel wants "Where did the time go" to draw exactly one bar
// field, the summary frame's selfTime in ms, labelled from fields of the
// summary frame (tier, share).
func checkTimeGonePanel(s *stack) []string {
	p, err := findPanel(s, timeGoneTitle)
	if err != nil {
		return []string{err.Error()}
	}
	final, _, names, fields, probs := replayPanel(p, "bargauge")
	if !slices.Equal(names, []string{frames.NameSummary + ".selfTime"}) {
		return append(probs, fmt.Sprintf("panel %q draws fields %q, want only %s.selfTime", p.Title, names, frames.NameSummary))
	}
	if fields[0].Unit != "ms" {
		probs = append(probs, fmt.Sprintf("panel %q: selfTime unit %q, want ms", p.Title, fields[0].Unit))
	}
	i := slices.IndexFunc(final, func(f simFrame) bool { return f.Name == frames.NameSummary })
	if i < 0 {
		return append(probs, fmt.Sprintf("panel %q: no summary frame left", p.Title))
	}
	fr := final[i]
	probs = append(probs, checkTemplateRefs(p.Title, fields[0], fr)...)
	for _, want := range []string{"tier", "share"} {
		if !strings.Contains(fields[0].DisplayName, "${__data.fields."+want+"}") {
			probs = append(probs, fmt.Sprintf("panel %q: bar label %q does not show the %s", p.Title, fields[0].DisplayName, want))
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
	final, _, names, fields, probs := replayPanel(p, "stat")
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

func TestIncidentPanels(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkTimeGonePanel(s))
	noProblems(t, checkFirstErrorPanel(s))
}

// TestPluginFramesMatchPanels pins the frame layout the panels were written
// for, so a frame change in pkg/frames shows up here with the panel to fix.
func TestPluginFramesMatchPanels(t *testing.T) {
	frs := pluginFrames(models.AllFrames)
	var names []string
	for _, f := range frs {
		names = append(names, f.Name)
	}
	if want := []string{frames.NameTrace, frames.NameLogs, frames.NameTimeline, frames.NameSummary, frames.NameFirstError}; !slices.Equal(names, want) {
		t.Fatalf("frames %q, want %q", names, want)
	}
	has := func(fr simFrame, name, typ string) bool {
		return slices.ContainsFunc(fr.Fields, func(f simField) bool { return f.Name == name && f.Type == typ })
	}
	for _, w := range []struct{ frame, field, typ string }{
		{frames.NameSummary, "tier", "string"}, {frames.NameSummary, "selfTime", "number"}, {frames.NameSummary, "share", "number"},
		{frames.NameFirstError, "firstError", "boolean"}, {frames.NameFirstError, "service", "string"},
		{frames.NameFirstError, "name", "string"}, {frames.NameFirstError, "offset", "number"},
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
			frs, err := targetFrames(target)
			if err != nil {
				probs = append(probs, fmt.Sprintf("panel %q: %v", panel["title"], err))
				continue
			}
			var got []string
			for _, f := range frs {
				got = append(got, f.Name)
			}
			if want, ok := panelSelections[typ]; !ok || !slices.Equal(got, want) {
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
	cases := []struct {
		name   string
		mutate func(s *stack)
		check  func(s *stack) []string
		want   string
	}{
		{"stat on the timeline frame", func(s *stack) {
			panel(s, firstErrorTitle)["targets"].([]any)[0].(map[string]any)["frames"] = []any{"timeline"}
		}, checkFirstErrorPanel, "want only firstError"},
		{"stat without a frame selection", func(s *stack) {
			delete(panel(s, firstErrorTitle)["targets"].([]any)[0].(map[string]any), "frames")
		}, checkPanelSelections, `gets frames ["trace" "logs" "timeline" "summary"], want ["firstError"]`},
		{"trace view asking for everything", func(s *stack) {
			panel(s, "Trace ${traceId}")["targets"].([]any)[0].(map[string]any)["frames"] = []any{"trace", "logs"}
		}, checkPanelSelections, `want ["trace"]`},
		{"unknown frame", func(s *stack) {
			panel(s, timeGoneTitle)["targets"].([]any)[0].(map[string]any)["frames"] = []any{"summaries"}
		}, checkTimeGonePanel, `unknown frame "summaries"`},
		{"stat on numeric fields", func(s *stack) {
			panel(s, firstErrorTitle)["options"].(map[string]any)["reduceOptions"].(map[string]any)["fields"] = ""
		}, checkFirstErrorPanel, "want only firstError.name"},
		{"stat fields by raw name", func(s *stack) {
			panel(s, firstErrorTitle)["options"].(map[string]any)["reduceOptions"].(map[string]any)["fields"] = "/^name$/"
		}, checkFirstErrorPanel, "want only firstError.name"},
		{"share drawn as a bar", func(s *stack) {
			p := panel(s, timeGoneTitle)
			p["transformations"] = transforms(s, timeGoneTitle)[:1]
		}, checkTimeGonePanel, "want only summary.selfTime"},
		{"label field filtered out", func(s *stack) {
			opts := transforms(s, timeGoneTitle)[0].(map[string]any)["options"].(map[string]any)
			opts["include"] = map[string]any{"names": []any{"selfTime", "share", "services"}}
		}, checkTimeGonePanel, "${__data.fields.tier}"},
		{"bar gauge on the logs query", func(s *stack) {
			panel(s, timeGoneTitle)["targets"].([]any)[0].(map[string]any)["queryType"] = "logs"
		}, checkTimeGonePanel, "queryType timeline"},
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
