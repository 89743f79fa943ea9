import React from 'react';
import { ConfigSection } from '@grafana/plugin-ui';
import { InlineField, Input } from '@grafana/ui';

import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT } from '../../defaults';
import { SearchOptions } from '../../types';
import { validateIntRange } from '../../validation';
import { ConfigProps, INPUT_WIDTH, LABEL_WIDTH, numberValue, patchSection } from './helpers';

/**
 * SearchSettings configure the search query: a TraceQL search in Tempo whose found traces are each
 * fetched and merged with their logs (docs/DESIGN.md, "Search").
 */
export function SearchSettings(props: ConfigProps) {
  const search: SearchOptions = props.options.jsonData.search ?? {};
  const limitError = validateIntRange(search.limit, 1, MAX_SEARCH_LIMIT);
  return (
    <section aria-label="Search settings">
      <ConfigSection
        title="Search"
        description="A search query runs TraceQL in Tempo over the panel's time range and fetches the logs of every trace it finds, all together."
        isCollapsible
        isInitiallyOpen
      >
        <InlineField
          label="Traces per search"
          labelWidth={LABEL_WIDTH}
          tooltip={`Traces a search returns; a query's own limit wins. Each found trace is fetched and merged with its logs, so a search costs about as much as this many trace queries. 1 to ${MAX_SEARCH_LIMIT}. Default: ${DEFAULT_SEARCH_LIMIT}.`}
          invalid={Boolean(limitError)}
          error={limitError}
        >
          <Input
            id="search-limit"
            type="number"
            min={1}
            max={MAX_SEARCH_LIMIT}
            width={INPUT_WIDTH}
            placeholder={String(DEFAULT_SEARCH_LIMIT)}
            value={search.limit ?? ''}
            onChange={(e) => patchSection(props, 'search', { limit: numberValue(e) })}
          />
        </InlineField>
      </ConfigSection>
    </section>
  );
}
