// Package httpx holds small HTTP helpers shared by the demo services.
package httpx

import "net/http"

// StatusWriter records the status code written through it.
type StatusWriter struct {
	http.ResponseWriter
	Status int
	wrote  bool
}

// NewStatusWriter wraps w; Status is 200 until WriteHeader says otherwise.
func NewStatusWriter(w http.ResponseWriter) *StatusWriter {
	return &StatusWriter{ResponseWriter: w, Status: http.StatusOK}
}

// WriteHeader records the first status code.
func (s *StatusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.Status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Flush keeps streaming responses working through the wrapper.
func (s *StatusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
