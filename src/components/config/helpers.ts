import { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';

import { Options, SecureJsonData, SecureKey } from '../../types';

/** ConfigProps are the props Grafana gives a datasource config editor. */
export type ConfigProps = DataSourcePluginOptionsEditorProps<Options, SecureJsonData>;

/** Widths (in grid units of 8px) shared by the config sections. */
export const LABEL_WIDTH = 28;
export const INPUT_WIDTH = 48;

type Section = 'tempo' | 'loki' | 'kafka' | 'window' | 'cache' | 'traceView' | 'search';

/** setJsonData replaces one top-level jsonData key. */
export function setJsonData<K extends keyof Options>(props: ConfigProps, key: K, value: Options[K]) {
  const { options, onOptionsChange } = props;
  onOptionsChange({ ...options, jsonData: { ...options.jsonData, [key]: value } });
}

/** patchSection merges patch into one jsonData section (tempo, loki, kafka, window, cache, traceView, search). */
export function patchSection<K extends Section>(props: ConfigProps, key: K, patch: Partial<NonNullable<Options[K]>>) {
  setJsonData(props, key, { ...(props.options.jsonData[key] ?? {}), ...patch } as Options[K]);
}

/** secretProps gives a SecretInput its value, configured flag and handlers for one secureJsonData key. */
export function secretProps(props: ConfigProps, key: SecureKey) {
  const { options, onOptionsChange } = props;
  return {
    isConfigured: Boolean(options.secureJsonFields?.[key]),
    value: options.secureJsonData?.[key] ?? '',
    onChange: (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
      onOptionsChange({ ...options, secureJsonData: { ...options.secureJsonData, [key]: e.currentTarget.value } }),
    // Reset forgets the stored secret: Grafana deletes it when the flag is false and the value empty.
    onReset: () =>
      onOptionsChange({
        ...options,
        secureJsonFields: { ...options.secureJsonFields, [key]: false },
        secureJsonData: { ...options.secureJsonData, [key]: '' },
      }),
  };
}

/** textValue trims nothing but maps '' to undefined, so an emptied field falls back to the default. */
export function textValue(e: ChangeEvent<HTMLInputElement>): string | undefined {
  const v = e.currentTarget.value;
  return v === '' ? undefined : v;
}

/** numberValue maps an emptied number field to undefined (default) and anything else to a number. */
export function numberValue(e: ChangeEvent<HTMLInputElement>): number | undefined {
  const v = e.currentTarget.value.trim();
  return v === '' ? undefined : Number(v);
}

/** formatCount writes 5000000 as "5,000,000" for tooltips. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
