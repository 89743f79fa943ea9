package frames

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// logsStreamLabel is the label under which Loki records carry their stream
// selector (loki.StreamLabel; a test keeps the two equal). It becomes the
// stream field, not a label a user sees.
const logsStreamLabel = "__stream__"

// Link titles of the logs frame, shown in the logs panel's link menu
// (linkTitleOpenTimeline, shared with the other frames, is in links.go).
const (
	linkTitleSpanLogs   = "Logs of this span"
	linkTitleOpenInLoki = "Open in Loki"
)

// Logs builds the logs frame (NameLogs) from m.Logs, one row per merged log
// line in the model's time order, in the shape Grafana's logs panel reads
// (data plane "log-lines": timestamp, body, severity, id, labels) plus the
// contract's traceId, spanId and source, and service, tier and attach.
//
// spanId is the span the merge attached the log to, else the log's own span
// ID; traceId is the log's own trace ID, else the model's (every log in the
// model was found by that trace ID). Links: traceId opens this trace's
// timeline and spanId the logs of that span (both in this datasource, when
// opts.DatasourceUID is set); with opts.LokiUID set, a stream field holds the
// line's Loki stream selector (empty for lines not from Loki) and links to
// the Loki datasource for the stream's lines of the trace.
func Logs(m *timeline.Model, opts Options) *data.Frame {
	var logs []timeline.Log
	traceID := ""
	if m != nil {
		logs, traceID = m.Logs, m.TraceID
	}
	n := len(logs)
	var (
		timestamps = make([]time.Time, n)
		bodies     = make([]string, n)
		severities = make([]string, n)
		ids        = make([]string, n)
		labels     = make([]json.RawMessage, n)
		traceIDs   = make([]string, n)
		spanIDs    = make([]string, n)
		sources    = make([]string, n)
		services   = make([]string, n)
		tiers      = make([]string, n)
		attaches   = make([]string, n)
		streams    = make([]string, n)
	)
	labelCells := newLabelsCells(n)
	for i := range logs {
		l := &logs[i]
		timestamps[i] = time.Unix(0, l.TimeNs).UTC()
		bodies[i] = l.Body
		severities[i] = l.Severity
		ids[i] = l.ID
		traceIDs[i] = l.TraceID
		if traceIDs[i] == "" {
			traceIDs[i] = traceID
		}
		spanIDs[i] = l.AttachedSpanID
		if spanIDs[i] == "" {
			spanIDs[i] = l.SpanID
		}
		labels[i] = labelCells.of(l.Labels, l.TraceID, l.SpanID)
		sources[i] = l.SourceList()
		services[i] = l.Service
		tiers[i] = l.Tier
		attaches[i] = l.Attach
		streams[i] = l.Labels.Get(logsStreamLabel)
	}

	traceField := data.NewField("traceId", nil, traceIDs)
	spanField := data.NewField("spanId", nil, spanIDs)
	if opts.DatasourceUID != "" {
		traceField.SetConfig(&data.FieldConfig{Links: []data.DataLink{timelineLink(opts, linkTitleOpenTimeline)}})
		spanField.SetConfig(&data.FieldConfig{Links: []data.DataLink{spanLogsLink(opts, linkTitleSpanLogs, "traceId")}})
	}

	frame := data.NewFrame(NameLogs,
		data.NewField("timestamp", nil, timestamps),
		data.NewField("body", nil, bodies),
		data.NewField("severity", nil, severities),
		data.NewField("id", nil, ids),
		data.NewField("labels", nil, labels),
		traceField,
		spanField,
		data.NewField("source", nil, sources),
		data.NewField("service", nil, services),
		data.NewField("tier", nil, tiers),
		data.NewField("attach", nil, attaches),
	)
	if opts.LokiUID != "" {
		// The selector is the value itself: ${__value.raw} keeps its quotes
		// as Loki needs them, and the trace ID is hex, safe in a LogQL string.
		frame.Fields = append(frame.Fields, data.NewField("stream", nil, streams).SetConfig(&data.FieldConfig{Links: []data.DataLink{{
			Title: linkTitleOpenInLoki,
			Internal: &data.InternalDataLink{
				DatasourceUID: opts.LokiUID,
				Query:         map[string]any{"expr": `${__value.raw} |= "${__data.fields.traceId}"`, "queryType": "range"},
			},
		}}}))
	}
	frame.Meta = &data.FrameMeta{
		Type:                   data.FrameTypeLogLines,
		TypeVersion:            data.FrameTypeVersion{0, 0},
		PreferredVisualization: data.VisTypeLogs,
	}
	return frame
}

// logsLabelsJSON encodes a log's labels as a JSON object (in name order, so
// frames are deterministic). Left out: the stream selector, which has its
// own field, and trace_id/span_id labels holding the line's own IDs, which
// the traceId and spanId fields already show (with links): at 100k lines they
// were a third of the labels cell, sent for nothing. No labels is {}, which
// the logs panel expects rather than null.
//
// Hand-encoded: json.Marshal of a map per row was the largest cost of the
// logs frame at 100k lines (BENCHMARKS.md, profile). Logs calls it through
// labelsCells, once per distinct set.
func logsLabelsJSON(labels timeline.Labels, traceID, spanID string) json.RawMessage {
	size, n := 2, 0
	for _, l := range labels {
		if !redundantLabel(l, traceID, spanID) {
			size += len(l.Name) + len(l.Value) + 6
			n++
		}
	}
	if n == 0 {
		return emptyLabelsCell
	}
	b := make([]byte, 0, size)
	b = append(b, '{')
	for _, l := range labels {
		if redundantLabel(l, traceID, spanID) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendJSONString(b, l.Name)
		b = append(b, ':')
		b = appendJSONString(b, l.Value)
	}
	return append(b, '}')
}

// labelsCells encodes each distinct label set of a logs frame once: rows
// whose labels show the same names and values (after redundantLabel) share
// one cell, which is safe because json.RawMessage cells are never modified.
// Encoding every row's labels was ~290 ns and one allocation a row, 14 MB at
// 100k rows, while most rows repeat a set: the lines of a Loki stream
// without metadata share one Labels slice, and Kafka records of one service
// each have their own slice with the same contents. So sets are found by
// content, not by slice address.
//
// The table is small and 4-way set-associative: a row's shown labels are
// hashed (labelsHash) to one bucket, and a way whose hash matches is
// confirmed by comparing the shown labels in full (sameShownLabels), so a
// hash collision can only cost an encoding, never give a row another row's
// cell. A miss encodes the row and takes the bucket's least recently used
// way: rows that are all distinct (Loki lines with structured metadata such
// as observed_timestamp) pay the hash and the encoding, and the ways that
// hold the repeating sets survive them. Direct-mapped (one way), two of a
// dozen sets fell in one slot often enough to evict each other on every
// row (6,361 misses instead of 11 in BenchmarkLogsLabels100k).
type labelsCells struct {
	buckets []labelsBucket // len is a power of two; allocated at the first labelled row
	size    int            // buckets to allocate
	shift   uint           // 64 - log2(size): buckets are indexed by the hash's high bits
	tick    uint64         // counts lookups, for the LRU choice
	// hash replaces labelsHash when set (tests force collisions with it).
	hash func(labels timeline.Labels, traceID, spanID string) uint64
}

// labelsBucket holds four encoded sets, each with the row it was encoded
// from: the row's Labels (shared and never modified, so holding the slice is
// safe) and its IDs, which decide what redundantLabel left out.
type labelsBucket struct {
	hash [labelsWays]uint64
	used [labelsWays]uint64 // tick of the way's last use; 0 is empty
	way  [labelsWays]labelsSlot
}

type labelsSlot struct {
	labels          timeline.Labels
	traceID, spanID string
	cell            json.RawMessage
}

const (
	labelsWays = 4
	// maxLabelsBuckets bounds the table: 64 buckets (256 sets, 23 KB)
	// hold the sets of a few dozen services and sources.
	maxLabelsBuckets = 64
)

// newLabelsCells sizes the table for rows rows: a small frame, which cannot
// have more sets than rows, gets a small table.
func newLabelsCells(rows int) labelsCells {
	size, shift := 1, uint(64)
	for size*labelsWays < rows && size < maxLabelsBuckets {
		size, shift = size*2, shift-1
	}
	return labelsCells{size: size, shift: shift}
}

// of returns the labels cell of a row: the cell logsLabelsJSON gives, shared
// with earlier rows that show the same labels.
func (c *labelsCells) of(labels timeline.Labels, traceID, spanID string) json.RawMessage {
	if len(labels) == 0 {
		return emptyLabelsCell
	}
	var h uint64
	if c.hash != nil {
		h = c.hash(labels, traceID, spanID)
	} else {
		h = labelsHash(labels, traceID, spanID)
	}
	if c.buckets == nil {
		c.buckets = make([]labelsBucket, c.size)
	}
	b := &c.buckets[h>>c.shift] // a shift by 64 (one bucket) gives 0
	c.tick++
	victim := 0
	for w := range labelsWays {
		if b.used[w] != 0 && b.hash[w] == h {
			s := &b.way[w]
			if sameShownLabels(s.labels, s.traceID, s.spanID, labels, traceID, spanID) {
				b.used[w] = c.tick
				return s.cell
			}
		}
		if b.used[w] < b.used[victim] {
			victim = w
		}
	}
	cell := logsLabelsJSON(labels, traceID, spanID)
	b.hash[victim], b.used[victim] = h, c.tick
	b.way[victim] = labelsSlot{labels: labels, traceID: traceID, spanID: spanID, cell: cell}
	return cell
}

// labelsHash hashes the labels a row shows (those redundantLabel keeps).
// Each string contributes its length and its first and last 8 bytes
// (values that differ, like timestamps or IDs, differ there), mixed by
// multiplication; the table indexes by the high bits, which depend on all
// the input bits. A weak hash only costs misses: hits are confirmed.
func labelsHash(labels timeline.Labels, traceID, spanID string) uint64 {
	const m = 0x9e3779b97f4a7c15 // 2^64 / golden ratio, odd
	var h uint64
	for _, l := range labels {
		if redundantLabel(l, traceID, spanID) {
			continue
		}
		h = (h ^ stringBits(l.Name)) * m
		h = (h ^ stringBits(l.Value)) * m
	}
	return h
}

// stringBits folds a string's length and its first and last 8 bytes (or all
// of a shorter string) into a word.
func stringBits(s string) uint64 {
	n := len(s)
	if n >= 8 {
		first := binary.LittleEndian.Uint64([]byte(s[:8]))
		last := binary.LittleEndian.Uint64([]byte(s[n-8:]))
		return first ^ bits.RotateLeft64(last, 31) ^ uint64(n)<<56
	}
	x := uint64(n) << 56
	for i := 0; i < n; i++ {
		x |= uint64(s[i]) << (8 * i)
	}
	return x
}

// sameShownLabels reports whether two rows show the same labels: equal
// names and values, in order, once redundantLabel has left out what each
// row's own IDs make redundant. The same slice with the same IDs is the
// same without a look (the lines of a Loki stream).
func sameShownLabels(a timeline.Labels, aTrace, aSpan string, b timeline.Labels, bTrace, bSpan string) bool {
	if len(a) == len(b) && len(a) > 0 && &a[0] == &b[0] && aTrace == bTrace && aSpan == bSpan {
		return true
	}
	i, j := 0, 0
	for {
		for i < len(a) && redundantLabel(a[i], aTrace, aSpan) {
			i++
		}
		for j < len(b) && redundantLabel(b[j], bTrace, bSpan) {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if a[i] != b[j] {
			return false
		}
		i++
		j++
	}
}

// emptyLabelsCell is the cell of rows that show no labels, shared by all of
// them (a conversion per row was an allocation per row). Never modified.
var emptyLabelsCell = json.RawMessage(`{}`)

// redundantLabel reports whether the logs frame leaves a label out: the
// stream selector, or a trace/span ID label equal to the line's own ID.
func redundantLabel(l timeline.Label, traceID, spanID string) bool {
	switch l.Name {
	case logsStreamLabel:
		return true
	case "trace_id", "traceid", "traceID", "traceId":
		return traceID != "" && l.Value == traceID
	case "span_id", "spanid", "spanID", "spanId":
		return spanID != "" && l.Value == spanID
	}
	return false
}
