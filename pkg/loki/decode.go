package loki

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/grafana/grafana-plugin-sdk-go/data/utils/jsoniter"

	"github.com/traceweave/traceweave/pkg/timeline"
)

// StreamLabel is the Labels key under which a Loki record carries the LogQL
// selector of its stream (index labels only, escaped), so the logs frame can
// link a line back to its stream in Loki. Loki reserves label names starting
// with "__" for itself, so no stored label collides with it; consumers that
// list labels to users drop it.
const StreamLabel = "__stream__"

// ErrBadResponse is returned (wrapped) when Loki answers 2xx with a body that
// is not a successful streams result: broken JSON, status "error", a metric
// result type. It is an upstream fault, not a user error.
var ErrBadResponse = errors.New("unexpected Loki response")

// decodeBufferSize is the read buffer of the streaming decoder: the body is
// never held in memory as a whole, only this window of it plus the records.
const decodeBufferSize = 64 << 10

// entry is one decoded line with the identity of its stream, which
// pagination and deduplication need.
type entry struct {
	rec timeline.LogRecord
	// stream is the stream's selector: shared by every entry of a stream.
	stream string
}

// rawValue is a line before its stream's labels are known (JSON does not
// promise "stream" comes before "values").
type rawValue struct {
	ts                 int64
	line               string
	metaStart, metaEnd int
}

// decoder turns a query_range body into entries. Its buffers are reused from
// stream to stream; label names are interned because every line of a page
// repeats the same few.
type decoder struct {
	iter    *jsoniter.Iterator
	out     []entry
	labels  []timeline.Label
	meta    []timeline.Label
	values  []rawValue
	intern  map[string]string
	success bool
}

// decodeResponse decodes a query_range response body in both encodings:
// plain (values [ts, line], structured metadata merged into the stream) and
// categorize-labels (values [ts, line, {structuredMetadata, parsed}], stream
// holds index labels only).
func decodeResponse(r io.Reader) ([]entry, error) {
	iter, err := jsoniter.Parse(jsoniter.ConfigDefault, r, decodeBufferSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	d := &decoder{iter: iter, intern: make(map[string]string, 32)}
	if err := d.readObject(d.top); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if !d.success {
		return nil, fmt.Errorf("%w: status is not \"success\"", ErrBadResponse)
	}
	return d.out, nil
}

// readObject calls fn for every key of the object at the iterator; fn must
// consume the value.
func (d *decoder) readObject(fn func(key string) error) error {
	for {
		k, err := d.iter.ReadObject()
		if err != nil {
			return err
		}
		if k == "" {
			return nil
		}
		if err := fn(k); err != nil {
			return err
		}
	}
}

// readArray calls fn for every element of the array at the iterator; fn must
// consume the element.
func (d *decoder) readArray(fn func() error) error {
	for {
		more, err := d.iter.ReadArray()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

func (d *decoder) top(key string) error {
	switch key {
	case "status":
		s, err := d.iter.ReadString()
		if err != nil {
			return err
		}
		d.success = s == "success"
		return nil
	case "data":
		return d.readObject(d.data)
	}
	return d.iter.Skip()
}

func (d *decoder) data(key string) error {
	switch key {
	case "resultType":
		s, err := d.iter.ReadString()
		if err != nil {
			return err
		}
		if s != "streams" {
			return fmt.Errorf("result type %q, want \"streams\" (is the query a metric query?)", clip(s, 40))
		}
		return nil
	case "result":
		return d.readArray(d.stream)
	}
	// encodingFlags needs no handling: each value says by its length which
	// form it has. stats is skipped.
	return d.iter.Skip()
}

// stream decodes one {"stream":{…},"values":[…]} object and appends its entries.
func (d *decoder) stream() error {
	d.labels, d.meta, d.values = d.labels[:0], d.meta[:0], d.values[:0]
	err := d.readObject(func(key string) error {
		switch key {
		case "stream":
			return d.readLabels(&d.labels)
		case "values":
			return d.readArray(d.value)
		}
		return d.iter.Skip()
	})
	if err != nil {
		return err
	}
	sort.Slice(d.labels, func(i, j int) bool { return d.labels[i].Name < d.labels[j].Name })
	sel := streamSelector(d.labels)
	// The stream's labels, shared by every line without metadata of its own.
	shared := timeline.NewLabels(append(slices.Clone(d.labels), timeline.Label{Name: StreamLabel, Value: sel}))
	for _, v := range d.values {
		labels := shared
		if meta := d.meta[v.metaStart:v.metaEnd]; len(meta) > 0 {
			// Structured metadata, then parsed labels, override stream
			// labels, as Loki's own label precedence does: NewLabels keeps
			// the last of a repeated name.
			own := make([]timeline.Label, 0, len(shared)+len(meta))
			own = append(append(own, shared...), meta...)
			labels = timeline.NewLabels(own)
		}
		e := entry{stream: sel, rec: timeline.LogRecord{
			TimeNs: v.ts,
			Body:   v.line,
			Labels: labels,
			Source: timeline.SourceLoki,
			ID:     recordID(v.ts, sel, v.line),
		}}
		enrich(&e.rec)
		d.out = append(d.out, e)
	}
	return nil
}

// value decodes one [ts, line] or [ts, line, {structuredMetadata, parsed}].
func (d *decoder) value() error {
	v := rawValue{metaStart: len(d.meta)}
	n := 0
	err := d.readArray(func() error {
		n++
		switch n {
		case 1:
			b, err := d.iter.ReadStringAsSlice()
			if err != nil {
				return err
			}
			ts, err := parseNs(b)
			if err != nil {
				return err
			}
			v.ts = ts
			return nil
		case 2:
			s, err := d.iter.ReadString()
			v.line = s
			return err
		case 3:
			return d.readObject(func(key string) error {
				switch key {
				case "structuredMetadata", "parsed":
					return d.readLabels(&d.meta)
				}
				return d.iter.Skip()
			})
		}
		return fmt.Errorf("a value has more than 3 elements")
	})
	if err != nil {
		return err
	}
	if n < 2 {
		return fmt.Errorf("a value has %d elements, want [ts, line] or [ts, line, metadata]", n)
	}
	v.metaEnd = len(d.meta)
	d.values = append(d.values, v)
	return nil
}

// readLabels appends the string map at the iterator to dst, without the
// helper label of the auto trace filter (in the plain encoding Loki puts it
// among the stream labels, where it would also spoil the stream selector).
func (d *decoder) readLabels(dst *[]timeline.Label) error {
	return d.readObject(func(key string) error {
		if key == lineMatchLabel {
			return d.iter.Skip()
		}
		k, ok := d.intern[key]
		if !ok {
			k = key
			if len(d.intern) < 1024 {
				d.intern[key] = key
			}
		}
		v, err := d.iter.ReadString()
		if err != nil {
			return err
		}
		*dst = append(*dst, timeline.Label{Name: k, Value: v})
		return nil
	})
}

// parseNs parses a Unix-nanosecond timestamp string without allocating.
func parseNs(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 19 {
		return 0, fmt.Errorf("timestamp %q is not Unix nanoseconds", clip(string(b), 40))
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("timestamp %q is not Unix nanoseconds", clip(string(b), 40))
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("timestamp %q overflows int64", clip(string(b), 40))
		}
		n = n*10 + d
	}
	return n, nil
}

// recordID identifies a line stably across queries and pages: its time and
// a hash of its stream and text ("<ns>_<16 hex>"). Loki drops exact
// duplicates (same stream, time and line) when it merges replicas, so these
// three identify a line.
func recordID(ts int64, stream, line string) string {
	// FNV-1a 64, inlined: hash/fnv's interface value would allocate per line.
	const offset64, prime64 = 14695981039346656037, 1099511628211
	sum := uint64(offset64)
	for i := 0; i < len(stream); i++ {
		sum = (sum ^ uint64(stream[i])) * prime64
	}
	sum *= prime64 // the 0 separator byte
	for i := 0; i < len(line); i++ {
		sum = (sum ^ uint64(line[i])) * prime64
	}
	b := make([]byte, 0, 40)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '_')
	const hexDigits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(sum>>uint(shift))&0xf])
	}
	return string(b)
}

// clip keeps hostile or huge upstream text short in error messages.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
