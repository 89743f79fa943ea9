import React, { ClipboardEvent, KeyboardEvent, useRef, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import {
  ComboboxOption,
  InlineField,
  InlineFieldRow,
  Input,
  MultiCombobox,
  RadioButtonGroup,
  Stack,
  Text,
  TextArea,
} from '@grafana/ui';

import { DataSource } from '../datasource';
import { ALL_FRAMES, DEFAULT_FRAMES, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, MAX_TRACEQL_LEN } from '../defaults';
import { MAX_SPAN_ID_HEX, normalizeSpanId, parseTraceInput, ParsedTraceInput, validateHexId } from '../traceId';
import { FrameName, Options, Query, QueryType, Source } from '../types';
import { validateIntRange, validateTraceQL } from '../validation';

type Props = QueryEditorProps<DataSource, Query, Options>;

const QUERY_TYPE_OPTIONS: Array<SelectableValue<QueryType>> = [
  { label: 'Timeline', value: 'timeline', description: 'Trace, logs and the merged timeline' },
  { label: 'Logs', value: 'logs', description: 'Only the logs (of one span when a span ID is set)' },
  { label: 'Search', value: 'search', description: 'TraceQL search: every found trace with its logs' },
];

/** The sources a search reads the found traces' logs from: Tempo is always asked (docs/DESIGN.md, "Search"). */
const LOG_SOURCES: readonly Source[] = ['loki', 'kafka'];

const SOURCE_LABELS: Record<Source, string> = { tempo: 'Tempo', loki: 'Loki', kafka: 'Kafka' };

// What each frame is for (docs/DESIGN.md, "Frames"): a panel picks the one it shows.
const FRAME_DESCRIPTIONS: Record<FrameName, string> = {
  trace: 'Trace view, with the logs inside their spans',
  logs: 'Logs panel',
  timeline: 'Table of spans and logs',
  summary: 'Time per tier',
  firstError: 'The first error row, for a stat panel',
};

const FRAME_OPTIONS: Array<ComboboxOption<FrameName>> = ALL_FRAMES.map((f) => ({
  label: f,
  value: f,
  description: FRAME_DESCRIPTIONS[f],
}));

/**
 * withFrames stores a frame selection in ALL_FRAMES order without duplicates (the order the backend
 * answers in); an empty selection removes the field, which means DEFAULT_FRAMES.
 */
function withFrames(query: Query, frames: readonly FrameName[]): Query {
  const next: Query = { ...query };
  delete next.frames;
  const ordered = ALL_FRAMES.filter((f) => frames.includes(f));
  return ordered.length > 0 ? { ...next, frames: ordered } : next;
}

/**
 * withQueryType switches the query type, keeping only what the backend accepts for it: a logs query
 * takes no frame selection; a search takes no trace or span ID, no frames and no Tempo source (it
 * always asks Tempo). The TraceQL and limit stay when leaving a search, so switching back keeps them.
 */
function withQueryType(query: Query, queryType: QueryType): Query {
  if (queryType === 'logs') {
    return withFrames({ ...query, queryType }, []);
  }
  if (queryType !== 'search') {
    return { ...query, queryType };
  }
  const next: Query = { ...withFrames(query, []), queryType, traceId: '' };
  delete next.spanId;
  const sources = (query.sources ?? []).filter((s) => LOG_SOURCES.includes(s));
  delete next.sources;
  return sources.length > 0 ? { ...next, sources } : next;
}

/** parseLimit maps an emptied limit field to undefined (the datasource's search.limit). */
function parseLimit(raw: string): number | undefined {
  const v = raw.trim();
  return v === '' ? undefined : Number(v);
}

function describeExtraction(p: ParsedTraceInput): string | undefined {
  if (p.error || (p.kind !== 'traceparent' && p.kind !== 'url')) {
    return undefined;
  }
  const from = p.kind === 'traceparent' ? 'traceparent header' : 'URL';
  return `Trace ID taken from the ${from}${p.spanId ? `, span ID ${p.spanId}` : ''}.`;
}

/**
 * QueryEditor asks for a trace ID (hex, a traceparent header or a trace URL), or for a search's
 * TraceQL and limit, what to return and from which sources. It runs the query on blur or Enter
 * (Shift+Enter in the TraceQL), never on each keystroke; the selectors run it on each change.
 */
export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const [traceInput, setTraceInput] = useState(query.traceId ?? '');
  const [spanInput, setSpanInput] = useState(query.spanId ?? '');
  const [traceqlInput, setTraceqlInput] = useState(query.traceql ?? '');
  const [limitInput, setLimitInput] = useState(query.limit?.toString() ?? '');
  const [note, setNote] = useState<string>();
  const lastRun = useRef<string | undefined>(undefined);

  // Follow changes made outside the editor (query history, links, another
  // tab): adjust state while rendering, as React recommends over an effect.
  const [seen, setSeen] = useState({
    traceId: query.traceId,
    spanId: query.spanId,
    traceql: query.traceql,
    limit: query.limit,
  });
  if (
    seen.traceId !== query.traceId ||
    seen.spanId !== query.spanId ||
    seen.traceql !== query.traceql ||
    seen.limit !== query.limit
  ) {
    setSeen({ traceId: query.traceId, spanId: query.spanId, traceql: query.traceql, limit: query.limit });
    setTraceInput(query.traceId ?? '');
    setSpanInput(query.spanId ?? '');
    setTraceqlInput(query.traceql ?? '');
    setLimitInput(query.limit?.toString() ?? '');
  }

  const isSearch = query.queryType === 'search';
  const traceError = parseTraceInput(traceInput).error;
  const spanError = validateHexId(normalizeSpanId(spanInput), MAX_SPAN_ID_HEX, 'span');
  const traceqlError = validateTraceQL(traceqlInput);
  const limitError = validateIntRange(parseLimit(limitInput), 1, MAX_SEARCH_LIMIT);
  const defaultLimit = datasource.jsonData.search?.limit ?? DEFAULT_SEARCH_LIMIT;

  /** runnable says whether next can be sent: a search needs a valid TraceQL and limit, a trace query valid IDs. */
  const runnable = (next: Query): boolean =>
    next.queryType === 'search'
      ? (next.traceql ?? '').trim() !== '' &&
        !validateTraceQL(next.traceql) &&
        !validateIntRange(next.limit, 1, MAX_SEARCH_LIMIT)
      : (next.traceId ?? '') !== '' && !traceError && !spanError;

  const run = (next: Query, force: boolean) => {
    const key = JSON.stringify(next);
    if (!force && key === lastRun.current) {
      return;
    }
    lastRun.current = key;
    onRunQuery();
  };

  /** commit stores what the inputs hold; it runs the query when the IDs are valid. */
  const commit = (rawTrace: string, rawSpan: string, force: boolean) => {
    const parsed = parseTraceInput(rawTrace);
    const spanId = parsed.spanId ?? normalizeSpanId(rawSpan);
    if (parsed.error) {
      onChange({ ...query, traceId: rawTrace.trim(), spanId: spanId || undefined });
      return;
    }
    const next: Query = { ...query, traceId: parsed.traceId, spanId: spanId || undefined };
    setTraceInput(parsed.traceId);
    setSpanInput(spanId);
    setNote(describeExtraction(parsed) ?? note);
    onChange(next);
    if (next.traceId !== '' && !validateHexId(spanId, MAX_SPAN_ID_HEX, 'span')) {
      run(next, force);
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit(traceInput, spanInput, true);
    }
  };

  // A pasted traceparent or URL becomes the bare ID at once, so the user sees what will be queried.
  const onPasteTrace = (e: ClipboardEvent<HTMLInputElement>) => {
    const text = e.clipboardData.getData('text/plain') || e.clipboardData.getData('text');
    const parsed = parseTraceInput(text);
    if (!parsed.error && (parsed.kind === 'traceparent' || parsed.kind === 'url')) {
      e.preventDefault();
      setTraceInput(parsed.traceId);
      if (parsed.spanId) {
        setSpanInput(parsed.spanId);
      }
      setNote(describeExtraction(parsed));
      onChange({ ...query, traceId: parsed.traceId, spanId: parsed.spanId ?? (query.spanId || undefined) });
    }
  };

  /** commitSearch stores the TraceQL and limit the inputs hold; it runs the search when both are valid. */
  const commitSearch = (rawTraceql: string, rawLimit: string, force: boolean) => {
    const next: Query = { ...query, traceql: rawTraceql };
    delete next.limit;
    const limit = parseLimit(rawLimit);
    if (limit !== undefined) {
      next.limit = limit;
    }
    onChange(next);
    if (runnable(next)) {
      run(next, force);
    }
  };

  const onTraceqlKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && e.shiftKey) {
      e.preventDefault();
      commitSearch(traceqlInput, limitInput, true);
    }
  };

  // A search reads logs from the log sources only; Tempo is always searched.
  const configured = datasource.configuredSources().filter((s) => !isSearch || LOG_SOURCES.includes(s));
  const selected = query.sources ?? [];
  const sourceOptions: Array<ComboboxOption<Source>> = [
    ...configured.map((s) => ({ label: SOURCE_LABELS[s], value: s })),
    ...selected
      .filter((s) => !configured.includes(s))
      .map((s) => ({ label: `${SOURCE_LABELS[s] ?? s} (not configured)`, value: s })),
  ];

  const setAndRun = (next: Query) => {
    onChange(next);
    if (runnable(next)) {
      run(next, true);
    }
  };

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        {isSearch ? (
          <InlineField
            label="TraceQL"
            labelWidth={14}
            grow
            tooltip={`A TraceQL query over the panel's time range, e.g. { status = error } or { resource.service.name = "checkout" && duration > 2s }; dashboard variables are filled in. Every trace it finds is fetched with its logs. At most ${MAX_TRACEQL_LEN} bytes. Runs on Shift+Enter or when the field loses focus.`}
            invalid={Boolean(traceqlError)}
            error={traceqlError}
          >
            <TextArea
              id="traceweave-traceql"
              rows={2}
              placeholder="{ status = error }"
              maxLength={MAX_TRACEQL_LEN}
              value={traceqlInput}
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => setTraceqlInput(e.currentTarget.value)}
              onBlur={(e) => commitSearch(e.currentTarget.value, limitInput, false)}
              onKeyDown={onTraceqlKeyDown}
            />
          </InlineField>
        ) : (
          <InlineField
            label="Trace ID"
            labelWidth={14}
            grow
            tooltip="Hex trace ID (1–32 digits). You can also paste a W3C traceparent header (00-<trace>-<span>-01) or a Tempo, Jaeger or Grafana Explore trace URL: the ID is taken from it. Runs on Enter or when the field loses focus."
            invalid={Boolean(traceError)}
            error={traceError}
          >
            <Input
              id="traceweave-trace-id"
              placeholder="4bf92f3577b34da6a3ce929d0e0e4736, a traceparent or a trace URL"
              value={traceInput}
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => {
                setTraceInput(e.currentTarget.value);
                setNote(undefined);
              }}
              onPaste={onPasteTrace}
              onBlur={(e) => commit(e.currentTarget.value, spanInput, false)}
              onKeyDown={onKeyDown}
            />
          </InlineField>
        )}
        <InlineField
          label="Query type"
          tooltip="Timeline: the trace, its logs and the merged timeline. Logs: only the logs frame (of one span when a span ID is set). Search: the traces a TraceQL query finds, one row each with its log counts, first error and slowest tier. Default: Timeline."
        >
          <RadioButtonGroup<QueryType>
            options={QUERY_TYPE_OPTIONS}
            value={query.queryType ?? 'timeline'}
            onChange={(v) => setAndRun(withQueryType(query, v))}
          />
        </InlineField>
      </InlineFieldRow>
      {!isSearch && note && (
        <Text color="secondary" variant="bodySmall" element="p">
          {note}
        </Text>
      )}
      <InlineFieldRow>
        {isSearch ? (
          <InlineField
            label="Limit"
            labelWidth={14}
            tooltip={`Traces to return, 1 to ${MAX_SEARCH_LIMIT}; Tempo's most recent first. Default: the data source's ${defaultLimit}.`}
            invalid={Boolean(limitError)}
            error={limitError}
          >
            <Input
              id="traceweave-limit"
              type="number"
              min={1}
              max={MAX_SEARCH_LIMIT}
              width={24}
              placeholder={String(defaultLimit)}
              value={limitInput}
              onChange={(e) => setLimitInput(e.currentTarget.value)}
              onBlur={(e) => commitSearch(traceqlInput, e.currentTarget.value, false)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  commitSearch(traceqlInput, limitInput, true);
                }
              }}
            />
          </InlineField>
        ) : (
          <InlineField
            label="Span ID"
            labelWidth={14}
            tooltip="Optional hex span ID (at most 16 digits). With query type Logs, only that span's logs are returned. Default: none (whole trace)."
            invalid={Boolean(spanError)}
            error={spanError}
          >
            <Input
              id="traceweave-span-id"
              width={24}
              placeholder="optional"
              value={spanInput}
              spellCheck={false}
              autoComplete="off"
              onChange={(e) => setSpanInput(e.currentTarget.value)}
              onBlur={(e) => commit(traceInput, e.currentTarget.value, false)}
              onKeyDown={onKeyDown}
            />
          </InlineField>
        )}
        <InlineField
          label="Sources"
          tooltip={
            isSearch
              ? 'Log sources to read for the found traces (Tempo is always searched); only those configured in this data source are offered. Default: all configured log sources.'
              : 'Sources to read; only those configured in this data source are offered. Default: all configured sources.'
          }
        >
          <MultiCombobox<Source>
            id="traceweave-sources"
            width={40}
            options={sourceOptions}
            value={selected}
            disabled={configured.length === 0 && selected.length === 0}
            placeholder={
              configured.length === 0
                ? `No ${isSearch ? 'log source' : 'source'} configured`
                : `All configured ${isSearch ? 'log sources' : 'sources'}`
            }
            onChange={(v) => {
              const sources = v.map((o) => o.value);
              setAndRun({ ...query, sources: sources.length > 0 ? sources : undefined });
            }}
          />
        </InlineField>
      </InlineFieldRow>
      {query.queryType !== 'logs' && !isSearch && (
        <InlineFieldRow>
          <InlineField
            label="Frames"
            labelWidth={14}
            tooltip={`Frames to return. Select the one this panel shows: the panels of a dashboard share one fetch of the trace, and each then builds and sends only its own frame. Default: ${DEFAULT_FRAMES.join(', ')}.`}
          >
            <MultiCombobox<FrameName>
              id="traceweave-frames"
              width={60}
              options={FRAME_OPTIONS}
              value={query.frames ?? []}
              placeholder={`Default: ${DEFAULT_FRAMES.join(', ')}`}
              onChange={(v) => {
                const frames = v.map((o) => o.value);
                setAndRun(withFrames(query, frames));
              }}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </Stack>
  );
}
