import { normalizeTraceId, parseTraceInput, validateHexId } from './traceId';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('parseTraceInput', () => {
  it.each([
    ['', { kind: 'empty', traceId: '' }],
    ['   ', { kind: 'empty', traceId: '' }],
    [TRACE, { kind: 'hex', traceId: TRACE }],
    [`  ${TRACE.toUpperCase()}\n`, { kind: 'hex', traceId: TRACE }],
    ['a', { kind: 'hex', traceId: 'a' }],
    ['0af7651916cd43dd', { kind: 'hex', traceId: '0af7651916cd43dd' }],
  ])('accepts hex %j', (input, want) => {
    expect(parseTraceInput(input)).toEqual(want);
  });

  it('rejects non-hex with the offending character', () => {
    const got = parseTraceInput('4bf92f35zz');
    expect(got.traceId).toBe('');
    expect(got.error).toMatch(/character 9 \("z"\) is not a hex digit/);
  });

  it('rejects more than 32 hex digits', () => {
    expect(parseTraceInput(TRACE + 'ab').error).toMatch(/34 hex digits, at most 32/);
  });

  it('rejects an all-zero ID', () => {
    expect(parseTraceInput('0000').error).toMatch(/all-zero/);
  });

  it('extracts trace and span ID from a traceparent', () => {
    expect(parseTraceInput(`00-${TRACE}-${SPAN}-01`)).toEqual({ kind: 'traceparent', traceId: TRACE, spanId: SPAN });
    expect(parseTraceInput(`traceparent: 00-${TRACE.toUpperCase()}-${SPAN}-00`)).toEqual({
      kind: 'traceparent',
      traceId: TRACE,
      spanId: SPAN,
    });
  });

  it('rejects a traceparent with version ff or a zero trace ID', () => {
    expect(parseTraceInput(`ff-${TRACE}-${SPAN}-01`).error).toMatch(/version ff/);
    expect(parseTraceInput(`00-${'0'.repeat(32)}-${SPAN}-01`).error).toMatch(/all-zero/);
  });

  it.each([
    ['Tempo/Jaeger path', `http://jaeger:16686/trace/${TRACE}`],
    ['path with query', `https://grafana.example.com/a/app/trace/${TRACE}?orgId=1`],
    ['traceId param', `https://grafana.example.com/d/abc/dash?var-traceId=x&traceId=${TRACE}`],
    ['traceID param', `https://grafana.example.com/explore?traceID=${TRACE}&orgId=1`],
    ['trace_id param', `/something?trace_id=${TRACE}`],
  ])('extracts the trace ID from a URL (%s)', (_, url) => {
    expect(parseTraceInput(url)).toEqual({ kind: 'url', traceId: TRACE });
  });

  it('extracts the trace ID from an Explore URL with encoded panes', () => {
    const panes = {
      abc: {
        datasource: 'tempo',
        queries: [{ refId: 'A', datasource: { type: 'tempo', uid: 'tempo' }, queryType: 'traceql', query: TRACE }],
        range: { from: 'now-1h', to: 'now' },
      },
    };
    const url = `http://localhost:3000/explore?schemaVersion=1&panes=${encodeURIComponent(JSON.stringify(panes))}&orgId=1`;
    expect(parseTraceInput(url)).toEqual({ kind: 'url', traceId: TRACE });
    // Links copied from some tools are encoded twice.
    const twice = `http://localhost:3000/explore?panes=${encodeURIComponent(encodeURIComponent(JSON.stringify(panes)))}`;
    expect(parseTraceInput(twice)).toEqual({ kind: 'url', traceId: TRACE });
  });

  it('extracts the trace ID from a legacy Explore left= URL', () => {
    const left = JSON.stringify(['now-1h', 'now', 'Tempo', { query: TRACE, queryType: 'traceId' }]);
    expect(parseTraceInput(`/explore?orgId=1&left=${encodeURIComponent(left)}`).traceId).toBe(TRACE);
  });

  it('extracts trace and span ID from an Explore URL of a Traceweave query', () => {
    const panes = { x: { queries: [{ refId: 'A', traceId: TRACE, spanId: SPAN }] } };
    expect(parseTraceInput(`/explore?panes=${encodeURIComponent(JSON.stringify(panes))}`)).toEqual({
      kind: 'url',
      traceId: TRACE,
      spanId: SPAN,
    });
  });

  it('ignores a TraceQL query that is not a trace ID', () => {
    const panes = { x: { queries: [{ refId: 'A', query: '{ span.http.status_code = 500 }' }] } };
    const got = parseTraceInput(`http://grafana/explore?panes=${encodeURIComponent(JSON.stringify(panes))}`);
    expect(got.traceId).toBe('');
    expect(got.error).toMatch(/No trace ID found in this URL/);
  });

  it('tolerates a malformed escape', () => {
    expect(parseTraceInput(`http://x/trace/${TRACE}?q=%E0%A4%A`).traceId).toBe(TRACE);
  });

  it.each(['$traceId', '${traceId}', '${traceId:raw}', '[[traceId]]'])('keeps template variable %s', (v) => {
    expect(parseTraceInput(v)).toEqual({ kind: 'variable', traceId: v });
  });
});

describe('validateHexId', () => {
  it('accepts empty and valid span IDs', () => {
    expect(validateHexId('', 16, 'span')).toBeUndefined();
    expect(validateHexId(SPAN, 16, 'span')).toBeUndefined();
  });
  it('rejects long or non-hex span IDs', () => {
    expect(validateHexId(SPAN + '0', 16, 'span')).toMatch(/17 hex digits, at most 16/);
    expect(validateHexId('xyz', 16, 'span')).toMatch(/Not a span ID/);
  });
});

describe('normalizeTraceId', () => {
  it('returns the parsed ID, or the trimmed input when it is invalid', () => {
    expect(normalizeTraceId(` 00-${TRACE}-${SPAN}-01 `)).toBe(TRACE);
    expect(normalizeTraceId(' nothex ')).toBe('nothex');
    expect(normalizeTraceId(undefined)).toBe('');
  });
});
