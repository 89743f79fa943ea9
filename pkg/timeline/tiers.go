package timeline

import (
	"encoding/json"
	"regexp"
	"strconv"

	"github.com/traceweave/traceweave/pkg/models"
)

// tierServiceNameKey is the attribute a tier rule uses to match
// Span.Service, which already carries the resource's service.name (or its
// fallback).
const tierServiceNameKey = "service.name"

// AssignTiers sets Tier on every span from rules (models.DefaultTierRules
// when the user configured none): rules are tried in order and the first
// match wins, so specific rules (db.system=mysql on a Rails client span)
// come before broad ones (the Rails service itself). A rule's attribute is
// looked up in the span's attributes, then its resource attributes;
// "service.name" is Span.Service. Value matches the value's string form
// exactly, Regex uses rule.Regexp() (compiled by Settings.Validate, compiled
// here when the rules were never validated; an invalid one never matches).
// Spans no rule matches are TierOther.
func AssignTiers(spans []Span, rules []models.TierRule) {
	res := make([]*regexp.Regexp, len(rules))
	for i := range rules {
		if rules[i].Match.Regex == "" {
			continue
		}
		res[i] = rules[i].Regexp()
		if res[i] == nil {
			// Invalid patterns were reported by Validate; here they just never match.
			res[i], _ = regexp.Compile(rules[i].Match.Regex)
		}
	}
	for i := range spans {
		spans[i].Tier = tierOf(&spans[i], rules, res)
	}
}

func tierOf(s *Span, rules []models.TierRule, res []*regexp.Regexp) string {
	for i := range rules {
		m := rules[i].Match
		v, ok := tierAttr(s, m.Attribute)
		if !ok {
			continue
		}
		switch {
		case m.Regex != "":
			if res[i] != nil && res[i].MatchString(v) {
				return rules[i].Tier
			}
		case m.Value != "":
			if v == m.Value {
				return rules[i].Tier
			}
		}
	}
	return TierOther
}

// tierAttr returns the string form of an attribute: span attributes first,
// then resource attributes, with service.name answered by Span.Service.
func tierAttr(s *Span, key string) (string, bool) {
	if key == "" {
		return "", false
	}
	if key == tierServiceNameKey {
		return s.Service, s.Service != ""
	}
	for _, attrs := range [2][]KeyValue{s.Attrs, s.ResourceAttrs} {
		for j := range attrs {
			if attrs[j].Key == key {
				return tierValueString(attrs[j].Value), true
			}
		}
	}
	return "", false
}

// tierValueString is the form a rule's Value is compared with: strings as is,
// numbers and booleans as Go formats them ("200", "1.5", "true"), lists and
// maps as JSON.
func tierValueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}
