import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { InlineField, Input } from '@grafana/ui';

import { DEFAULT_CACHE_MAX_BYTES, DEFAULT_CACHE_TTL, DEFAULT_MAX_LOGS_PER_SPAN } from '../../defaults';
import { CacheOptions, TraceViewOptions } from '../../types';
import { validateDuration, validateMinInt } from '../../validation';
import { ConfigProps, formatCount, INPUT_WIDTH, LABEL_WIDTH, numberValue, patchSection, textValue } from './helpers';

const MIB = 1 << 20;

/**
 * DashboardSettings configure what the panels of a dashboard share and how much of a span's logs the
 * trace view holds (docs/DESIGN.md, "Settings", "Sharing one run" and "Frames").
 */
export function DashboardSettings(props: ConfigProps) {
  const cache: CacheOptions = props.options.jsonData.cache ?? {};
  const traceView: TraceViewOptions = props.options.jsonData.traceView ?? {};
  const setCache = (patch: Partial<CacheOptions>) => patchSection(props, 'cache', patch);
  const setTraceView = (patch: Partial<TraceViewOptions>) => patchSection(props, 'traceView', patch);
  const ttlError = validateDuration(cache.ttl);
  // 0 is valid in both: the backend reads it as the default (pkg/models/panels.go).
  const maxBytesError = validateMinInt(cache.maxBytes, 0, '0: the default');
  const maxLogsError = validateMinInt(traceView.maxLogsPerSpan, -1, '-1: every line');

  return (
    <section aria-label="Dashboard settings">
      <ConfigSection
        title="Dashboards"
        description="When a dashboard opens, each panel asks for the same trace at once; they share one fetch from the sources, and each builds only the frames it selected."
        isCollapsible
        isInitiallyOpen
      >
        <InlineField
          label="Shared result TTL"
          labelWidth={LABEL_WIDTH}
          tooltip={`The panels showing one trace share one fetch. A finished fetch answers further panels of that trace for this long, counted from its start; a refresh after that fetches again, so late-exported lines appear. "0s": only panels asking while the fetch runs share it. A Go duration (e.g. 5s, 1m). Default: ${DEFAULT_CACHE_TTL}, Grafana's shortest auto-refresh.`}
          invalid={Boolean(ttlError)}
          error={ttlError}
        >
          <Input
            id="cache-ttl"
            width={INPUT_WIDTH}
            placeholder={DEFAULT_CACHE_TTL}
            value={cache.ttl ?? ''}
            onChange={(e) => setCache({ ttl: textValue(e) })}
          />
        </InlineField>
        <InlineField
          label="Shared results max bytes"
          labelWidth={LABEL_WIDTH}
          tooltip={`Bound on the estimated size of the finished fetches kept for sharing by this data source; the least recently used go first. A trace of 1,000 spans and 100,000 log lines is about 45 MB. Default: ${formatCount(DEFAULT_CACHE_MAX_BYTES)} (${DEFAULT_CACHE_MAX_BYTES / MIB} MiB).`}
          invalid={Boolean(maxBytesError)}
          error={maxBytesError}
        >
          <Input
            id="cache-max-bytes"
            type="number"
            min={0}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_CACHE_MAX_BYTES)}
            value={cache.maxBytes ?? ''}
            onChange={(e) => setCache({ maxBytes: numberValue(e) })}
          />
        </InlineField>
        <InlineField
          label="Logs per span in the trace view"
          labelWidth={LABEL_WIDTH}
          tooltip={`The trace view lists a span's log lines inside the span, where more than a hundred are scrolled rather than read. A span with more shows its first lines by time and a last entry counting the rest; its "Logs for this span" link and the logs panel show every line. -1: every line. Default: ${DEFAULT_MAX_LOGS_PER_SPAN}.`}
          invalid={Boolean(maxLogsError)}
          error={maxLogsError}
        >
          <Input
            id="trace-view-max-logs-per-span"
            type="number"
            min={-1}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_MAX_LOGS_PER_SPAN)}
            value={traceView.maxLogsPerSpan ?? ''}
            onChange={(e) => setTraceView({ maxLogsPerSpan: numberValue(e) })}
          />
        </InlineField>
      </ConfigSection>
    </section>
  );
}
