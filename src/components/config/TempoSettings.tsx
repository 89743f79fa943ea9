import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { InlineField, InlineSwitch, Input } from '@grafana/ui';

import { DEFAULT_TEMPO_MAX_SPANS } from '../../defaults';
import { TempoOptions } from '../../types';
import { validatePositiveInt } from '../../validation';
import { ConfigProps, formatCount, INPUT_WIDTH, LABEL_WIDTH, numberValue, patchSection } from './helpers';
import { HttpUpstreamFields } from './HttpUpstreamFields';

/** TempoSettings configures where traces come from. */
export function TempoSettings(props: ConfigProps) {
  const tempo: TempoOptions = props.options.jsonData.tempo ?? {};
  const maxSpansError = validatePositiveInt(tempo.maxSpans);
  return (
    <section aria-label="Tempo settings">
      <ConfigSection
        title="Tempo"
        description="Traces are fetched by ID from Tempo's API (GET /api/v2/traces/{id}, falling back to v1)."
      >
        <HttpUpstreamFields {...props} section="tempo" title="Tempo" exampleUrl="http://tempo:3200" />
        <InlineField
          label="Restrict search to query time range"
          labelWidth={LABEL_WIDTH}
          tooltip="Send the panel's time range to Tempo (start/end), so it searches only the blocks of that range: faster, but a trace outside the range is not found. Default: off (search all blocks)."
        >
          <InlineSwitch
            id="tempo-search-time-range"
            value={tempo.searchTimeRange ?? false}
            onChange={(e) => patchSection(props, 'tempo', { searchTimeRange: e.currentTarget.checked })}
          />
        </InlineField>
        <InlineField
          label="Max spans"
          labelWidth={LABEL_WIDTH}
          tooltip={`Keep the earliest-starting spans of a larger trace, with a notice saying how many were left out. Default: ${formatCount(DEFAULT_TEMPO_MAX_SPANS)}.`}
          invalid={Boolean(maxSpansError)}
          error={maxSpansError}
        >
          <Input
            id="tempo-max-spans"
            type="number"
            min={1}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_TEMPO_MAX_SPANS)}
            value={tempo.maxSpans ?? ''}
            onChange={(e) => patchSection(props, 'tempo', { maxSpans: numberValue(e) })}
          />
        </InlineField>
      </ConfigSection>
    </section>
  );
}
