package timeline

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGroupWindows(t *testing.T) {
	a := "0000000000000000000000000000000a"
	b := "0000000000000000000000000000000b"
	c := "0000000000000000000000000000000c"
	ws := []TraceWindow{
		{TraceID: c, StartNs: 1000, EndNs: 1100},
		{TraceID: a, StartNs: 0, EndNs: 100},
		{TraceID: b, StartNs: 50, EndNs: 200},
		{TraceID: b, StartNs: 5, EndNs: 5}, // empty: left out
	}
	assert.Equal(t, []WindowGroup{
		{StartNs: 0, EndNs: 200, TraceIDs: []string{a, b}},
		{StartNs: 1000, EndNs: 1100, TraceIDs: []string{c}},
	}, GroupWindows(ws, 0), "only overlapping windows join at gap 0")
	assert.Equal(t, []WindowGroup{{StartNs: 0, EndNs: 1100, TraceIDs: []string{a, b, c}}},
		GroupWindows(ws, 800), "a gap of 800 ns joins the window 800 ns after the group")
	assert.Len(t, GroupWindows(ws, 799), 2, "a gap of 799 ns does not")
	assert.Equal(t, []WindowGroup{{StartNs: 0, EndNs: 1100, TraceIDs: []string{a, b, c}}}, GroupWindows(ws, -1), "negative: the hull")
	assert.Empty(t, GroupWindows(nil, 0))
	assert.Equal(t, []WindowGroup{{StartNs: 0, EndNs: 300, TraceIDs: []string{a}}},
		GroupWindows([]TraceWindow{{a, 0, 100}, {a, 100, 300}}, 0), "a trace is listed once per group")
}
