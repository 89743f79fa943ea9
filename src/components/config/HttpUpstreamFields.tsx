import React from 'react';
import { DataSourcePicker } from '@grafana/runtime';
import { InlineField, InlineSwitch, Input, SecretInput } from '@grafana/ui';

import { DEFAULT_UPSTREAM_TIMEOUT } from '../../defaults';
import { HTTPUpstreamOptions } from '../../types';
import { validateDuration, validateUrl } from '../../validation';
import { ConfigProps, INPUT_WIDTH, LABEL_WIDTH, patchSection, secretProps, textValue } from './helpers';
import { UpstreamHeadersTls } from './UpstreamHeadersTls';

interface Props extends ConfigProps {
  section: 'tempo' | 'loki';
  /** Human name of the upstream: "Tempo", "Loki". */
  title: string;
  exampleUrl: string;
}

/**
 * HttpUpstreamFields are the connection fields Tempo and Loki share: URL,
 * tenant, basic auth, bearer token, timeout, TLS verification, custom headers
 * and TLS certificates (UpstreamHeadersTls), and the Grafana datasource used
 * for links.
 */
export function HttpUpstreamFields(props: Props) {
  const { section, title, exampleUrl, options } = props;
  const value: HTTPUpstreamOptions = options.jsonData[section] ?? {};
  const set = (patch: Partial<HTTPUpstreamOptions>) => patchSection(props, section, patch);
  const urlError = validateUrl(value.url, exampleUrl);
  const timeoutError = validateDuration(value.timeout);
  const id = (name: string) => `${section}-${name}`;

  return (
    <>
      <InlineField
        label="URL"
        labelWidth={LABEL_WIDTH}
        tooltip={`Base URL of ${title}'s HTTP API, e.g. ${exampleUrl}. Leave empty to not use ${title}.`}
        invalid={Boolean(urlError)}
        error={urlError}
      >
        <Input
          id={id('url')}
          width={INPUT_WIDTH}
          placeholder={exampleUrl}
          value={value.url ?? ''}
          onChange={(e) => set({ url: textValue(e) })}
        />
      </InlineField>
      <InlineField
        label="Tenant"
        labelWidth={LABEL_WIDTH}
        tooltip={`Sent as the X-Scope-OrgID header to a multi-tenant ${title}. Default: none (single tenant).`}
      >
        <Input
          id={id('tenant')}
          width={INPUT_WIDTH}
          placeholder="single tenant"
          value={value.tenant ?? ''}
          onChange={(e) => set({ tenant: textValue(e) })}
        />
      </InlineField>
      <InlineField
        label="Basic auth user"
        labelWidth={LABEL_WIDTH}
        tooltip={`User name for HTTP basic auth to ${title}, with the password below. Default: no basic auth.`}
      >
        <Input
          id={id('basic-auth-user')}
          width={INPUT_WIDTH}
          value={value.basicAuthUser ?? ''}
          onChange={(e) => set({ basicAuthUser: textValue(e) })}
        />
      </InlineField>
      <InlineField
        label="Basic auth password"
        labelWidth={LABEL_WIDTH}
        tooltip={`Password for HTTP basic auth to ${title}. Stored encrypted; never sent back to the browser.`}
      >
        <SecretInput id={id('password')} width={INPUT_WIDTH} {...secretProps(props, `${section}Password`)} />
      </InlineField>
      <InlineField
        label="Bearer token"
        labelWidth={LABEL_WIDTH}
        tooltip={`Sent as "Authorization: Bearer <token>" to ${title}. Stored encrypted. Default: none.`}
      >
        <SecretInput id={id('bearer-token')} width={INPUT_WIDTH} {...secretProps(props, `${section}BearerToken`)} />
      </InlineField>
      <InlineField
        label="Timeout"
        labelWidth={LABEL_WIDTH}
        tooltip={`Time limit for one request to ${title}, as a Go duration (e.g. 10s, 1m). Default: ${DEFAULT_UPSTREAM_TIMEOUT}.`}
        invalid={Boolean(timeoutError)}
        error={timeoutError}
      >
        <Input
          id={id('timeout')}
          width={INPUT_WIDTH}
          placeholder={DEFAULT_UPSTREAM_TIMEOUT}
          value={value.timeout ?? ''}
          onChange={(e) => set({ timeout: textValue(e) })}
        />
      </InlineField>
      <InlineField
        label="Skip TLS verify"
        labelWidth={LABEL_WIDTH}
        tooltip={`Do not check ${title}'s TLS certificate. Only for self-signed test setups. Default: off.`}
      >
        <InlineSwitch
          id={id('insecure-skip-verify')}
          value={value.insecureSkipVerify ?? false}
          onChange={(e) => set({ insecureSkipVerify: e.currentTarget.checked || undefined })}
        />
      </InlineField>
      <UpstreamHeadersTls {...props} section={section} title={title} />
      <InlineField
        label={`${title} data source for links`}
        labelWidth={LABEL_WIDTH}
        tooltip={`Optional Grafana ${title} data source: results link to it (open in Explore). Default: no links.`}
      >
        <DataSourcePicker
          inputId={id('datasource')}
          type={section}
          noDefault
          width={INPUT_WIDTH}
          current={value.datasourceUid ?? null}
          onChange={(ds) => set({ datasourceUid: ds.uid })}
          onClear={() => set({ datasourceUid: undefined })}
        />
      </InlineField>
    </>
  );
}
