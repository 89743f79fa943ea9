import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { InlineField, Input } from '@grafana/ui';

import { DEFAULT_WINDOW_AFTER, DEFAULT_WINDOW_BEFORE } from '../../defaults';
import { WindowOptions } from '../../types';
import { validateDuration } from '../../validation';
import { ConfigProps, INPUT_WIDTH, LABEL_WIDTH, patchSection, textValue } from './helpers';

/** WindowSettings pads the trace's time range when searching Loki and Kafka for its logs. */
export function WindowSettings(props: ConfigProps) {
  const win: WindowOptions = props.options.jsonData.window ?? {};
  const set = (patch: Partial<WindowOptions>) => patchSection(props, 'window', patch);
  const beforeError = validateDuration(win.before);
  const afterError = validateDuration(win.after);
  return (
    <section aria-label="Window settings">
      <ConfigSection
        title="Log search window"
        description="Logs are searched from the trace's first span minus 'before' to its last span plus 'after'."
        isCollapsible
        isInitiallyOpen
      >
        <InlineField
          label="Before"
          labelWidth={LABEL_WIDTH}
          tooltip={`Padding before the trace's first span, as a Go duration (e.g. 30s, 1m). Default: ${DEFAULT_WINDOW_BEFORE}.`}
          invalid={Boolean(beforeError)}
          error={beforeError}
        >
          <Input
            id="window-before"
            width={INPUT_WIDTH}
            placeholder={DEFAULT_WINDOW_BEFORE}
            value={win.before ?? ''}
            onChange={(e) => set({ before: textValue(e) })}
          />
        </InlineField>
        <InlineField
          label="After"
          labelWidth={LABEL_WIDTH}
          tooltip={`Padding after the trace's last span, as a Go duration; it must cover the collector's export delay, because Kafka record times are export times. Default: ${DEFAULT_WINDOW_AFTER}.`}
          invalid={Boolean(afterError)}
          error={afterError}
        >
          <Input
            id="window-after"
            width={INPUT_WIDTH}
            placeholder={DEFAULT_WINDOW_AFTER}
            value={win.after ?? ''}
            onChange={(e) => set({ after: textValue(e) })}
          />
        </InlineField>
      </ConfigSection>
    </section>
  );
}
