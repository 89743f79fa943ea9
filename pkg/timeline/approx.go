package timeline

import "unsafe"

// ApproxBytes estimates the memory a model holds, for the byte bound of the
// cache that shares a model among panels and for admitting the frames built
// from it. It counts each span, log and event with its strings; label sets
// may be shared between records (Labels) but are counted with each record
// (their values; names are few and shared), so a model whose lines share
// their stream's labels is overestimated: the safe side for a bound. On a
// generated 1k-span / 100k-line model whose lines each carry their own
// structured metadata it is 71 MB for 60 MB of heap (pkg/frames
// approx_test.go).
func (m *Model) ApproxBytes() int64 {
	if m == nil {
		return 0
	}
	const (
		spanSize   = int64(unsafe.Sizeof(SpanNode{}))
		logSize    = int64(unsafe.Sizeof(Log{}) + unsafe.Sizeof(LogRecord{}))
		eventSize  = int64(unsafe.Sizeof(Event{}))
		kvSize     = int64(unsafe.Sizeof(KeyValue{})) + 16 // the boxed value
		spanEvSize = int64(unsafe.Sizeof(SpanEvent{}))
		labelSize  = int64(unsafe.Sizeof(Label{}))
	)
	n := int64(len(m.Events)) * eventSize
	for i := range m.Spans {
		s := &m.Spans[i]
		n += spanSize + int64(len(s.Name)+len(s.SpanID)+len(s.ParentSpanID)+len(s.StatusMessage)) +
			int64(len(s.Attrs))*kvSize + int64(len(s.Events))*spanEvSize + int64(len(s.Logs))*8
		for j := range s.Events {
			n += int64(len(s.Events[j].Attrs)) * kvSize
		}
	}
	for i := range m.Logs {
		l := &m.Logs[i]
		n += logSize + int64(len(l.Sources))*16
		if l.LogRecord != nil {
			n += int64(len(l.Body) + len(l.ID) + len(l.TraceID) + len(l.SpanID))
			for _, lb := range l.Labels {
				n += labelSize + int64(len(lb.Value))
			}
		}
	}
	return n
}
