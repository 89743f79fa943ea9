// Parsing of what users paste into the trace ID field. Pure functions, no
// Grafana imports: the query editor and DataSource.applyTemplateVariables use
// the same rules, and the backend (pkg/models/traceid.go) has the final word.

/** MAX_TRACE_ID_HEX is the length of a 128-bit trace ID in hex; shorter IDs are left-padded by the backend. */
export const MAX_TRACE_ID_HEX = 32;
/** MAX_SPAN_ID_HEX is the length of a 64-bit span ID in hex. */
export const MAX_SPAN_ID_HEX = 16;

/** TraceInputKind tells where a trace ID came from. */
export type TraceInputKind = 'empty' | 'hex' | 'variable' | 'traceparent' | 'url';

/** ParsedTraceInput is the result of parseTraceInput. */
export interface ParsedTraceInput {
  kind: TraceInputKind;
  /** Lower-case hex trace ID ('' when empty or invalid); the input itself for a template variable. */
  traceId: string;
  /** Span ID found next to the trace ID (traceparent, or a spanId in a URL). */
  spanId?: string;
  /** Set when the input cannot give a trace ID: a message for the user. */
  error?: string;
}

const HEX_RE = /^[0-9a-f]+$/i;
// W3C Trace Context: version-traceid-parentid-flags. An optional "traceparent:" header name is tolerated.
const TRACEPARENT_RE = /^(?:traceparent\s*[:=]\s*)?([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/i;
// Grafana template variables: $var, ${var}, ${var:fmt}, [[var]].
const VARIABLE_RE = /\$\w+|\$\{[^}]+\}|\[\[[^\]]+\]\]/;

// Where a trace ID sits in a URL or in the JSON of an Explore URL's panes/left
// parameter, after URL-decoding. First match wins.
const TRACE_ID_PATTERNS: RegExp[] = [
  /\/trace\/([0-9a-f]+)(?![0-9a-z])/i, // Jaeger / Tempo style path: /trace/<id>
  /[?&#;]trace[_-]?id=([0-9a-f]+)(?![0-9a-z])/i, // traceId=, traceID=, trace_id= query parameters
  /"trace[_-]?id"\s*:\s*"([0-9a-f]+)"/i, // JSON "traceId"/"traceID": "<id>" (e.g. a Traceweave query in panes)
  /"query"\s*:\s*"\s*([0-9a-f]{1,32})\s*"/i, // Explore pane with a Tempo trace-ID query
];
const SPAN_ID_PATTERNS: RegExp[] = [
  /[?&#;]span[_-]?id=([0-9a-f]{1,16})(?![0-9a-z])/i,
  /"span[_-]?id"\s*:\s*"([0-9a-f]{1,16})"/i,
];

/** hasTemplateVariable reports whether s holds a Grafana template variable. */
export function hasTemplateVariable(s: string): boolean {
  return VARIABLE_RE.test(s);
}

/**
 * validateHexId checks an ID of at most maxLen hex digits and returns a
 * message for the user, or undefined when it is valid (or empty).
 */
export function validateHexId(id: string, maxLen: number, what: 'trace' | 'span'): string | undefined {
  if (id === '') {
    return undefined;
  }
  const bad = id.search(/[^0-9a-f]/i);
  if (bad >= 0) {
    return `Not a ${what} ID: character ${bad + 1} ("${id[bad]}") is not a hex digit. Use 1–${maxLen} hex digits (0-9, a-f)${
      what === 'trace' ? ', a traceparent header or a trace URL' : ''
    }.`;
  }
  if (id.length > maxLen) {
    return `Not a ${what} ID: ${id.length} hex digits, at most ${maxLen} allowed.`;
  }
  if (/^0+$/.test(id)) {
    return `Not a ${what} ID: an all-zero ID is invalid.`;
  }
  return undefined;
}

/** normalizeSpanId trims and lower-cases a span ID; validateHexId(…, 16, 'span') tells whether it is valid. */
export function normalizeSpanId(input: string | undefined): string {
  const s = (input ?? '').trim();
  return hasTemplateVariable(s) ? s : s.toLowerCase();
}

/** decodeAll URL-decodes s until it stops changing (Explore URLs are often encoded twice). */
function decodeAll(s: string): string {
  let cur = s;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur.replace(/\+/g, ' '));
    } catch {
      return cur; // a stray % that is not an escape: keep what decoded so far
    }
    if (next === cur) {
      return cur;
    }
    cur = next;
  }
  return cur;
}

function firstMatch(s: string, patterns: RegExp[]): string | undefined {
  for (const re of patterns) {
    const m = re.exec(s);
    if (m) {
      return m[1];
    }
  }
  return undefined;
}

function looksLikeUrlOrJson(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /[/?&={}"%]/.test(s);
}

/**
 * parseTraceInput turns what a user typed or pasted into a trace ID:
 * plain hex (1–32 digits), a W3C traceparent header (00-<32hex>-<16hex>-<2hex>,
 * which also gives a span ID), or a Tempo/Jaeger/Grafana Explore URL
 * (/trace/<id>, traceId=, traceID=, or "query":"<id>" inside the
 * URL-encoded panes/left JSON). Template variables are kept verbatim.
 */
export function parseTraceInput(input: string | undefined): ParsedTraceInput {
  const s = (input ?? '').trim();
  if (s === '') {
    return { kind: 'empty', traceId: '' };
  }
  if (hasTemplateVariable(s) && !looksLikeUrlOrJson(s.replace(VARIABLE_RE, ''))) {
    return { kind: 'variable', traceId: s };
  }
  if (HEX_RE.test(s)) {
    const error = validateHexId(s, MAX_TRACE_ID_HEX, 'trace');
    return error ? { kind: 'hex', traceId: '', error } : { kind: 'hex', traceId: s.toLowerCase() };
  }

  const tp = TRACEPARENT_RE.exec(s);
  if (tp) {
    const [, version, traceId, spanId] = tp;
    if (version.toLowerCase() === 'ff') {
      return { kind: 'traceparent', traceId: '', error: 'Invalid traceparent: version ff is forbidden.' };
    }
    const error = validateHexId(traceId, MAX_TRACE_ID_HEX, 'trace');
    if (error) {
      return { kind: 'traceparent', traceId: '', error: `Invalid traceparent: ${error}` };
    }
    const spanError = validateHexId(spanId, MAX_SPAN_ID_HEX, 'span');
    return { kind: 'traceparent', traceId: traceId.toLowerCase(), spanId: spanError ? undefined : spanId.toLowerCase() };
  }

  if (looksLikeUrlOrJson(s)) {
    const decoded = decodeAll(s);
    const found = firstMatch(decoded, TRACE_ID_PATTERNS);
    if (found !== undefined) {
      const error = validateHexId(found, MAX_TRACE_ID_HEX, 'trace');
      if (error) {
        return { kind: 'url', traceId: '', error: `The URL holds "${found}": ${error}` };
      }
      const span = firstMatch(decoded, SPAN_ID_PATTERNS);
      return {
        kind: 'url',
        traceId: found.toLowerCase(),
        ...(span !== undefined && !validateHexId(span, MAX_SPAN_ID_HEX, 'span') ? { spanId: span.toLowerCase() } : {}),
      };
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('/')) {
      return {
        kind: 'url',
        traceId: '',
        error: 'No trace ID found in this URL: expected /trace/<id>, traceId=<id> or an Explore link to a trace.',
      };
    }
  }
  return { kind: 'hex', traceId: '', error: validateHexId(s, MAX_TRACE_ID_HEX, 'trace') };
}

/**
 * normalizeTraceId returns the trace ID parseTraceInput finds in input, or
 * the trimmed input unchanged when it finds none (the backend then reports
 * the error for that query alone).
 */
export function normalizeTraceId(input: string | undefined): string {
  const parsed = parseTraceInput(input);
  return parsed.error || parsed.kind === 'empty' ? (input ?? '').trim() : parsed.traceId;
}
