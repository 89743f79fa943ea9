import React from 'react';
import { DataSourceDescription } from '@grafana/plugin-ui';
import { Divider, Stack } from '@grafana/ui';

import { DashboardSettings } from './config/DashboardSettings';
import { ConfigProps } from './config/helpers';
import { KafkaSettings } from './config/KafkaSettings';
import { LokiSettings } from './config/LokiSettings';
import { TempoSettings } from './config/TempoSettings';
import { TiersSettings } from './config/TiersSettings';
import { WindowSettings } from './config/WindowSettings';

export const DOCS_URL = 'https://github.com/traceweave/traceweave#configuration';

/**
 * ConfigEditor edits the datasource settings (jsonData and secureJsonData of
 * the public contract, docs/DESIGN.md "Settings"). Every source is optional: a source without
 * a URL (Tempo, Loki) or brokers (Kafka) is not queried.
 */
export function ConfigEditor(props: ConfigProps) {
  return (
    <Stack direction="column" gap={2}>
      <DataSourceDescription dataSourceName="Traceweave" docsLink={DOCS_URL} hasRequiredFields={false} />
      <Divider />
      <TempoSettings {...props} />
      <Divider />
      <LokiSettings {...props} />
      <Divider />
      <KafkaSettings {...props} />
      <Divider />
      <WindowSettings {...props} />
      <Divider />
      <DashboardSettings {...props} />
      <Divider />
      <TiersSettings {...props} />
    </Stack>
  );
}
