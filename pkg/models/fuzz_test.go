package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxErrorText bounds error messages built from user input: clip keeps
// hostile or huge input out of panels and logs, so no message may grow with
// the input.
const maxErrorText = 400

// checkHexID holds for both ID kinds: an accepted ID is exactly width lower
// hex digits (so it is safe inside LogQL and Kafka keys), equal to the
// trimmed input left-padded and lower-cased, and normalising it again is a
// no-op; a rejected ID wraps the sentinel with a bounded message.
func checkHexID(t *testing.T, in string, width int, norm func(string) (string, error), sentinel error) {
	t.Helper()
	out, err := norm(in)
	if err != nil {
		if !errors.Is(err, sentinel) {
			t.Fatalf("%q: error %v does not wrap %v", in, err, sentinel)
		}
		if len(err.Error()) > maxErrorText {
			t.Fatalf("%q: error message grows with the input (%d bytes)", in, len(err.Error()))
		}
		return
	}
	if len(out) != width || !isLowerHex(out) {
		t.Fatalf("%q: accepted as %q, not %d lower-case hex digits", in, out, width)
	}
	trimmed := strings.ToLower(strings.TrimSpace(in))
	if !strings.HasSuffix(out, trimmed) || strings.Trim(out[:width-len(trimmed)], "0") != "" {
		t.Fatalf("%q: normalised to %q, want the input left-padded with zeros", in, out)
	}
	again, err := norm(out)
	if err != nil || again != out {
		t.Fatalf("%q: normalising %q again gave %q, %v", in, out, again, err)
	}
}

// FuzzNormalizeTraceID checks the trace and span ID parsers, the gate every
// user-supplied ID passes before it is embedded in a LogQL query or used
// as a Kafka key: whatever comes in, only plain hex of the right width
// comes out.
func FuzzNormalizeTraceID(f *testing.F) {
	for _, s := range []string{
		"4bf92f3577b34da6a3ce929d0e0e4736",
		"  4BF92F3577B34DA6A3CE929D0E0E4736\n",
		"a3ce929d0e0e4736",
		"abc",
		"",
		"4bf92f3577b34da6a3ce929d0e0e47361",
		`4bf9"} |= "x`,
		"4bf92f35\n77b34da6",
		"0x4bf92f3577b34da6",
		"４bf9", // full-width digit
		strings.Repeat("é", 40),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkHexID(t, in, 32, NormalizeTraceID, ErrInvalidTraceID)
		checkHexID(t, in, 16, NormalizeSpanID, ErrInvalidSpanID)
	})
}

// FuzzParseQuery checks the panel query parser with any JSON a dashboard,
// a link or a hostile user can send: it never panics, an accepted query is
// normalised (IDs hex, a known query type, known deduplicated sources), and
// parsing the accepted query again yields the same query.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []struct{ raw, qt string }{
		{`{"refId":"A","traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}`, ""},
		{`{"refId":"A","traceId":"ABC","spanId":"1","sources":["loki","tempo","loki"]}`, ""},
		{`{"traceId":"abc","queryType":"logs","spanId":"00f067aa0ba90201"}`, ""},
		{`{"query":"4BF92F3577B34DA6A3CE929D0E0E4736"}`, "timeline"},
		{`{"traceId":"abc","sources":["elastic"]}`, ""},
		{`{"traceId":"abc","queryType":"metrics"}`, ""},
		{`{"traceId":"4bf9\"} |= \"x","spanId":"\n"}`, ""},
		{`{"traceId":`, ""},
		{`null`, "logs"},
		{`[]`, ""},
		{``, ""},
	} {
		f.Add([]byte(s.raw), s.qt)
	}
	f.Fuzz(func(t *testing.T, raw []byte, queryType string) {
		q, err := ParseQuery(raw, queryType)
		if err != nil {
			if len(err.Error()) > maxErrorText {
				t.Fatalf("error message grows with the input (%d bytes): %.200s", len(err.Error()), err.Error())
			}
			return
		}
		if len(q.TraceID) != 32 || !isLowerHex(q.TraceID) {
			t.Fatalf("accepted trace ID %q is not 32 lower-case hex digits", q.TraceID)
		}
		if q.SpanID != "" && (len(q.SpanID) != 16 || !isLowerHex(q.SpanID)) {
			t.Fatalf("accepted span ID %q is not 16 lower-case hex digits", q.SpanID)
		}
		if q.QueryType != QueryTypeTimeline && q.QueryType != QueryTypeLogs {
			t.Fatalf("accepted query type %q", q.QueryType)
		}
		seen := map[string]bool{}
		for _, s := range q.Sources {
			if seen[s] || (s != SourceTempo && s != SourceLoki && s != SourceKafka) {
				t.Fatalf("sources %q: unknown or repeated %q", q.Sources, s)
			}
			seen[s] = true
		}
		again, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		q2, err := ParseQuery(again, "")
		if err != nil {
			t.Fatalf("re-parsing accepted query %s: %v", again, err)
		}
		if q2.TraceID != q.TraceID || q2.SpanID != q.SpanID || q2.QueryType != q.QueryType || strings.Join(q2.Sources, ",") != strings.Join(q.Sources, ",") {
			t.Fatalf("re-parsing changed the query: %+v → %+v", q, q2)
		}
	})
}

// FuzzLoadSettings checks the datasource settings decoder with any jsonData
// Grafana may hold (hand-edited provisioning, older plugin versions): it
// never panics, every error wraps ErrInvalidSettings and never contains a
// secret, and accepted settings validate again with a usable Loki selector.
func FuzzLoadSettings(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"tempo":{"url":"http://tempo:3200","basicAuthUser":"u","timeout":"500ms"},"loki":{"url":"http://loki:3100","selector":"{service_name=~\".+\"}","maxTotalLines":10}}`,
		`{"kafka":{"brokers":["kafka:9092"],"topics":[{"name":"otlp_logs","keyedByTraceId":true},{"name":"audit","encoding":"json"}],"sasl":{"mechanism":"PLAIN","username":"tw"}}}`,
		`{"window":{"before":"30s","after":"2m"},"tiers":[{"tier":"rails","match":{"attribute":"service.name","regex":"^rails"}}]}`,
		`{"loki":{"url":"http://loki:3100","selector":"{a=\"b\"} |= \"x\""}}`,
		`{"tempo":{"url":"http://user:pw@tempo:3200"}}`,
		`{"tempo":{"timeout":30}}`,
		`{"tiers":[{"tier":"go","match":{"attribute":"x","regex":"("}}]}`,
		`[1,2]`,
		`{"kafka":{"brokers":[""],"topics":[{"name":"../x"}]}}`,
	} {
		f.Add([]byte(s), "s3cret-Passw0rd")
	}
	f.Fuzz(func(t *testing.T, jsonData []byte, secret string) {
		secure := map[string]string{
			"tempoPassword": secret, "tempoBearerToken": secret,
			"lokiPassword": secret, "lokiBearerToken": secret, "kafkaPassword": secret,
		}
		s, err := LoadSettings(jsonData, secure)
		if err != nil {
			if !errors.Is(err, ErrInvalidSettings) {
				t.Fatalf("error %v does not wrap ErrInvalidSettings", err)
			}
			// A secret can only appear in an error if the user also typed it
			// into jsonData; short strings collide with ordinary words.
			if len(secret) >= 6 && utf8.ValidString(secret) && !bytes.Contains(jsonData, []byte(secret)) &&
				strings.Contains(err.Error(), secret) {
				t.Fatalf("error message contains the secret %q: %v", secret, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted settings do not validate again: %v", err)
		}
		if err := ValidateSelector(s.Loki.Selector); err != nil {
			t.Fatalf("accepted selector %q: %v", s.Loki.Selector, err)
		}
		if s.Loki.MaxLines < 1 || s.Loki.MaxTotalLines < 1 || s.Tempo.Timeout < 0 || s.Loki.Timeout < 0 {
			t.Fatalf("accepted out-of-range limits: %+v", s.Loki)
		}
		if secret != "" && len(s.Secrets()) != 5 {
			t.Fatalf("Secrets() = %d values, want all 5 secure fields", len(s.Secrets()))
		}
	})
}
