package timeline

import "unsafe"

// ApproxBytes estimates the memory a model holds, for the byte bound of the
// cache that shares a model among panels and for admitting the frames built
// from it. It counts each span, log and event with its strings; label sets
// are shared between records (Labels), so each record counts only its
// reference. An estimate, not a measurement: BENCHMARKS.md (run F) compares
// it with the heap a model really takes.
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
		}
	}
	return n
}
