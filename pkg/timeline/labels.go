package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Label is one name/value pair of a log line: a Loki stream label or
// structured metadata, or an attribute found in a Kafka record, flattened to
// a string.
type Label struct {
	Name  string
	Value string
}

// Labels is a line's labels, sorted by name, names unique.
//
// A sorted slice rather than a map: at 100k lines a map per line was the
// largest allocation of the Loki decoder and of the logs frame (which had to
// sort each map's keys again to encode it deterministically). A line has a
// handful of labels, so one allocation and a short scan serve as well as a
// map's hashing, and the frames encode them in order without sorting.
// Labels are shared between records (all lines of a Loki stream without
// their own metadata share one), so a Labels value is never modified in
// place: build a new one.
//
// In JSON it is an object, as the map was.
type Labels []Label

// NewLabels sorts pairs by name in place and drops repeated names, keeping
// the last occurrence: callers append labels in increasing precedence (Loki:
// stream labels, then structured metadata, then parsed labels).
func NewLabels(pairs []Label) Labels {
	if len(pairs) == 0 {
		return nil
	}
	if len(pairs) <= 16 {
		// Insertion sort: stable, allocation-free and fastest at this size.
		for i := 1; i < len(pairs); i++ {
			for j := i; j > 0 && pairs[j].Name < pairs[j-1].Name; j-- {
				pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
			}
		}
	} else {
		slices.SortStableFunc(pairs, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	}
	out := pairs[:0]
	for i := range pairs {
		if len(out) > 0 && out[len(out)-1].Name == pairs[i].Name {
			out[len(out)-1] = pairs[i] // later wins
			continue
		}
		out = append(out, pairs[i])
	}
	return out
}

// LabelsFromMap builds Labels from a map (tests, and callers holding maps).
func LabelsFromMap(m map[string]string) Labels {
	if len(m) == 0 {
		return nil
	}
	pairs := make([]Label, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, Label{k, v})
	}
	return NewLabels(pairs)
}

// Lookup returns the value of a label and whether the line has it.
func (ls Labels) Lookup(name string) (string, bool) {
	// Binary search; lines rarely have more than a dozen labels, so this is
	// a few comparisons.
	lo, hi := 0, len(ls)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ls[m].Name < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ls) && ls[lo].Name == name {
		return ls[lo].Value, true
	}
	return "", false
}

// Get returns the value of a label, "" when absent.
func (ls Labels) Get(name string) string {
	v, _ := ls.Lookup(name)
	return v
}

// Map returns the labels as a new map.
func (ls Labels) Map() map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Name] = l.Value
	}
	return m
}

// MergeLabels returns the union of two label sets; for a name in both, a's
// value wins (the first source to report a line keeps its view of it).
// Neither input is modified; when b adds nothing, a itself is returned.
func MergeLabels(a, b Labels) Labels {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make(Labels, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].Name, b[j].Name); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	out = append(out, b[j:]...)
	if len(out) == len(a) {
		return a
	}
	return out
}

// MarshalJSON writes the labels as a JSON object in name order, the form
// encoding/json gives a map.
func (ls Labels) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(l.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(l.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of strings (or null).
func (ls *Labels) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	*ls = LabelsFromMap(m)
	return nil
}
