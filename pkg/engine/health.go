package engine

import (
	"context"
	"encoding/json"
	"sync"
)

// SourceHealth is the health of one source.
type SourceHealth struct {
	// Name is the source as a user reads it: Tempo, Loki or Kafka.
	Name       string
	Configured bool
	Err        error
	// Detail says what was checked when it worked (address, topics, partitions).
	Detail string
}

// String is the one line the plugin's health message and the CLI's check
// print for a source, so both say the same thing.
func (h SourceHealth) String() string {
	switch {
	case !h.Configured:
		return h.Name + ": skipped (not configured)"
	case h.Err != nil:
		return h.Name + ": " + h.Err.Error()
	default:
		return h.Name + ": OK, " + h.Detail
	}
}

// MarshalJSON renders the error as text for the health check's JSON details.
func (h SourceHealth) MarshalJSON() ([]byte, error) {
	errText := ""
	if h.Err != nil {
		errText = h.Err.Error()
	}
	return json.Marshal(struct {
		Name       string `json:"name"`
		Configured bool   `json:"configured"`
		OK         bool   `json:"ok"`
		Error      string `json:"error,omitempty"`
		Detail     string `json:"detail,omitempty"`
	}{h.Name, h.Configured, h.Configured && h.Err == nil, errText, h.Detail})
}

// Health probes the configured upstreams concurrently, in the order Tempo, Loki, Kafka.
func (e *Engine) Health(ctx context.Context) []SourceHealth {
	out := []SourceHealth{{Name: "Tempo"}, {Name: "Loki"}, {Name: "Kafka"}}
	var wg sync.WaitGroup
	if e.tempo != nil {
		out[0].Configured = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[0].Err = e.tempo.CheckHealth(ctx)
			out[0].Detail = e.cfg.Tempo.URL
		}()
	}
	if e.loki != nil {
		out[1].Configured = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[1].Err = e.loki.CheckHealth(ctx)
			out[1].Detail = e.cfg.Loki.URL
		}()
	}
	if e.kafka != nil {
		out[2].Configured = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := e.kafka.CheckHealth(ctx)
			out[2].Err = err
			if err == nil && h != nil {
				out[2].Detail = h.Summary()
			}
		}()
	}
	wg.Wait()
	for i := range out {
		out[i].Err = e.redact.Error(out[i].Err)
		out[i].Detail = e.redact.Text(out[i].Detail)
	}
	return out
}
