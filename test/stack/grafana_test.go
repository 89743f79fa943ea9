package stack

// A model of what Grafana 13.2.3 does to a panel's frames, for the panel
// checks (panels_test.go): the transformations the provisioned dashboard
// uses, field config defaults and overrides, and the values a stat or bar
// gauge draws. It follows @grafana/data (fieldState.ts, filter.ts,
// filterByValue.ts, convertFieldType.ts, calculateField.ts, organize.ts,
// fieldOverrides.ts, fieldDisplay.ts) and the app's "Rows to fields"
// (public/app/features/transformers/rowsToFields, fieldToConfigMapping.ts).
// A transformation, operator, handler or matcher it does not model is
// reported as a problem rather than skipped, so a check cannot pass on a
// panel it cannot read; field config it does not model (a table column's
// width) is ignored.

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// simField is what the checks need of a field: name, Grafana type, unit, the
// displayName the config gives it, its cells, labels, colour and links.
type simField struct {
	Name, Type, Unit, DisplayName string
	// Values are the cells, numbers as float64 (JavaScript's one number
	// type) and nil for a null cell; a frame of an empty model has none.
	Values []any
	// Labels are what "Rows to fields" makes of the columns it maps to labels.
	Labels map[string]any
	// Color is the field config's colour; nil while none is set.
	Color *simColor
	Links []simLink
}

// simColor is a field config's "color".
type simColor struct {
	Mode       string `json:"mode"`
	FixedColor string `json:"fixedColor"`
}

// simLink is one data link of a field config.
type simLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

type simFrame struct {
	Name   string
	Fields []simField
}

// cloneFrames copies frames deeply enough that a transformation can change
// their fields without changing its input.
func cloneFrames(in []simFrame) []simFrame {
	out := make([]simFrame, len(in))
	for i, fr := range in {
		out[i] = simFrame{Name: fr.Name, Fields: slices.Clone(fr.Fields)}
	}
	return out
}

// jsString follows JavaScript's String(v) for the cell types these panels
// meet (a name, a label or a colour taken from a cell).
func jsString(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case float64:
		if math.IsNaN(v) {
			return "NaN"
		}
		// Shortest round-tripping digits, as JavaScript writes numbers
		// between 1e-6 and 1e21.
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return strconv.FormatInt(v.UnixMilli(), 10) // Grafana holds times as epoch ms
	}
	return fmt.Sprint(v)
}

// jsNumber follows JavaScript's arithmetic coercion of a cell: null is 0.
func jsNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case nil:
		return 0, true
	case float64:
		return v, true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// displayName follows @grafana/data calculateFieldDisplayName: a configured
// displayName wins; otherwise the frame name is prefixed when the frames'
// names differ, and a field's labels follow its name (the value alone when
// every labelled field has the one same label, else {k="v", …}).
func displayName(f simField, fr simFrame, all []simFrame) string {
	if f.DisplayName != "" {
		return f.DisplayName
	}
	if f.Type == "time" && f.Labels == nil {
		return f.Name
	}
	var parts []string
	for i := 1; i < len(all); i++ {
		if all[i].Name != all[i-1].Name && fr.Name != "" {
			parts = append(parts, fr.Name)
			break
		}
	}
	parts = append(parts, f.Name)
	if f.Labels != nil {
		if single := singleLabelName(all); single != "" {
			if v, ok := f.Labels[single]; ok && v != nil && v != "" && v != 0.0 && v != false { // JavaScript truthiness
				parts = append(parts, jsString(v))
			}
		} else if len(f.Labels) > 0 {
			var kv []string
			for _, k := range sortedKeys(f.Labels) {
				kv = append(kv, k+`="`+jsString(f.Labels[k])+`"`)
			}
			parts = append(parts, "{"+strings.Join(kv, ", ")+"}")
		}
	}
	return strings.Join(parts, " ")
}

// singleLabelName follows getSingleLabelName: the one label name every
// labelled field of the frames has, or "" when they have several.
func singleLabelName(frs []simFrame) string {
	single := ""
	for _, fr := range frs {
		for _, f := range fr.Fields {
			for k := range f.Labels {
				if single == "" {
					single = k
				} else if k != single {
					return ""
				}
			}
		}
	}
	return single
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
	cur := cloneFrames(in)
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
			cur = keepFields(cur, func(f simField, dn string) bool {
				return slices.Contains(o.Include.Names, f.Name) || slices.Contains(o.Include.Names, dn) || (re != nil && re.MatchString(dn))
			})
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
						if c.TargetField != f.Name && c.TargetField != displayName(f, cur[i], cur) {
							continue
						}
						cur[i].Fields[j].Type = c.DestinationType
						if c.DestinationType == "string" && f.Values != nil { // `${v}` of each cell
							vals := make([]any, len(f.Values))
							for k, v := range f.Values {
								vals[k] = jsString(v)
							}
							cur[i].Fields[j].Values = vals
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
		case "calculateField":
			var pr []string
			cur, pr = calculateField(tr.Options, cur)
			probs = append(probs, pr...)
		case "rowsToFields":
			var pr []string
			cur, pr = rowsToFields(tr.Options, cur)
			probs = append(probs, pr...)
		case "organize":
			var pr []string
			cur, pr = organize(tr.Options, cur)
			probs = append(probs, pr...)
		default:
			probs = append(probs, fmt.Sprintf("transformation %s is not modelled by this check", tr.ID))
		}
	}
	return panelReplay{Frames: cur, Filters: filters}, probs
}

// keepFields keeps the fields keep accepts (given the field and its display
// name); a frame left without fields is dropped, as filterFieldsByName does.
func keepFields(frs []simFrame, keep func(f simField, displayName string) bool) []simFrame {
	var next []simFrame
	for _, fr := range frs {
		kept := simFrame{Name: fr.Name}
		for _, f := range fr.Fields {
			if keep(f, displayName(f, fr, frs)) {
				kept.Fields = append(kept.Fields, f)
			}
		}
		if len(kept.Fields) > 0 {
			next = append(next, kept)
		}
	}
	return next
}

// binaryOperand is one side of a calculateField binary operation: a field by
// name or a fixed number (the older options wrote either as a bare string).
type binaryOperand struct {
	Fixed   *string `json:"fixed"`
	Matcher *struct {
		ID      string `json:"id"`
		Options string `json:"options"`
	} `json:"matcher"`
}

func (b *binaryOperand) UnmarshalJSON(raw []byte) error {
	var bare string
	if json.Unmarshal(raw, &bare) == nil {
		if _, err := strconv.ParseFloat(bare, 64); err == nil {
			b.Fixed = &bare
		} else {
			b.Matcher = &struct {
				ID      string `json:"id"`
				Options string `json:"options"`
			}{"byName", bare}
		}
		return nil
	}
	type plain binaryOperand
	return json.Unmarshal(raw, (*plain)(b))
}

// label is how calculateField names an operand in a default field name.
func (b binaryOperand) label() string {
	if b.Matcher != nil {
		return b.Matcher.Options
	}
	if b.Fixed != nil {
		return *b.Fixed
	}
	return ""
}

// values are the operand's numbers for each row of fr, false when it names
// no field of fr (the frame is then left as it is).
func (b binaryOperand) values(fr simFrame, all []simFrame) ([]float64, bool, error) {
	if b.Matcher != nil && b.Matcher.ID == "byName" {
		for _, f := range fr.Fields {
			if displayName(f, fr, all) != b.Matcher.Options {
				continue
			}
			out := make([]float64, len(f.Values))
			for i, v := range f.Values {
				n, ok := jsNumber(v)
				if !ok {
					return nil, false, fmt.Errorf("field %q holds %T, which this check does not do arithmetic on", f.Name, v)
				}
				out[i] = n
			}
			return out, true, nil
		}
	}
	if b.Matcher != nil && b.Matcher.ID != "byName" {
		return nil, false, fmt.Errorf("operand matcher %s is not modelled by this check", b.Matcher.ID)
	}
	if b.Fixed == nil {
		return nil, false, nil
	}
	n, err := strconv.ParseFloat(*b.Fixed, 64)
	if err != nil {
		return nil, false, nil
	}
	out := make([]float64, rowCount(fr))
	for i := range out {
		out[i] = n
	}
	return out, true, nil
}

func rowCount(fr simFrame) int {
	if len(fr.Fields) == 0 {
		return 0
	}
	return len(fr.Fields[0].Values)
}

// calculateField adds a field computed row by row, the binary (+ - * /) and
// unary (abs, round, floor, ceil) modes. The new field is named by its alias
// (which 13.2.3 also sets as its displayName) and appended to the frame.
func calculateField(raw json.RawMessage, frs []simFrame) ([]simFrame, []string) {
	var o struct {
		Mode          string `json:"mode"`
		Alias         string `json:"alias"`
		ReplaceFields bool   `json:"replaceFields"`
		Binary        *struct {
			Left     binaryOperand `json:"left"`
			Operator string        `json:"operator"`
			Right    binaryOperand `json:"right"`
		} `json:"binary"`
		Unary *struct {
			Operator  string `json:"operator"`
			FieldName string `json:"fieldName"`
		} `json:"unary"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return frs, []string{fmt.Sprintf("calculateField: %v", err)}
	}
	if o.ReplaceFields {
		return frs, []string{"calculateField: replaceFields is not modelled by this check"}
	}
	if len(frs) > 1 {
		// Without a fixed right operand, frames sharing a time field are joined first.
		return frs, []string{"calculateField over several frames is not modelled by this check"}
	}
	var compute func(fr simFrame) ([]float64, bool, error)
	name := o.Alias
	switch {
	case o.Mode == "binary" && o.Binary != nil:
		ops := map[string]func(a, b float64) float64{
			"+": func(a, b float64) float64 { return a + b },
			"-": func(a, b float64) float64 { return a - b },
			"*": func(a, b float64) float64 { return a * b },
			"/": func(a, b float64) float64 { return a / b },
		}
		op, ok := ops[o.Binary.Operator]
		if !ok {
			return frs, []string{fmt.Sprintf("calculateField: operator %q is not modelled by this check", o.Binary.Operator)}
		}
		if name == "" {
			name = strings.ReplaceAll(o.Binary.Left.label()+" "+o.Binary.Operator+" "+o.Binary.Right.label(), "$", "")
		}
		compute = func(fr simFrame) ([]float64, bool, error) {
			l, okL, err := o.Binary.Left.values(fr, frs)
			if err != nil || !okL {
				return nil, false, err
			}
			r, okR, err := o.Binary.Right.values(fr, frs)
			if err != nil || !okR {
				return nil, false, err
			}
			out := make([]float64, len(l))
			for i := range l {
				out[i] = op(l[i], r[i])
			}
			return out, true, nil
		}
	case o.Mode == "unary" && o.Unary != nil:
		ops := map[string]func(float64) float64{
			"abs":   math.Abs,
			"round": func(x float64) float64 { return math.Floor(x + 0.5) }, // Math.round: halves up
			"floor": math.Floor,
			"ceil":  math.Ceil,
		}
		op, ok := ops[o.Unary.Operator]
		if !ok {
			return frs, []string{fmt.Sprintf("calculateField: unary %q is not modelled by this check", o.Unary.Operator)}
		}
		if name == "" {
			name = o.Unary.Operator + "(" + o.Unary.FieldName + ")"
		}
		compute = func(fr simFrame) ([]float64, bool, error) {
			for _, f := range fr.Fields {
				if f.Type != "number" || displayName(f, fr, frs) != o.Unary.FieldName || len(f.Values) == 0 {
					continue
				}
				out := make([]float64, len(f.Values))
				for i, v := range f.Values {
					n, _ := jsNumber(v)
					out[i] = op(n)
				}
				return out, true, nil
			}
			return nil, false, nil
		}
	default:
		return frs, []string{fmt.Sprintf("calculateField mode %q is not modelled by this check", o.Mode)}
	}
	var probs []string
	out := cloneFrames(frs)
	for i, fr := range out {
		vals, ok, err := compute(fr)
		if err != nil {
			probs = append(probs, "calculateField: "+err.Error())
		}
		if !ok {
			continue
		}
		cells := make([]any, len(vals))
		for k, v := range vals {
			cells[k] = v
		}
		out[i].Fields = append(out[i].Fields, simField{Name: name, Type: "number", DisplayName: o.Alias, Values: cells})
	}
	return out, probs
}

// rowsToFieldsHandlers are the keys of fieldToConfigMapping.ts's
// configMapHandlers: a column maps to one by its mapping or, unmapped, by its
// lower-cased display name.
var rowsToFieldsHandlers = []string{
	"field.name", "field.value", "field.label", "__ignore", "max", "min", "unit", "decimals",
	"displayName", "color", "threshold1", "mappings.value", "mappings.color", "mappings.text",
}

// fieldMapping maps a column to a handler; a null handlerKey makes it a label.
type fieldMapping struct {
	FieldName  string  `json:"fieldName"`
	HandlerKey *string `json:"handlerKey"`
}

// rowsToFields turns each row into a field named by the name column, with the
// value column's cell as its one value. Of the other columns, a colour, unit
// or display name column sets that config of the row's field (a null cell is
// skipped); the rest become labels. The output frame has no name, and a
// field's config comes only from its row: the value column's unit is lost.
func rowsToFields(raw json.RawMessage, frs []simFrame) ([]simFrame, []string) {
	var o struct {
		Mappings []fieldMapping `json:"mappings"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return frs, []string{fmt.Sprintf("rowsToFields: %v", err)}
	}
	mapped := func(key string) bool {
		return slices.ContainsFunc(o.Mappings, func(m fieldMapping) bool { return m.HandlerKey != nil && *m.HandlerKey == key })
	}
	var probs []string
	var out []simFrame
	for _, fr := range frs {
		self := []simFrame{fr} // rowsToFields names fields within their frame
		handlers := make([]string, len(fr.Fields))
		nameIdx, valueIdx := -1, -1
		for i, f := range fr.Fields {
			dn := displayName(f, fr, self)
			key, explicit := strings.ToLower(dn), false
			for _, m := range o.Mappings {
				if m.FieldName == dn {
					key, explicit = "", true
					if m.HandlerKey != nil {
						key = *m.HandlerKey
					}
					break
				}
			}
			h := ""
			if slices.Contains(rowsToFieldsHandlers, key) {
				h = key
				switch h {
				case "field.name":
					nameIdx = i
				case "field.value":
					valueIdx = i
				}
			} else if !explicit {
				// Unmapped: the first string column names, the first number is the value.
				if nameIdx < 0 && !mapped("field.name") && f.Type == "string" {
					nameIdx, h = i, "field.name"
				}
				if valueIdx < 0 && !mapped("field.value") && f.Type == "number" {
					valueIdx, h = i, "field.value"
				}
			}
			if h == "" {
				h = "field.label"
			}
			handlers[i] = h
		}
		if nameIdx < 0 || valueIdx < 0 {
			out = append(out, fr)
			continue
		}
		nameField, valueField := fr.Fields[nameIdx], fr.Fields[valueIdx]
		res := simFrame{}
		for row, name := range nameField.Values {
			nf := simField{Name: jsString(name), Type: valueField.Type, Values: []any{valueField.Values[row]}}
			for i, f := range fr.Fields {
				v := f.Values[row]
				if v == nil {
					continue
				}
				switch handlers[i] {
				case "field.label":
					if nf.Labels == nil {
						nf.Labels = map[string]any{}
					}
					nf.Labels[displayName(f, fr, self)] = v
				case "color":
					nf.Color = &simColor{Mode: "fixed", FixedColor: jsString(v)}
				case "unit":
					nf.Unit = jsString(v)
				case "displayName":
					nf.DisplayName = jsString(v)
				case "field.name", "field.value", "__ignore":
				default:
					probs = append(probs, fmt.Sprintf("rowsToFields: handler %s (column %s) is not modelled by this check", handlers[i], f.Name))
				}
			}
			res.Fields = append(res.Fields, nf)
		}
		out = append(out, res)
	}
	return out, probs
}

// organize excludes, orders (by display name; fields it does not list keep
// their order after the listed ones) and renames fields. A key that names no
// field is reported: it is left from another frame layout and does nothing.
func organize(raw json.RawMessage, frs []simFrame) ([]simFrame, []string) {
	var o struct {
		ExcludeByName map[string]bool   `json:"excludeByName"`
		IncludeByName map[string]bool   `json:"includeByName"`
		IndexByName   map[string]int    `json:"indexByName"`
		RenameByName  map[string]string `json:"renameByName"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return frs, []string{fmt.Sprintf("organize: %v", err)}
	}
	var probs []string
	names := map[string]bool{}
	for _, fr := range frs {
		for _, f := range fr.Fields {
			names[f.Name], names[displayName(f, fr, frs)] = true, true
		}
	}
	for what, keys := range map[string][]string{
		"excludeByName": sortedKeys(o.ExcludeByName), "includeByName": sortedKeys(o.IncludeByName),
		"indexByName": sortedKeys(o.IndexByName), "renameByName": sortedKeys(o.RenameByName),
	} {
		for _, k := range keys {
			if !names[k] {
				probs = append(probs, fmt.Sprintf("organize %s: %q names no field of the frames the panel gets", what, k))
			}
		}
	}
	include := false
	for _, v := range o.IncludeByName {
		include = include || v
	}
	out := keepFields(frs, func(f simField, dn string) bool {
		if o.ExcludeByName[f.Name] || o.ExcludeByName[dn] {
			return false
		}
		return !include || o.IncludeByName[f.Name] || o.IncludeByName[dn]
	})
	for i, fr := range out {
		index := func(f simField) int {
			if n, ok := o.IndexByName[displayName(f, fr, out)]; ok {
				return n
			}
			return math.MaxInt
		}
		slices.SortStableFunc(out[i].Fields, func(a, b simField) int { return index(a) - index(b) })
		for j, f := range out[i].Fields {
			if to := o.RenameByName[displayName(f, fr, out)]; to != "" {
				out[i].Fields[j].DisplayName = to
			}
		}
	}
	return out, probs
}

// panelFieldConfig is the part of fieldConfig the replay applies.
type panelFieldConfig struct {
	Defaults struct {
		NoValue     string           `json:"noValue"`
		Unit        string           `json:"unit"`
		DisplayName string           `json:"displayName"`
		Color       *simColor        `json:"color"`
		Mappings    []map[string]any `json:"mappings"`
	} `json:"defaults"`
	Overrides []struct {
		Matcher struct {
			ID      string `json:"id"`
			Options any    `json:"options"`
		} `json:"matcher"`
		Properties []struct {
			ID    string          `json:"id"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	} `json:"overrides"`
}

// applyOverrides gives fields the defaults' unit, displayName and colour
// where their own config has none (setFieldConfigDefaults), then applies the
// byName overrides (matched by name or display name, before the new
// displayName takes effect): unit, displayName, colour, and links, which
// come before the field's own. An override that matches no field is
// reported: it was written for another frame layout and does nothing.
func applyOverrides(fc panelFieldConfig, in []simFrame) ([]simFrame, []string) {
	var probs []string
	out := cloneFrames(in)
	matched := make([]bool, len(fc.Overrides))
	for i, fr := range in {
		for j, f := range fr.Fields {
			o := &out[i].Fields[j]
			if f.Unit == "" {
				o.Unit = fc.Defaults.Unit
			}
			if f.DisplayName == "" {
				o.DisplayName = fc.Defaults.DisplayName
			}
			if f.Color == nil && fc.Defaults.Color != nil {
				c := *fc.Defaults.Color
				o.Color = &c
			}
			for k, ov := range fc.Overrides {
				if ov.Matcher.ID != "byName" {
					continue
				}
				name, _ := ov.Matcher.Options.(string)
				if name != f.Name && name != displayName(f, fr, in) {
					continue
				}
				matched[k] = true
				for _, p := range ov.Properties {
					var err error
					switch p.ID {
					case "displayName":
						err = json.Unmarshal(p.Value, &o.DisplayName)
					case "unit":
						err = json.Unmarshal(p.Value, &o.Unit)
					case "color":
						o.Color = &simColor{}
						err = json.Unmarshal(p.Value, o.Color)
					case "links":
						var links []simLink
						err = json.Unmarshal(p.Value, &links)
						o.Links = append(links, o.Links...)
					}
					if err != nil {
						probs = append(probs, fmt.Sprintf("override %q property %s: %v", name, p.ID, err))
					}
				}
			}
		}
	}
	for k, ov := range fc.Overrides {
		switch {
		case ov.Matcher.ID != "byName":
			probs = append(probs, fmt.Sprintf("override matcher %s is not modelled by this check", ov.Matcher.ID))
		case !matched[k]:
			probs = append(probs, fmt.Sprintf("override byName %v matches no field of the frames the panel gets", ov.Matcher.Options))
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

// bar is one value a stat or bar gauge draws with reduceOptions.values:
// a cell of a selected field, titled as getSmartDisplayNameForRow titles it.
type bar struct {
	Field simField
	Value any
	Title string
}

// bars follows getFieldDisplayValues with "values" on: every cell of the
// selected fields, frame by frame, at most "limit" of them (Grafana's
// default limit is 25).
func bars(ro reduceOptions, frs []simFrame) ([]bar, error) {
	var re *regexp.Regexp
	if ro.Fields != "" {
		var err error
		if re, err = grafanaRegex(ro.Fields); err != nil {
			return nil, err
		}
	}
	limit := ro.Limit
	if limit <= 0 {
		limit = 25
	}
	var out []bar
	for _, fr := range frs {
		for _, f := range fr.Fields {
			if (re == nil && f.Type != "number") || (re != nil && !re.MatchString(displayName(f, fr, frs))) {
				continue
			}
			for row, v := range f.Values {
				title := displayName(f, fr, frs)
				if f.DisplayName != "" {
					title = renderTitle(f.DisplayName, f, fr, row)
				}
				out = append(out, bar{Field: f, Value: v, Title: title})
				if len(out) >= limit {
					return out, nil
				}
			}
		}
	}
	return out, nil
}

var titleVarRE = regexp.MustCompile(`\$\{(__field\.name|__field\.labels\.[A-Za-z0-9_]+|__data\.fields\.[A-Za-z0-9_]+)\}`)

// renderTitle fills a display name template for one cell, as Grafana's
// template macros do: ${__field.name}, ${__field.labels.<k>} (the raw label,
// empty when the field has no such label) and ${__data.fields.<f>} (the
// row's cell of field f; Grafana formats it by f's unit, which this check
// does not model, so it is compared raw).
func renderTitle(tmpl string, f simField, fr simFrame, row int) string {
	return titleVarRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		ref := m[2 : len(m)-1]
		switch {
		case ref == "__field.name":
			return f.Name
		case strings.HasPrefix(ref, "__field.labels."):
			v, ok := f.Labels[strings.TrimPrefix(ref, "__field.labels.")]
			if !ok {
				return ""
			}
			return jsString(v)
		default:
			name := strings.TrimPrefix(ref, "__data.fields.")
			for _, x := range fr.Fields {
				if x.Name == name && row < len(x.Values) {
					return jsString(x.Values[row])
				}
			}
			return ""
		}
	})
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
