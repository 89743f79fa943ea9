import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { InlineField, InlineSwitch } from '@grafana/ui';

import { ConfigProps, LABEL_WIDTH, patchSection } from './helpers';
import { HttpUpstreamFields } from './HttpUpstreamFields';

/** TempoSettings configures where traces come from. */
export function TempoSettings(props: ConfigProps) {
  const tempo = props.options.jsonData.tempo ?? {};
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
      </ConfigSection>
    </section>
  );
}
