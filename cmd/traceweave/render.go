package main

import (
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/traceweave/traceweave/pkg/engine"
	"github.com/traceweave/traceweave/pkg/frames"
	"github.com/traceweave/traceweave/pkg/models"
	"github.com/traceweave/traceweave/pkg/timeline"
)

// barWidth is the width of the waterfall bar column.
const barWidth = 24

const (
	ansiReset  = "\033[0m"
	ansiRed    = "\033[31m"
	ansiYellow = "\033[33m"
	ansiDim    = "\033[2m"
	ansiBold   = "\033[1m"
)

// hueANSI is the terminal colour of each of Grafana's hues; a named
// colour's shade (dark-, light-, …) is dropped, as 16-colour terminals have
// no shades to spare.
var hueANSI = map[string]string{
	"red": "\033[31m", "orange": "\033[38;5;208m", "yellow": "\033[33m",
	"green": "\033[32m", "blue": "\033[34m", "purple": "\033[35m",
}

// tierPalette colours tiers without a configured colour, picked by a hash
// of the name so a tier keeps its colour from run to run and trace to
// trace. Red is left out: it marks errors.
var tierPalette = []string{
	"\033[36m", "\033[34m", "\033[35m", "\033[32m", "\033[33m",
	"\033[38;5;208m", "\033[96m", "\033[94m", "\033[95m", "\033[92m",
}

// tierColour is the ANSI colour of a tier: its configured colour (#rrggbb
// as 24-bit colour, a Grafana name by its hue), else a palette entry
// chosen by the name's FNV-1a hash.
func tierColour(tier, configured string) string {
	if len(configured) == 7 && configured[0] == '#' {
		var r, g, b uint8
		if _, err := fmt.Sscanf(configured, "#%02x%02x%02x", &r, &g, &b); err == nil {
			return fmt.Sprintf("\033[38;2;%d;%d;%dm", r, g, b)
		}
	}
	for hue, code := range hueANSI {
		if configured != "" && strings.HasSuffix(configured, hue) {
			return code
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(tier))
	return tierPalette[h.Sum32()%uint32(len(tierPalette))]
}

// tierColours maps the model's configured tiers (and the default rules'
// when it has none) to their ANSI colours; tiers absent from it get theirs
// from tierColour as they come.
func tierColours(m *timeline.Model) map[string]string {
	styles := m.TierStyles
	if styles == nil {
		styles = models.TierStyles(models.DefaultTierRules())
	}
	out := make(map[string]string, len(styles))
	for _, st := range styles {
		out[st.Tier] = tierColour(st.Tier, st.Color)
	}
	return out
}

// renderer prints the waterfall: spans in tree order, each span's logs under
// it in time order, then the logs no span claimed, then the summary.
type renderer struct {
	w      io.Writer
	width  int
	colour bool
	// tiers caches each tier's colour (tierColours), filled by render.
	tiers map[string]string
}

// tierCode is the ANSI colour of tier.
func (r *renderer) tierCode(tier string) string {
	if r.tiers == nil {
		r.tiers = map[string]string{}
	}
	code, ok := r.tiers[tier]
	if !ok {
		code = tierColour(tier, "")
		r.tiers[tier] = code
	}
	return code
}

func terminalWidth(w io.Writer, getenv func(string) string) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 40 {
			return cols
		}
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 40 {
		return n
	}
	return 120
}

func (r *renderer) paint(code, s string) string {
	if !r.colour || code == "" {
		return s
	}
	return code + s + ansiReset
}

// cut shortens s to n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if n <= 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

func ms(ns int64) string { return strconv.FormatFloat(float64(ns)/1e6, 'f', 2, 64) + "ms" }

func (r *renderer) render(m *timeline.Model, out *engine.Outcome) {
	r.tiers = tierColours(m)
	sources := make([]string, 0, len(out.Statuses))
	for _, s := range out.Statuses {
		state := strconv.Itoa(s.Records)
		if s.Err != nil {
			state = "failed"
		}
		sources = append(sources, s.Source+"="+state)
	}
	wall := m.EndNs - m.StartNs
	fmt.Fprintf(r.w, "%s %s  %d spans, %d logs, %s  [%s]\n", r.paint(ansiBold, "trace"), m.TraceID,
		len(m.Spans), len(m.Logs), ms(wall), strings.Join(sources, " "))

	children := map[string][]int{}
	known := map[string]bool{}
	for i := range m.Spans {
		known[m.Spans[i].SpanID] = true
	}
	var roots []int
	for i := range m.Spans {
		p := m.Spans[i].ParentSpanID
		if p == "" || !known[p] || p == m.Spans[i].SpanID {
			roots = append(roots, i)
			continue
		}
		children[p] = append(children[p], i)
	}
	visited := make([]bool, len(m.Spans))
	var walk func(i, depth int)
	walk = func(i, depth int) {
		if visited[i] {
			return // a cycle in broken data; print each span once
		}
		visited[i] = true
		r.span(m, i, depth, wall)
		kids := children[m.Spans[i].SpanID]
		sort.SliceStable(kids, func(a, b int) bool { return m.Spans[kids[a]].StartNs < m.Spans[kids[b]].StartNs })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, i := range roots {
		walk(i, 0)
	}
	for i := range m.Spans {
		if !visited[i] {
			walk(i, 0)
		}
	}

	var loose []int
	for i := range m.Logs {
		if m.Logs[i].AttachedSpanID == "" {
			loose = append(loose, i)
		}
	}
	if len(loose) > 0 {
		fmt.Fprintf(r.w, "%s\n", r.paint(ansiBold, "logs not tied to a span"))
		for _, li := range loose {
			r.log(m, li, 1)
		}
	}
	r.summary(m)
}

func (r *renderer) span(m *timeline.Model, i, depth int, wall int64) {
	s := &m.Spans[i]
	indent := strings.Repeat("  ", depth)
	offset := "+" + ms(s.StartNs-m.StartNs)
	bar := waterfallBar(s.StartNs-m.StartNs, s.DurationNs(), wall)
	label := fmt.Sprintf("%s%s [%s] %s", indent, s.Service, s.Tier, s.Name)
	dur := ms(s.DurationNs())
	// Columns: offset(10) label(room) duration(9) |bar|, separated by spaces.
	room := max(r.width-(10+1+1+9+2+barWidth+1), 10)
	line := fmt.Sprintf("%10s %-*s %9s |%s|", offset, room, cut(label, room), dur, bar)
	if s.Error {
		line = r.paint(ansiRed, line)
	} else if tag := "[" + s.Tier + "]"; r.colour {
		// The tag is coloured after the layout, so the codes take no column;
		// a failing span stays red as a whole.
		line = strings.Replace(line, tag, r.paint(r.tierCode(s.Tier), tag), 1)
	}
	fmt.Fprintln(r.w, line)
	for _, li := range s.Logs {
		r.log(m, li, depth+1)
	}
}

func (r *renderer) log(m *timeline.Model, li, depth int) {
	l := &m.Logs[li]
	indent := strings.Repeat("  ", depth)
	head := fmt.Sprintf("%10s %s· %s %s ", "+"+ms(l.TimeNs-m.StartNs), indent, l.SourceList(), strings.ToUpper(l.Severity))
	body := cut(l.Body, r.width-utf8.RuneCountInString(head))
	code := ansiDim
	switch {
	case timeline.IsErrorSeverity(l.Severity):
		code = ansiRed
	case l.Severity == timeline.SeverityWarn:
		code = ansiYellow
	}
	fmt.Fprintln(r.w, r.paint(code, head+body))
}

// waterfallBar draws a span's place in the trace on barWidth cells.
func waterfallBar(offset, dur, wall int64) string {
	if wall <= 0 {
		return strings.Repeat("█", barWidth)
	}
	start := int(offset * barWidth / wall)
	n := int((dur*barWidth + wall - 1) / wall)
	start = min(max(start, 0), barWidth-1)
	n = min(max(n, 1), barWidth-start)
	return strings.Repeat(" ", start) + strings.Repeat("█", n) + strings.Repeat(" ", barWidth-start-n)
}

// summary prints where the time went per tier, the first error and the
// slowest span under the waterfall.
func (r *renderer) summary(m *timeline.Model) {
	sum := m.Summary
	if sum == nil || (len(sum.Tiers) == 0 && sum.FirstError == nil) {
		return
	}
	fmt.Fprintf(r.w, "\n%s\n", r.paint(ansiBold, "where the time went (self time per tier)"))
	// The tier column fits the longest name (user tier names go up to
	// models.MaxTierNameLen characters), at least the demo's 6.
	width := 6
	for _, t := range sum.Tiers {
		width = max(width, utf8.RuneCountInString(t.Tier))
	}
	fmt.Fprintf(r.w, "  %-*s %12s %6s %5s %6s %5s  %s\n", width, "tier", "self", "share", "spans", "errors", "logs", "services")
	for _, t := range sum.Tiers {
		cell := t.Tier + strings.Repeat(" ", width-utf8.RuneCountInString(t.Tier))
		fmt.Fprintf(r.w, "  %s %12s %5.1f%% %5d %6d %5d  %s\n", r.paint(r.tierCode(t.Tier), cell), ms(t.SelfNs), t.Share*100, t.Spans, t.Errors, t.Logs, strings.Join(t.Services, ","))
	}
	if e := sum.FirstError; e != nil {
		fmt.Fprintln(r.w, r.paint(ansiRed, fmt.Sprintf("%s [%s, %s]", frames.FirstErrorText(e), e.Tier, e.Source)))
	} else {
		fmt.Fprintln(r.w, "no errors")
	}
	if s := sum.Slowest; s != nil {
		fmt.Fprintf(r.w, "slowest span by self time: %s %s (%s)\n", s.Service, s.Name, ms(s.SelfNs))
	}
}
