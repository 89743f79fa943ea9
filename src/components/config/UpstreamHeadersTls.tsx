import React from 'react';
import {
  Button,
  IconButton,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  SecretInput,
  SecretTextArea,
} from '@grafana/ui';

import { HTTPHeader, HTTPUpstreamOptions, SecureJsonData, SecureKey } from '../../types';
import { validateHeaderNames, validatePem } from '../../validation';
import { ConfigProps, INPUT_WIDTH, LABEL_WIDTH, patchSection, secretProps, textValue } from './helpers';

interface Props extends ConfigProps {
  section: 'tempo' | 'loki';
  /** Human name of the upstream: "Tempo", "Loki". */
  title: string;
}

/** headerKey is the secureJsonData key of the value of header i (0-based): `<upstream>Header<i+1>`. */
function headerKey(section: 'tempo' | 'loki', i: number): SecureKey {
  return `${section}Header${i + 1}`;
}

/**
 * UpstreamHeadersTls are an upstream's custom headers (name in jsonData, value a secret) and its TLS
 * settings: custom CA, client certificate, server name (docs/DESIGN.md, "Settings").
 */
export function UpstreamHeadersTls(props: Props) {
  const { section, title, options, onOptionsChange } = props;
  const value: HTTPUpstreamOptions = options.jsonData[section] ?? {};
  const headers: HTTPHeader[] = value.headers ?? [];
  const set = (patch: Partial<HTTPUpstreamOptions>) => patchSection(props, section, patch);
  const secret = (key: SecureKey) => props.options.secureJsonData?.[key] ?? '';
  const configured = (key: SecureKey) => Boolean(options.secureJsonFields?.[key]);
  const has = (key: SecureKey) => configured(key) || secret(key) !== '';
  const id = (name: string) => `${section}-${name}`;

  const nameErrors = validateHeaderNames(
    headers.map((h) => h.name),
    {
      basicAuth: Boolean(value.basicAuthUser),
      bearerToken: has(`${section}BearerToken`),
      tenant: Boolean(value.tenant),
    }
  );

  const setHeaderName = (i: number, name: string) =>
    set({ headers: headers.map((h, j) => (j === i ? { ...h, name } : h)) });

  // Removing header i moves the values of the headers after it down one key. A value typed in this
  // session moves with its header; a stored one cannot (the browser never sees it), so its field is
  // emptied and asks for the value again rather than sending the wrong header's value.
  const removeHeader = (i: number) => {
    const data: SecureJsonData = { ...options.secureJsonData };
    const fields = { ...options.secureJsonFields };
    for (let j = i; j < headers.length - 1; j++) {
      data[headerKey(section, j)] = secret(headerKey(section, j + 1));
      fields[headerKey(section, j)] = false;
    }
    data[headerKey(section, headers.length - 1)] = '';
    fields[headerKey(section, headers.length - 1)] = false;
    onOptionsChange({
      ...options,
      jsonData: { ...options.jsonData, [section]: { ...value, headers: headers.filter((_, j) => j !== i) } },
      secureJsonData: data,
      secureJsonFields: fields,
    });
  };

  const caKey: SecureKey = `${section}TLSCACert`;
  const certKey: SecureKey = `${section}TLSClientCert`;
  const keyKey: SecureKey = `${section}TLSClientKey`;
  const caError = value.tlsAuthWithCACert
    ? has(caKey)
      ? validatePem(secret(caKey), 'certificate')
      : 'Paste the CA certificate (PEM)'
    : undefined;
  const certError = value.tlsAuth
    ? has(certKey)
      ? validatePem(secret(certKey), 'certificate')
      : 'Paste the client certificate (PEM)'
    : undefined;
  const keyError = value.tlsAuth
    ? has(keyKey)
      ? validatePem(secret(keyKey), 'key')
      : 'Paste the client key (PEM)'
    : undefined;

  return (
    <>
      {headers.map((h, i) => {
        const label = h.name || `#${i + 1}`;
        const valueError = h.name !== '' && !has(headerKey(section, i)) ? 'Enter the header value' : undefined;
        return (
          <InlineFieldRow key={i} role="group" aria-label={`Header ${label}`}>
            <InlineField
              label="Header name"
              labelWidth={LABEL_WIDTH}
              tooltip={`Sent with every request to ${title}, e.g. an auth proxy's key or a tenant header other than X-Scope-OrgID.`}
              invalid={Boolean(nameErrors[i])}
              error={nameErrors[i]}
            >
              <Input
                id={id(`header-${i}-name`)}
                width={24}
                value={h.name}
                onChange={(e) => setHeaderName(i, e.currentTarget.value)}
              />
            </InlineField>
            <InlineField
              label="Value"
              labelWidth={8}
              tooltip="Stored encrypted, like a password; never sent back to the browser."
              invalid={Boolean(valueError)}
              error={valueError}
            >
              <SecretInput id={id(`header-${i}-value`)} width={24} {...secretProps(props, headerKey(section, i))} />
            </InlineField>
            <IconButton
              name="trash-alt"
              tooltip={`Remove header ${label}`}
              onClick={() => removeHeader(i)}
              type="button"
            />
          </InlineFieldRow>
        );
      })}
      <Button
        variant="secondary"
        icon="plus"
        size="sm"
        type="button"
        onClick={() => set({ headers: [...headers, { name: '' }] })}
      >
        Add header
      </Button>
      <InlineField
        label="With CA certificate"
        labelWidth={LABEL_WIDTH}
        tooltip={`Verify ${title}'s certificate against this CA (PEM) instead of the system's. Default: off.`}
      >
        <InlineSwitch
          id={id('tls-ca')}
          value={value.tlsAuthWithCACert ?? false}
          onChange={(e) => set({ tlsAuthWithCACert: e.currentTarget.checked || undefined })}
        />
      </InlineField>
      {value.tlsAuthWithCACert && (
        <InlineField
          label="CA certificate"
          labelWidth={LABEL_WIDTH}
          tooltip="PEM, from -----BEGIN CERTIFICATE-----. Stored encrypted."
          invalid={Boolean(caError)}
          error={caError}
        >
          <SecretTextArea id={id('tls-ca-cert')} cols={INPUT_WIDTH} rows={4} {...secretProps(props, caKey)} />
        </InlineField>
      )}
      <InlineField
        label="TLS client auth"
        labelWidth={LABEL_WIDTH}
        tooltip={`Present a client certificate to ${title} (mutual TLS). Default: off.`}
      >
        <InlineSwitch
          id={id('tls-client')}
          value={value.tlsAuth ?? false}
          onChange={(e) => set({ tlsAuth: e.currentTarget.checked || undefined })}
        />
      </InlineField>
      {value.tlsAuth && (
        <>
          <InlineField
            label="Client certificate"
            labelWidth={LABEL_WIDTH}
            tooltip="PEM, from -----BEGIN CERTIFICATE-----. Stored encrypted."
            invalid={Boolean(certError)}
            error={certError}
          >
            <SecretTextArea id={id('tls-client-cert')} cols={INPUT_WIDTH} rows={4} {...secretProps(props, certKey)} />
          </InlineField>
          <InlineField
            label="Client key"
            labelWidth={LABEL_WIDTH}
            tooltip="PEM private key of the client certificate. Stored encrypted; never sent back to the browser."
            invalid={Boolean(keyError)}
            error={keyError}
          >
            <SecretTextArea id={id('tls-client-key')} cols={INPUT_WIDTH} rows={4} {...secretProps(props, keyKey)} />
          </InlineField>
        </>
      )}
      <InlineField
        label="TLS server name"
        labelWidth={LABEL_WIDTH}
        tooltip={`Name ${title}'s certificate is checked against, when it differs from the URL's host. Default: the URL's host.`}
      >
        <Input
          id={id('tls-server-name')}
          width={INPUT_WIDTH}
          placeholder="the URL's host"
          value={value.tlsServerName ?? ''}
          onChange={(e) => set({ tlsServerName: textValue(e) })}
        />
      </InlineField>
    </>
  );
}
