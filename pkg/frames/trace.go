package frames

import (
	"cmp"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// Link titles of the trace frame, shown in the trace view's span menus.
const (
	linkTitleLogsForSpan = "Logs for this span"
	linkTitleOpenInTempo = "Open in Tempo"
)

// traceLogName names merged log lines in a span's logs, so the trace view
// tells them apart from the span's own OTLP events (which carry their name).
const traceLogName = "log"

// Trace builds the trace frame (NameTrace) from m.Spans, one row per span in
// the model's order, with the fields, types and order Grafana's own Tempo
// datasource gives its trace frame, so Grafana's trace view renders it
// unchanged. Beyond Tempo's content, each span's logs cell holds the log
// lines the merge attached to it (after its OTLP events, all in time order),
// and its tags carry the span's tier and error=true when the merge marked the
// span as failed.
//
// Spans without a span ID are left out: the trace view cannot place them.
// The spanID field links to this datasource's logs of that span when
// opts.DatasourceUID is set; traceID links to the Tempo datasource when
// opts.TempoUID is set.
func Trace(m *timeline.Model, opts Options) *data.Frame {
	return traceFrame(m, opts, runtime.GOMAXPROCS(0), parallelSpanLogsMin)
}

// parallelSpanLogsMin is the number of span log entries (events and
// attached lines) from which the trace frame builds its logs cells on
// several goroutines: below it (~1 ms of encoding), a trace is not worth a
// goroutine.
const parallelSpanLogsMin = 2_000

// traceFrame is Trace with the logs cells built by up to workers goroutines
// once the spans hold minParallel log entries (tests vary both).
func traceFrame(m *timeline.Model, opts Options, workers, minParallel int) *data.Frame {
	var (
		spans   []timeline.SpanNode
		logs    []timeline.Log
		traceID string
	)
	if m != nil {
		spans, logs, traceID = m.Spans, m.Logs, m.TraceID
	}
	n := 0
	for i := range spans {
		if spans[i].SpanID != "" {
			n++
		}
	}
	// The logs cells are nearly all of the frame's cost at 100k lines
	// (52 ms of encoding at 1k spans, the critical path of the query's four
	// frames): other goroutines build theirs while this one fills the other
	// columns, then builds its own share.
	logCells := make([]json.RawMessage, n)
	chunks := spanLogChunks(spans, n, workers, minParallel, opts.MaxLogsPerSpan)
	var wg sync.WaitGroup
	for _, c := range chunks[1:] {
		wg.Go(func() { c.fill(logCells, spans, logs, opts.MaxLogsPerSpan) })
	}
	var (
		traceIDs       = make([]string, 0, n)
		spanIDs        = make([]string, 0, n)
		parentSpanIDs  = make([]string, 0, n)
		operationNames = make([]string, 0, n)
		serviceNames   = make([]string, 0, n)
		kinds          = make([]string, 0, n)
		statusCodes    = make([]int64, 0, n)
		statusMessages = make([]string, 0, n)
		libraryNames   = make([]string, 0, n)
		libraryVers    = make([]string, 0, n)
		traceStates    = make([]string, 0, n)
		serviceTags    = make([]json.RawMessage, 0, n)
		startTimes     = make([]float64, 0, n)
		durations      = make([]float64, 0, n)
		references     = make([]json.RawMessage, 0, n)
		tags           = make([]json.RawMessage, 0, n)
	)
	var resourceJSON resourceCells
	for i := range spans {
		s := &spans[i]
		if s.SpanID == "" {
			continue
		}
		tid := s.TraceID
		if tid == "" {
			tid = traceID
		}
		traceIDs = append(traceIDs, tid)
		spanIDs = append(spanIDs, s.SpanID)
		parentSpanIDs = append(parentSpanIDs, s.ParentSpanID)
		operationNames = append(operationNames, s.Name)
		serviceNames = append(serviceNames, s.Service)
		kinds = append(kinds, traceKind(s.Kind))
		statusCodes = append(statusCodes, s.StatusCode)
		statusMessages = append(statusMessages, s.StatusMessage)
		libraryNames = append(libraryNames, s.ScopeName)
		libraryVers = append(libraryVers, s.ScopeVersion)
		traceStates = append(traceStates, s.TraceState)
		serviceTags = append(serviceTags, resourceJSON.of(s.ResourceAttrs))
		startTimes = append(startTimes, epochMillis(s.StartNs))
		durations = append(durations, float64(s.DurationNs())/1e6)
		references = append(references, spanReferencesJSON(s.Links))
		tags = append(tags, spanTagsJSON(s))
	}
	chunks[0].fill(logCells, spans, logs, opts.MaxLogsPerSpan)
	wg.Wait()

	traceField := data.NewField("traceID", nil, traceIDs)
	if opts.TempoUID != "" {
		traceField.SetConfig(&data.FieldConfig{Links: []data.DataLink{tempoLink(opts, linkTitleOpenInTempo)}})
	}
	spanField := data.NewField("spanID", nil, spanIDs)
	if opts.DatasourceUID != "" {
		// The trace view offers a field's links as each span's logs link.
		spanField.SetConfig(&data.FieldConfig{Links: []data.DataLink{spanLogsLink(opts, linkTitleLogsForSpan, "traceID")}})
	}

	frame := data.NewFrame(NameTrace,
		traceField,
		spanField,
		data.NewField("parentSpanID", nil, parentSpanIDs),
		data.NewField("operationName", nil, operationNames),
		data.NewField("serviceName", nil, serviceNames),
		data.NewField("kind", nil, kinds),
		data.NewField("statusCode", nil, statusCodes),
		data.NewField("statusMessage", nil, statusMessages),
		data.NewField("instrumentationLibraryName", nil, libraryNames),
		data.NewField("instrumentationLibraryVersion", nil, libraryVers),
		data.NewField("traceState", nil, traceStates),
		data.NewField("serviceTags", nil, serviceTags),
		data.NewField("startTime", nil, startTimes),
		data.NewField("duration", nil, durations),
		data.NewField("logs", nil, logCells),
		data.NewField("references", nil, references),
		data.NewField("tags", nil, tags),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTrace}
	if notice, ok := spanLogsBoundNotice(spans, opts.MaxLogsPerSpan); ok {
		frame.Meta.Notices = append(frame.Meta.Notices, notice)
	}
	return frame
}

// spanLogsBoundNotice says how many spans the MaxLogsPerSpan bound cut, and
// where the user finds every line.
func spanLogsBoundNotice(spans []timeline.SpanNode, max int) (data.Notice, bool) {
	cut, hidden := 0, 0
	for i := range spans {
		if s := &spans[i]; s.SpanID != "" && shownLogs(s, max) < len(s.Logs) {
			cut++
			hidden += len(s.Logs) - max
		}
	}
	if cut == 0 {
		return data.Notice{}, false
	}
	return data.Notice{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf(
		"trace view: %d %s more than %d log lines (traceView.maxLogsPerSpan): each shows its first %d and how many more (%d lines in all); the span's %q link and the logs panel show every line",
		cut, plural(cut, "span has", "spans have"), max, max, hidden, linkTitleLogsForSpan)}, true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// spanChunk is a run of spans whose logs cells one goroutine builds:
// spans[spanLo:spanHi], whose first span with an ID is row rowLo.
type spanChunk struct {
	spanLo, spanHi, rowLo int
}

// fill writes the logs cells of the chunk's rows into cells, and only those:
// chunks share cells but not its elements.
func (c spanChunk) fill(cells []json.RawMessage, spans []timeline.SpanNode, logs []timeline.Log, maxLogs int) {
	row := c.rowLo
	for i := c.spanLo; i < c.spanHi; i++ {
		if s := &spans[i]; s.SpanID != "" {
			cells[row] = spanLogsJSON(s, logs, maxLogs)
			row++
		}
	}
}

// shownLogs is how many of a span's log lines its logs cell holds under
// the bound max (0 or less: all).
func shownLogs(s *timeline.SpanNode, max int) int {
	if max > 0 && len(s.Logs) > max {
		return max
	}
	return len(s.Logs)
}

// spanLogChunks splits the spans into at most workers chunks of about equal
// work, or one chunk when the spans hold fewer than minParallel log entries.
// A span's logs cell costs about one unit per event or attached line, and
// its other cells (tags, references, serviceTags) about one more
// (BENCHMARKS.md: 10k spans with 1k lines take ~5 ms, 100k lines ~50 ms);
// the first chunk goes to the goroutine that also builds those other cells,
// so it gets one unit less per row. A span is never split: one span holding
// most of the lines makes its chunk the longest.
func spanLogChunks(spans []timeline.SpanNode, rows, workers, minParallel, maxLogs int) []spanChunk {
	total := 0
	for i := range spans {
		if spans[i].SpanID != "" {
			total += len(spans[i].Events) + shownLogs(&spans[i], maxLogs)
		}
	}
	if workers < 2 || total < minParallel || total == 0 {
		return []spanChunk{{0, len(spans), 0}}
	}
	// Chunk j ends where the running count of entries reaches end(j).
	first := max(0, (total+rows)/workers-rows)
	end := func(j int) int { return first + (total-first)*j/(workers-1) }
	chunks := make([]spanChunk, 0, workers)
	c := spanChunk{}
	done, row := 0, 0
	for i := range spans {
		s := &spans[i]
		if s.SpanID == "" {
			continue
		}
		if done >= end(len(chunks)) && len(chunks) < workers-1 {
			c.spanHi = i
			chunks = append(chunks, c)
			c = spanChunk{spanLo: i, rowLo: row}
		}
		done += len(s.Events) + shownLogs(s, maxLogs)
		row++
	}
	c.spanHi = len(spans)
	return append(chunks, c)
}

// resourceCells encodes each resource's attributes once: the spans of one
// resource share their ResourceAttrs slice (see tempo's decoder), so its
// first element's address and its length identify it, and the serviceTags
// cell of a 10k-span trace from a few services is a few encodings, not 10k.
// Cells are never modified, so rows may share one.
type resourceCells map[resourceKey]json.RawMessage

type resourceKey struct {
	first *timeline.KeyValue
	n     int
}

func (c *resourceCells) of(attrs []timeline.KeyValue) json.RawMessage {
	if len(attrs) == 0 {
		return json.RawMessage(`[]`)
	}
	if *c == nil {
		*c = resourceCells{}
	}
	key := resourceKey{&attrs[0], len(attrs)}
	if cell, ok := (*c)[key]; ok {
		return cell
	}
	cell := appendKeyValues(nil, attrs)
	(*c)[key] = cell
	return cell
}

// traceKind writes kinds as Grafana's Tempo datasource does: the lower-case
// OpenTracing names, and nothing for an unspecified kind.
func traceKind(kind string) string {
	if kind == timeline.KindUnspecified {
		return ""
	}
	return kind
}

// spanLogsJSON encodes the span's logs cell: its OTLP events and the log
// lines attached to it (indexes into logs) in one time-ordered list of
// {timestamp (epoch ms), fields: [{key, value}], name}, the shape Grafana's
// trace view reads; at equal times events come first, as they were recorded
// by the span itself. A log line's fields are body, severity and source,
// plus service when it is not the span's and attach when the line was placed
// by its time rather than by naming the span: the trace view shows every
// field, and repeating what the span already says would only add noise (and
// bytes: every attached line is in this cell).
//
// With maxLogs > 0 the cell holds the span's first maxLogs lines (s.Logs is
// in time order) and ends with one more entry, last in time too, whose body
// says how many lines were left out and where to read them; its fields
// carry that count as "omitted".
func spanLogsJSON(s *timeline.SpanNode, logs []timeline.Log, maxLogs int) json.RawMessage {
	type entry struct {
		ms    float64
		event int // index into s.Events, or -1 for a log line
		log   int // index into logs
	}
	shown := shownLogs(s, maxLogs)
	entries := make([]entry, 0, len(s.Events)+shown)
	size := 2
	for i := range s.Events {
		entries = append(entries, entry{ms: epochMillis(s.Events[i].TimeNs), event: i})
		size += 64 + 48*len(s.Events[i].Attrs)
	}
	for _, idx := range s.Logs[:shown] {
		if idx < 0 || idx >= len(logs) {
			continue
		}
		entries = append(entries, entry{ms: epochMillis(logs[idx].TimeNs), event: -1, log: idx})
		size += logEntrySize(&logs[idx], s.Service)
	}
	if !slices.IsSortedFunc(entries, func(a, b entry) int { return cmp.Compare(a.ms, b.ms) }) {
		slices.SortStableFunc(entries, func(a, b entry) int { return cmp.Compare(a.ms, b.ms) })
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		if e.event >= 0 {
			ev := &s.Events[e.event]
			b = appendEpochMillis(b, ev.TimeNs)
			b = append(b, `,"fields":`...)
			b = appendKeyValues(b, ev.Attrs)
			if ev.Name != "" {
				b = append(b, `,"name":`...)
				b = appendJSONString(b, ev.Name)
			}
			b = append(b, '}')
			continue
		}
		l := &logs[e.log]
		b = appendEpochMillis(b, l.TimeNs)
		b = append(b, `,"fields":[`...)
		b = appendKeyString(b, "body", l.Body)
		b = append(b, ',')
		b = appendKeyString(b, "severity", l.Severity)
		b = append(b, ',')
		b = appendKeyString(b, "source", l.SourceList())
		if l.Service != "" && l.Service != s.Service {
			b = append(b, ',')
			b = appendKeyString(b, "service", l.Service)
		}
		if l.Attach == timeline.AttachTime {
			b = append(b, ',')
			b = appendKeyString(b, "attach", l.Attach)
		}
		b = append(b, `],"name":"`+traceLogName+`"}`...) // a constant that needs no escapes
	}
	if omitted := len(s.Logs) - shown; omitted > 0 {
		last := s.StartNs
		for _, idx := range s.Logs {
			if idx >= 0 && idx < len(logs) {
				last = max(last, logs[idx].TimeNs)
			}
		}
		for i := range s.Events {
			last = max(last, s.Events[i].TimeNs)
		}
		if len(entries) > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		b = appendEpochMillis(b, last)
		b = append(b, `,"fields":[`...)
		b = appendKeyString(b, "body", fmt.Sprintf("… %d more log %s of this span: %q or the logs panel shows every line",
			omitted, plural(omitted, "line", "lines"), linkTitleLogsForSpan))
		b = append(b, `,{"key":"omitted","value":`...)
		b = strconv.AppendInt(b, int64(omitted), 10)
		b = append(b, `}],"name":"`+traceLogName+`"}`...)
	}
	return append(b, ']')
}

// logEntrySize is about the bytes a log line takes in a span's logs cell:
// the fixed keys and punctuation (140 bytes with the longest timestamp),
// the strings, an eighth of the body for escapes, the optional fields. At
// 100k lines the cells are most of the trace frame, so a loose guess (it
// was 192 + the body) is megabytes allocated and never written; a short one
// (a body full of quotes) costs one append growth of that cell.
func logEntrySize(l *timeline.Log, spanService string) int {
	n := 140 + len(l.Body) + len(l.Body)/8 + len(l.Severity)
	for _, src := range l.Sources {
		n += len(src) + 1
	}
	if l.Service != "" && l.Service != spanService {
		n += 28 + len(l.Service)
	}
	if l.Attach == timeline.AttachTime {
		n += 27 + len(l.Attach)
	}
	return n
}

// spanReferencesJSON encodes span links in the trace view's references
// shape: [{spanID, traceID, tags}].
func spanReferencesJSON(links []timeline.SpanLink) json.RawMessage {
	b := []byte{'['}
	for i := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"spanID":`...)
		b = appendJSONString(b, links[i].SpanID)
		b = append(b, `,"traceID":`...)
		b = appendJSONString(b, links[i].TraceID)
		b = append(b, `,"tags":`...)
		b = appendKeyValues(b, links[i].Attrs)
		b = append(b, '}')
	}
	return append(b, ']')
}

// spanTagsJSON encodes the span's attributes plus what the merge learned:
// its tier, and error=true (the tag the trace view marks failed spans by)
// unless the span already carries an error attribute of its own.
func spanTagsJSON(s *timeline.SpanNode) json.RawMessage {
	b := make([]byte, 0, 64+48*len(s.Attrs))
	b = appendKeyValues(b, s.Attrs)
	b = b[:len(b)-1] // reopen the list
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if s.Tier != "" {
		sep()
		b = appendKeyString(b, "tier", s.Tier)
	}
	if s.Error && !slices.ContainsFunc(s.Attrs, func(kv timeline.KeyValue) bool { return kv.Key == "error" }) {
		sep()
		b = append(b, `{"key":"error","value":true}`...)
	}
	return append(b, ']')
}

// epochMillis converts epoch nanoseconds to the float milliseconds the trace
// view reads. Dividing the whole nanosecond count by 1e6 loses precision at
// today's epoch (130.000 ms became 129.9998); splitting at the microsecond
// keeps the value exact to the microsecond.
func epochMillis(ns int64) float64 { return float64(ns/1e3) / 1e3 }
