import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { InlineField, Input, RadioButtonGroup } from '@grafana/ui';

import {
  DEFAULT_LOKI_MAX_LINES,
  DEFAULT_LOKI_MAX_TOTAL_LINES,
  DEFAULT_LOKI_PARALLEL_QUERIES,
  DEFAULT_LOKI_SELECTOR,
  DEFAULT_LOKI_TRACE_FILTER,
  MAX_LOKI_PARALLEL_QUERIES,
} from '../../defaults';
import { LokiOptions, TraceFilterMode } from '../../types';
import { validateIntRange, validatePositiveInt, validateSelector } from '../../validation';
import { ConfigProps, formatCount, INPUT_WIDTH, LABEL_WIDTH, numberValue, patchSection, textValue } from './helpers';
import { HttpUpstreamFields } from './HttpUpstreamFields';

const TRACE_FILTER_OPTIONS: Array<{ label: string; value: TraceFilterMode; description: string }> = [
  { label: 'Auto', value: 'auto', description: 'Structured metadata trace_id, or the ID in the line' },
  { label: 'Structured metadata', value: 'structured', description: '| trace_id="<id>" (OTLP-ingested logs)' },
  { label: 'Line contains', value: 'line', description: '|= "<id>" (any log that prints the ID)' },
];

/** LokiSettings configures where log lines come from. */
export function LokiSettings(props: ConfigProps) {
  const loki: LokiOptions = props.options.jsonData.loki ?? {};
  const set = (patch: Partial<LokiOptions>) => patchSection(props, 'loki', patch);
  const selectorError = validateSelector(loki.selector, DEFAULT_LOKI_SELECTOR);
  const maxLinesError = validatePositiveInt(loki.maxLines);
  const maxTotalError = validatePositiveInt(loki.maxTotalLines);
  const parallelError = validateIntRange(loki.parallelQueries, 1, MAX_LOKI_PARALLEL_QUERIES);

  return (
    <section aria-label="Loki settings">
      <ConfigSection
        title="Loki"
        description="Log lines of the trace are read from Loki (query_range over the trace's time window)."
      >
        <HttpUpstreamFields {...props} section="loki" title="Loki" exampleUrl="http://loki:3100" />
        <InlineField
          label="Stream selector"
          labelWidth={LABEL_WIDTH}
          tooltip={`LogQL stream selector of the streams to search; one matcher must not match the empty string. Default: ${DEFAULT_LOKI_SELECTOR}.`}
          invalid={Boolean(selectorError)}
          error={selectorError}
        >
          <Input
            id="loki-selector"
            width={INPUT_WIDTH}
            placeholder={DEFAULT_LOKI_SELECTOR}
            value={loki.selector ?? ''}
            onChange={(e) => set({ selector: textValue(e) })}
          />
        </InlineField>
        <InlineField
          label="Trace filter"
          labelWidth={LABEL_WIDTH}
          tooltip={`How a line is tied to the trace. Structured: the trace_id structured metadata (OTLP logs). Line: the trace ID appears in the text. Auto: either. Default: ${DEFAULT_LOKI_TRACE_FILTER}.`}
        >
          <RadioButtonGroup<TraceFilterMode>
            id="loki-trace-filter"
            options={TRACE_FILTER_OPTIONS}
            value={loki.traceFilter ?? DEFAULT_LOKI_TRACE_FILTER}
            onChange={(v) => set({ traceFilter: v })}
          />
        </InlineField>
        <InlineField
          label="Max lines per request"
          labelWidth={LABEL_WIDTH}
          tooltip={`Lines asked of Loki per query_range call (its limit parameter); results are paged. Keep it ≤ Loki's max_entries_limit_per_query. Default: ${formatCount(DEFAULT_LOKI_MAX_LINES)}.`}
          invalid={Boolean(maxLinesError)}
          error={maxLinesError}
        >
          <Input
            id="loki-max-lines"
            type="number"
            min={1}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_LOKI_MAX_LINES)}
            value={loki.maxLines ?? ''}
            onChange={(e) => set({ maxLines: numberValue(e) })}
          />
        </InlineField>
        <InlineField
          label="Max lines per trace"
          labelWidth={LABEL_WIDTH}
          tooltip={`Stop paging after this many lines for one trace; the result says it was truncated. Default: ${formatCount(DEFAULT_LOKI_MAX_TOTAL_LINES)}.`}
          invalid={Boolean(maxTotalError)}
          error={maxTotalError}
        >
          <Input
            id="loki-max-total-lines"
            type="number"
            min={1}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_LOKI_MAX_TOTAL_LINES)}
            value={loki.maxTotalLines ?? ''}
            onChange={(e) => set({ maxTotalLines: numberValue(e) })}
          />
        </InlineField>
        <InlineField
          label="Parallel requests"
          labelWidth={LABEL_WIDTH}
          tooltip={`When a trace's first page of lines is full, the rest is read with up to this many requests at once, each over its own stretch of time (1: page after page). Default: ${DEFAULT_LOKI_PARALLEL_QUERIES}.`}
          invalid={Boolean(parallelError)}
          error={parallelError}
        >
          <Input
            id="loki-parallel-queries"
            type="number"
            min={1}
            max={MAX_LOKI_PARALLEL_QUERIES}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_LOKI_PARALLEL_QUERIES)}
            value={loki.parallelQueries ?? ''}
            onChange={(e) => set({ parallelQueries: numberValue(e) })}
          />
        </InlineField>
      </ConfigSection>
    </section>
  );
}
