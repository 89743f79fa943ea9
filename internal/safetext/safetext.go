// Package safetext makes text that came from an upstream fit to show a
// user: printable, valid UTF-8, bounded, and free of the datasource's
// secrets. Upstream error bodies end up in panel notices, health messages
// and logs, so every such path goes through here.
package safetext

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Clip keeps the printable text of b (newlines and tabs become spaces;
// control characters and invalid UTF-8 are dropped), cut to max bytes with
// an ellipsis. A proxy's binary error page thus becomes a short, readable
// string, and a protobuf string field (the gRPC answer to Grafana) never
// receives invalid UTF-8.
func Clip(b []byte, max int) string {
	clipped := len(b) > max
	if clipped {
		b = b[:max]
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			sb.WriteByte(' ')
		case r == utf8.RuneError || r < 0x20 || r == 0x7f:
		default:
			sb.WriteRune(r)
		}
	}
	out := strings.TrimSpace(sb.String())
	if clipped {
		out += "…"
	}
	return out
}

// Redactor replaces secrets in text with "[redacted]".
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor redacts each non-empty secret, plus the Basic auth token
// base64(user:password) of every pair, because a hostile or careless
// upstream may echo the Authorization header back in its error body.
func NewRedactor(secrets []string, basicAuth ...[2]string) *Redactor {
	var pairs []string
	add := func(s string) {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	for _, s := range secrets {
		add(s)
	}
	for _, ba := range basicAuth {
		if ba[0] != "" && ba[1] != "" {
			add(base64.StdEncoding.EncodeToString([]byte(ba[0] + ":" + ba[1])))
		}
	}
	if len(pairs) == 0 {
		return &Redactor{}
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// Text returns s with every secret replaced and invalid UTF-8 repaired.
func (r *Redactor) Text(s string) string {
	s = strings.ToValidUTF8(s, "�")
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// Error returns err with a redacted message. The original stays reachable
// through errors.Is/As (classification keeps working), but its text is not
// what Error() returns.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.Text(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
