import React from 'react';
import { DataSourceDescription } from '@grafana/plugin-ui';
import { config } from '@grafana/runtime';
import { Divider, SecureSocksProxySettings, Stack } from '@grafana/ui';

import { DashboardSettings } from './config/DashboardSettings';
import { ConfigProps } from './config/helpers';
import { KafkaSettings } from './config/KafkaSettings';
import { LokiSettings } from './config/LokiSettings';
import { SearchSettings } from './config/SearchSettings';
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
      {/* Grafana's own toggle (jsonData.enableSecureSocksProxy), shown when Grafana runs the proxy:
          Tempo and Loki are then dialled through it (docs/DESIGN.md, "Settings"). */}
      {config.secureSocksDSProxyEnabled && (
        <>
          <SecureSocksProxySettings options={props.options} onOptionsChange={props.onOptionsChange} />
          <Divider />
        </>
      )}
      <KafkaSettings {...props} />
      <Divider />
      <WindowSettings {...props} />
      <Divider />
      <DashboardSettings {...props} />
      <Divider />
      <SearchSettings {...props} />
      <Divider />
      <TiersSettings {...props} />
    </Stack>
  );
}
