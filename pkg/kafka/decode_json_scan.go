package kafka

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
)

// jsonScanner reads a JSON object straight into its flattened fields, in
// flattenJSON's order, without the maps, interfaces and per-value strings of
// parseJSONObject: keys and values are substrings of one string copy of the
// message.
//
// It reads only what it can read exactly as parseJSONObject would, and
// reports false for anything else, which decodeJSONObject then hands to
// parseJSONObject: malformed input (so errors keep their text), duplicate
// keys (a map keeps the last), a null key, nesting at the depth limit.
// Strings with escapes and arrays are found by their delimiters; the common
// ones are decoded in place (unescapeJSON, plainArray), the others by
// json-iterator on just their bytes, with the calls parseJSONObject makes on
// them (ReadString, readJSONValue): json-iterator's reading of a value
// depends only on its own bytes, and one that reads without error ends where
// the scan found the end (a string's escapes are read in the scan's pairs,
// and brackets balance outside strings), so the result is the one in place.
type jsonScanner struct {
	b     []byte // the message
	s     string // the message as a string, which the fields share
	i     int
	nodes []jsonNode
	// extra holds the strings that are not in s: unescaped strings and
	// arrays rendered with their whitespace removed.
	extra []string
	// order is a stack of child indexes, sorted per object by key.
	order  []int32
	fields []jsonField
	sub    *jsoniter.Iterator
}

// jsonNode is one member of an object, in the order of the text; an
// object's members follow it, up to end. It holds no pointer, so building
// and dropping nodes costs the garbage collector nothing.
type jsonNode struct {
	key  jsonText
	text jsonText // as jsonField.text
	end  int32    // index after the node and its members
	kind jsonKind
}

// jsonText is a string of the scan: s[off:end], or extra[-off-1] when off
// is negative.
type jsonText struct{ off, end int32 }

func (sc *jsonScanner) text(t jsonText) string {
	if t.off < 0 {
		return sc.extra[-t.off-1]
	}
	return sc.s[t.off:t.end]
}

// span is the jsonText of s[i:j].
func span(i, j int) jsonText { return jsonText{int32(i), int32(j)} }

// own keeps a string that is not in s.
func (sc *jsonScanner) own(s string) jsonText {
	sc.extra = append(sc.extra, s)
	return jsonText{off: -int32(len(sc.extra))}
}

var jsonScanners = sync.Pool{New: func() any { return new(jsonScanner) }}

func getJSONScanner() *jsonScanner { return jsonScanners.Get().(*jsonScanner) }

// putJSONScanner returns sc to the pool without its references to the
// message; a scanner grown by a huge object is dropped instead.
func putJSONScanner(sc *jsonScanner) {
	if cap(sc.nodes) > 1024 || cap(sc.fields) > 1024 || cap(sc.extra) > 1024 {
		return
	}
	clear(sc.fields) // scan leaves no reference beyond the lengths
	clear(sc.extra)
	sc.b, sc.s, sc.fields, sc.extra = nil, "", sc.fields[:0], sc.extra[:0]
	if sc.sub != nil {
		sc.sub.ResetBytes(nil)
		sc.sub.Error = nil
	}
	jsonScanners.Put(sc)
}

// scan reads the object at the start of b (s is string(b); what follows the
// object is ignored, as parseJSONObject ignores it) into sc.fields. It
// reports false when the object is left to parseJSONObject.
func (sc *jsonScanner) scan(b []byte, s string) bool {
	if len(b) > math.MaxInt32 {
		return false
	}
	sc.b, sc.s, sc.i = b, s, 0
	sc.nodes, sc.order, sc.fields, sc.extra = sc.nodes[:0], sc.order[:0], sc.fields[:0], sc.extra[:0]
	sc.space()
	if sc.peek() != '{' || !sc.object(jsonText{}, 1) {
		return false
	}
	if !sc.flatten(0, "") {
		clear(sc.fields)
		sc.fields = sc.fields[:0]
		return false
	}
	return true
}

func (sc *jsonScanner) peek() byte {
	if sc.i < len(sc.s) {
		return sc.s[sc.i]
	}
	return 0
}

// space skips the whitespace json-iterator skips.
func (sc *jsonScanner) space() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\n', '\t', '\r':
			sc.i++
		default:
			return
		}
	}
}

// object reads the object at sc.i, whose members are at depth (the depth
// readJSONObject is called with).
func (sc *jsonScanner) object(key jsonText, depth int) bool {
	p := len(sc.nodes)
	sc.nodes = append(sc.nodes, jsonNode{key: key, kind: jsonKindObject})
	sc.i++ // {
	sc.space()
	if sc.peek() == '}' {
		sc.i++
	} else {
		for {
			if sc.peek() != '"' {
				return false
			}
			k, ok := sc.str()
			if !ok {
				return false
			}
			sc.space()
			if sc.peek() != ':' {
				return false
			}
			sc.i++
			sc.space()
			if !sc.value(k, depth) {
				return false
			}
			sc.space()
			c := sc.peek()
			sc.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return false
			}
			sc.space()
		}
	}
	sc.nodes[p].end = int32(len(sc.nodes))
	return true
}

// value reads the member value at sc.i, as readJSONValue at depth.
func (sc *jsonScanner) value(key jsonText, depth int) bool {
	n := jsonNode{key: key}
	switch c := sc.peek(); c {
	case '"':
		text, ok := sc.str()
		if !ok {
			return false
		}
		n.text, n.kind = text, jsonKindString
	case 't', 'f', 'n':
		lit, kind := "true", jsonKindBool
		switch c {
		case 'f':
			lit = "false"
		case 'n':
			lit, kind = "null", jsonKindNull
		}
		if !strings.HasPrefix(sc.s[sc.i:], lit) {
			return false
		}
		n.kind = kind
		if kind == jsonKindBool {
			n.text = span(sc.i, sc.i+len(lit))
		}
		sc.i += len(lit)
	case '{':
		if depth >= maxJSONNesting {
			return false
		}
		return sc.object(key, depth+1)
	case '[':
		if depth >= maxJSONNesting {
			return false
		}
		text, ok := sc.array(depth)
		if !ok {
			return false
		}
		n.text, n.kind = text, jsonKindArray
	default:
		if c != '-' && (c < '0' || c > '9') {
			return false
		}
		// The run json-iterator's ReadNumber takes, checked as readJSONValue checks it.
		j := sc.i
		for j < len(sc.s) && isJSONNumberByte(sc.s[j]) {
			j++
		}
		if !validJSONNumber(json.Number(sc.s[sc.i:j])) {
			return false
		}
		n.text, n.kind = span(sc.i, j), jsonKindNumber
		sc.i = j
	}
	n.end = int32(len(sc.nodes) + 1)
	sc.nodes = append(sc.nodes, n)
	return true
}

func isJSONNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// str reads the string at sc.i: without escapes it is its bytes, as
// json-iterator's ReadString returns them (invalid UTF-8 included; a control
// byte before any escape is an error there).
func (sc *jsonScanner) str() (jsonText, bool) {
	start := sc.i + 1
	for j := start; j < len(sc.s); j++ {
		switch c := sc.s[j]; {
		case c == '"':
			sc.i = j + 1
			return span(start, j), true
		case c == '\\':
			return sc.escapedStr()
		case c < ' ':
			return jsonText{}, false
		}
	}
	return jsonText{}, false
}

// escapedStr reads the string at sc.i, which has an escape, up to the
// first quote not escaped, an escape being a backslash and the byte after
// it: with unescapeJSON, else with json-iterator's ReadString on its bytes.
func (sc *jsonScanner) escapedStr() (jsonText, bool) {
	q := sc.i
	j := q + 1
	for ; j < len(sc.s); j++ {
		if c := sc.s[j]; c == '\\' {
			j++
		} else if c == '"' {
			break
		}
	}
	if j >= len(sc.s) {
		return jsonText{}, false
	}
	text, ok := unescapeJSON(sc.s[q+1 : j])
	if !ok {
		it := sc.iter(sc.b[q : j+1])
		text = it.ReadString()
		if it.Error != nil {
			return jsonText{}, false
		}
	}
	sc.i = j + 1
	return sc.own(text), true
}

// unescapeJSON is json-iterator's ReadString of the content of a string
// with escapes (no quote in it but escaped ones), for the contents it can
// read exactly: escapes that stand for one character each (\" \\ \/ \b \f
// \n \r \t, or \uXXXX outside the surrogates) and no control byte. Other
// bytes are kept as they are, invalid UTF-8 included, as json-iterator
// keeps them. Anything else reports false.
func unescapeJSON(body string) (string, bool) {
	var sb strings.Builder
	sb.Grow(len(body))
	from := 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c < ' ' {
			return "", false
		}
		if c != '\\' {
			continue
		}
		sb.WriteString(body[from:i])
		if i+1 == len(body) {
			return "", false
		}
		i++
		switch e := body[i]; e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := hex4(body[i+1:])
			if !ok || utf16.IsSurrogate(r) {
				return "", false
			}
			sb.WriteRune(r)
			i += 4
		default:
			return "", false
		}
		from = i + 1
	}
	sb.WriteString(body[from:])
	return sb.String(), true
}

// hex4 reads the four hex digits a \u escape ends with.
func hex4[T string | []byte](b T) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	r := rune(0)
	for i := 0; i < 4; i++ {
		h := b[i]
		switch {
		case h >= '0' && h <= '9':
			h -= '0'
		case h >= 'a' && h <= 'f':
			h -= 'a' - 10
		case h >= 'A' && h <= 'F':
			h -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(h)
	}
	return r, true
}

// array reads the array at sc.i and renders it as jsonString renders what
// readJSONValue reads: with plainArray, else with readJSONValue on its
// bytes, up to the bracket that closes it outside strings.
func (sc *jsonScanner) array(depth int) (jsonText, bool) {
	if text, ok := sc.plainArray(); ok {
		return text, true
	}
	q := sc.i
	level := 0
	j := q
	for ; j < len(sc.s); j++ {
		switch sc.s[j] {
		case '[', '{':
			level++
		case ']', '}':
			level--
		case '"':
			for j++; j < len(sc.s) && sc.s[j] != '"'; j++ {
				if sc.s[j] == '\\' {
					j++
				}
			}
		}
		if level == 0 {
			break
		}
	}
	if j >= len(sc.s) {
		return jsonText{}, false
	}
	it := sc.iter(sc.b[q : j+1])
	v := readJSONValue(it, depth)
	if it.Error != nil {
		return jsonText{}, false
	}
	sc.i = j + 1
	return sc.own(jsonString(v)), true
}

// iter is the scanner's json-iterator, reset to b.
func (sc *jsonScanner) iter(b []byte) *jsoniter.Iterator {
	if sc.sub == nil {
		sc.sub = jsoniter.NewIterator(jsoniter.ConfigDefault)
	}
	sc.sub.ResetBytes(b)
	sc.sub.Error = nil
	return sc.sub
}

func (sc *jsonScanner) key(i int32) string { return sc.text(sc.nodes[i].key) }

// flatten appends the leaves under the object node p to sc.fields as
// flattenJSON does: members in key order, nested objects as dotted paths,
// nulls dropped. A key twice in one object reports false (a map keeps the
// last value; parseJSONObject's reading is left to say which).
func (sc *jsonScanner) flatten(p int, prefix string) bool {
	base := len(sc.order)
	for c := int32(p + 1); c < sc.nodes[p].end; c = sc.nodes[c].end {
		sc.order = append(sc.order, c)
	}
	kids := sc.order[base:]
	if len(kids) <= 16 {
		for i := 1; i < len(kids); i++ {
			for j := i; j > 0 && sc.key(kids[j]) < sc.key(kids[j-1]); j-- {
				kids[j], kids[j-1] = kids[j-1], kids[j]
			}
		}
	} else {
		slices.SortFunc(kids, func(a, b int32) int { return strings.Compare(sc.key(a), sc.key(b)) })
	}
	for i := 1; i < len(kids); i++ {
		if sc.key(kids[i]) == sc.key(kids[i-1]) {
			return false
		}
	}
	end := len(sc.order)
	for k := base; k < end; k++ {
		c := sc.order[k]
		n := &sc.nodes[c]
		path := sc.text(n.key)
		if prefix != "" {
			path = prefix + "." + path
		}
		switch n.kind {
		case jsonKindNull:
		case jsonKindObject:
			if !sc.flatten(int(c), path) {
				return false
			}
		default:
			sc.fields = append(sc.fields, newJSONField(path, sc.text(n.text), n.kind))
		}
	}
	sc.order = sc.order[:base]
	return true
}

// plainArray reads the array at sc.i when its elements are all numbers,
// true, false, null and strings that encoding/json writes back as they are
// (no escape, no control byte, none of < > & that it escapes for HTML,
// valid UTF-8 without U+2028 and U+2029). json.Marshal of what
// readJSONValue reads is then the array's text without its whitespace.
// Anything else, nested arrays and objects included, reports false.
func (sc *jsonScanner) plainArray() (jsonText, bool) {
	s, q := sc.s, sc.i
	i, spaced := q+1, false
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
			i++
			spaced = true
		}
	}
	space()
	if i < len(s) && s[i] == ']' {
		i++
	} else {
		for {
			if i >= len(s) {
				return jsonText{}, false
			}
			switch c := s[i]; c {
			case '"':
				j, ascii := i+1, true
				for ; j < len(s) && s[j] != '"'; j++ {
					switch b := s[j]; {
					case b < ' ' || b == '\\' || b == '<' || b == '>' || b == '&':
						return jsonText{}, false
					case b >= utf8.RuneSelf:
						ascii = false
					}
				}
				if j >= len(s) {
					return jsonText{}, false
				}
				if el := s[i+1 : j]; !ascii && (!utf8.ValidString(el) || strings.Contains(el, "\u2028") || strings.Contains(el, "\u2029")) {
					return jsonText{}, false
				}
				i = j + 1
			case 't', 'f', 'n':
				lit := "true"
				if c == 'f' {
					lit = "false"
				} else if c == 'n' {
					lit = "null"
				}
				if !strings.HasPrefix(s[i:], lit) {
					return jsonText{}, false
				}
				i += len(lit)
			default:
				if c != '-' && (c < '0' || c > '9') {
					return jsonText{}, false
				}
				j := i
				for j < len(s) && isJSONNumberByte(s[j]) {
					j++
				}
				if !validJSONNumber(json.Number(s[i:j])) {
					return jsonText{}, false
				}
				i = j
			}
			space()
			if i >= len(s) {
				return jsonText{}, false
			}
			if s[i] == ']' {
				i++
				break
			}
			if s[i] != ',' {
				return jsonText{}, false
			}
			i++
			space()
		}
	}
	sc.i = i
	if !spaced {
		return span(q, i), true
	}
	var sb strings.Builder
	sb.Grow(i - q)
	in := false
	for _, b := range []byte(s[q:i]) {
		switch {
		case b == '"':
			in = !in
		case !in && (b == ' ' || b == '\n' || b == '\t' || b == '\r'):
			continue
		}
		sb.WriteByte(b)
	}
	return sc.own(sb.String()), true
}
