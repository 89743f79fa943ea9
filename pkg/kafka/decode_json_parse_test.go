package kafka

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// parseJSONObjectStd is the encoding/json reading parseJSONObject replaced,
// kept as the oracle: the two must agree on every object encoding/json
// accepts, strings compared after replacing invalid UTF-8 bytes as
// encoding/json does (the iterator keeps them; every decoded string is
// cleaned by validUTF8 before use).
func parseJSONObjectStd(value []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errUndecodable
	}
	return obj, nil
}

var jsonParseCorpus = []string{
	`{}`,
	`{"msg":"hello","level":"info","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
	`{"ts":1794648600123456789,"n":-0.5e+10,"z":0,"f":1.25,"big":123456789012345678901234567890}`,
	`{"a":{"b":{"c":[1,"two",true,null,{"d":[]}]}},"e":false,"f":null}`,
	`{"esc":"quote \" backslash \\ nl \n tab \t uni \u00e9 \ud83d\ude00 slash \/"}`,
	`{"":"empty key","x":1}`,
	`{"x":{"":{"y":2}},"z":[{"":3}]}`,
	`{"dup":1,"dup":2}`,
	` {"ws" : [ 1 , 2 ] } trailing garbage`,
	`{"unicode":"ünï","key ünï":"v"}`,
	`{"a":[[[[[]]]]]}`,
}

var jsonParseBad = []string{
	``, `[]`, `null`, `"s"`, `1`, `{`, `{"a"}`, `{"a":}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`,
	`{"a":.5}`, `{"a":tru}`, `{"a":[1,]}`, `{"a":"unterminated}`, `{"a":1,}`, `{"a" 1}`,
	strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
}

func TestParseJSONObjectMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonParseCorpus {
		want, err := parseJSONObjectStd([]byte(in))
		require.NoError(t, err, in)
		got, err := parseJSONObject([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, replaceInvalidUTF8(got), in)
	}
	for _, in := range jsonParseBad {
		_, err := parseJSONObject([]byte(in))
		require.ErrorIs(t, err, errUndecodable, in)
	}
}

// FuzzParseJSONObject: whatever encoding/json reads as an object (with
// valid UTF-8), parseJSONObject reads the same; it never panics.
func FuzzParseJSONObject(f *testing.F) {
	for _, in := range append(jsonParseCorpus, jsonParseBad...) {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := parseJSONObject(in)
		want, stdErr := parseJSONObjectStd(in)
		if stdErr != nil || maxDepth(want) >= maxJSONNesting {
			return
		}
		if err != nil {
			t.Fatalf("encoding/json reads %q, parseJSONObject: %v", in, err)
		}
		require.Equal(t, want, replaceInvalidUTF8(got))
	})
}

// replaceInvalidUTF8 replaces each byte that is not valid UTF-8 with
// U+FFFD in every string and key of v, as encoding/json does.
func replaceInvalidUTF8(v any) any {
	switch x := v.(type) {
	case string:
		return fixUTF8(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fixUTF8(k)] = replaceInvalidUTF8(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceInvalidUTF8(e)
		}
		return out
	}
	return v
}

func fixUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func maxDepth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, maxDepth(e))
		}
		return d + 1
	case []any:
		for _, e := range x {
			d = max(d, maxDepth(e))
		}
		return d + 1
	}
	return 0
}
