import React from 'react';
import { ConfigSection, ConfigSubSection } from '@grafana/plugin-ui';
import {
  Button,
  Combobox,
  IconButton,
  InlineField,
  InlineFieldRow,
  InlineSwitch,
  Input,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  TagsInput,
  Text,
} from '@grafana/ui';

import {
  DEFAULT_KAFKA_ENCODING,
  DEFAULT_KAFKA_HASHER,
  DEFAULT_KAFKA_MAX_BYTES,
  DEFAULT_KAFKA_MAX_RECORDS,
  DEFAULT_UPSTREAM_TIMEOUT,
} from '../../defaults';
import { KafkaEncoding, KafkaHasher, KafkaOptions, KafkaTopic, SASLMechanism } from '../../types';
import { validateBroker, validateDuration, validatePem, validatePositiveInt, validateTopicName } from '../../validation';
import {
  ConfigProps,
  formatCount,
  INPUT_WIDTH,
  LABEL_WIDTH,
  numberValue,
  patchSection,
  secretProps,
  textValue,
} from './helpers';

const ENCODING_OPTIONS: Array<{ label: string; value: KafkaEncoding; description: string }> = [
  { label: 'OTLP protobuf', value: 'otlp_proto', description: "kafkaexporter's default: ExportLogsServiceRequest" },
  { label: 'OTLP JSON', value: 'otlp_json', description: 'kafkaexporter encoding otlp_json' },
  { label: 'Raw', value: 'raw', description: 'kafkaexporter encoding raw: the log body only' },
  { label: 'JSON lines', value: 'json', description: 'One JSON object per record (other shippers)' },
  { label: 'Text', value: 'text', description: 'One plain-text line per record' },
];

const HASHER_OPTIONS: Array<{ label: string; value: KafkaHasher }> = [
  { label: 'sarama_compat', value: 'sarama_compat' },
  { label: 'murmur2', value: 'murmur2' },
];

const SASL_OPTIONS: Array<{ label: string; value: SASLMechanism }> = [
  { label: 'None', value: '' },
  { label: 'PLAIN', value: 'PLAIN' },
  { label: 'SCRAM-SHA-256', value: 'SCRAM-SHA-256' },
  { label: 'SCRAM-SHA-512', value: 'SCRAM-SHA-512' },
];

const NEW_TOPIC: KafkaTopic = { name: '', encoding: DEFAULT_KAFKA_ENCODING, keyedByTraceId: false };

/** KafkaSettings configures the Kafka topics that hold archived logs (written by kafkaexporter). */
export function KafkaSettings(props: ConfigProps) {
  const kafka: KafkaOptions = props.options.jsonData.kafka ?? {};
  const set = (patch: Partial<KafkaOptions>) => patchSection(props, 'kafka', patch);
  const brokers = kafka.brokers ?? [];
  const topics = kafka.topics ?? [];
  const brokerErrors = brokers.map(validateBroker).filter(Boolean);
  const setTopic = (i: number, patch: Partial<KafkaTopic>) =>
    set({ topics: topics.map((t, j) => (j === i ? { ...t, ...patch } : t)) });
  const maxRecordsError = validatePositiveInt(kafka.maxRecords);
  const maxBytesError = validatePositiveInt(kafka.maxBytes);
  const timeoutError = validateDuration(kafka.timeout);
  const mechanism = kafka.sasl?.mechanism ?? '';
  const usernameMissing = mechanism !== '' && !kafka.sasl?.username;
  // Optional, unlike the Tempo/Loki CA (which has its own toggle): without it the system roots
  // verify the brokers. Only a typed value can be checked; a stored one the browser never sees.
  const caError = validatePem(props.options.secureJsonData?.kafkaTLSCACert, 'certificate');

  return (
    <section aria-label="Kafka settings">
      <ConfigSection
        title="Kafka"
        description="Archived logs are read from Kafka topics, seeking by timestamp to the trace's time window."
      >
        <InlineField
          label="Brokers"
          labelWidth={LABEL_WIDTH}
          tooltip="Bootstrap brokers as host:port; press Enter after each. Leave empty to not use Kafka."
          invalid={brokerErrors.length > 0}
          error={brokerErrors.join('; ')}
        >
          <TagsInput
            id="kafka-brokers"
            width={INPUT_WIDTH}
            placeholder="kafka:9092 (Enter to add)"
            addOnBlur
            tags={brokers}
            onChange={(tags) => set({ brokers: tags.map((t) => t.trim()).filter((t) => t !== '') })}
          />
        </InlineField>

        <ConfigSubSection title="Topics" description="One entry per topic to search; first the OTLP ones.">
          {topics.length === 0 && (
            <Text color="secondary" element="p">
              No topic yet: add the topics kafkaexporter writes logs to.
            </Text>
          )}
          {topics.map((topic, i) => (
            <TopicRow
              key={i}
              index={i}
              topic={topic}
              duplicate={topics.findIndex((t) => t.name === topic.name) !== i && topic.name !== ''}
              onChange={(patch) => setTopic(i, patch)}
              onRemove={() => set({ topics: topics.filter((_, j) => j !== i) })}
            />
          ))}
          <Button
            variant="secondary"
            icon="plus"
            size="sm"
            type="button"
            onClick={() => set({ topics: [...topics, { ...NEW_TOPIC }] })}
          >
            Add topic
          </Button>
        </ConfigSubSection>

        <ConfigSubSection title="Authentication and TLS">
          <InlineField
            label="SASL mechanism"
            labelWidth={LABEL_WIDTH}
            tooltip="SASL authentication to the brokers. Default: none."
          >
            <RadioButtonGroup<SASLMechanism>
              id="kafka-sasl-mechanism"
              options={SASL_OPTIONS}
              value={mechanism}
              onChange={(v) => set({ sasl: { ...kafka.sasl, mechanism: v || undefined } })}
            />
          </InlineField>
          <InlineField
            label="SASL username"
            labelWidth={LABEL_WIDTH}
            tooltip="User name for SASL; required when a mechanism is chosen."
            invalid={usernameMissing}
            error={usernameMissing ? `A username is required with SASL ${mechanism}` : undefined}
            disabled={mechanism === ''}
          >
            <Input
              id="kafka-sasl-username"
              width={INPUT_WIDTH}
              value={kafka.sasl?.username ?? ''}
              onChange={(e) => set({ sasl: { ...kafka.sasl, username: textValue(e) } })}
            />
          </InlineField>
          <InlineField
            label="SASL password"
            labelWidth={LABEL_WIDTH}
            tooltip="Password for SASL. Stored encrypted; never sent back to the browser."
            disabled={mechanism === ''}
          >
            <SecretInput id="kafka-sasl-password" width={INPUT_WIDTH} {...secretProps(props, 'kafkaPassword')} />
          </InlineField>
          <InlineField label="TLS" labelWidth={LABEL_WIDTH} tooltip="Connect to the brokers over TLS. Default: off.">
            <InlineSwitch
              id="kafka-tls-enabled"
              value={kafka.tls?.enabled ?? false}
              onChange={(e) => set({ tls: { ...kafka.tls, enabled: e.currentTarget.checked } })}
            />
          </InlineField>
          <InlineField
            label="Skip TLS verify"
            labelWidth={LABEL_WIDTH}
            tooltip="Do not check the brokers' TLS certificates. Only for self-signed test setups. Default: off."
            disabled={!kafka.tls?.enabled}
          >
            <InlineSwitch
              id="kafka-tls-insecure-skip-verify"
              value={kafka.tls?.insecureSkipVerify ?? false}
              onChange={(e) => set({ tls: { ...kafka.tls, insecureSkipVerify: e.currentTarget.checked } })}
            />
          </InlineField>
          {kafka.tls?.enabled && (
            <InlineField
              label="CA certificate"
              labelWidth={LABEL_WIDTH}
              tooltip="PEM, from -----BEGIN CERTIFICATE-----: the CA certificate(s) that signed the brokers' certificates, for a private CA. Stored encrypted. Default: none (the system's roots)."
              invalid={Boolean(caError)}
              error={caError}
            >
              <SecretTextArea
                id="kafka-tls-ca-cert"
                cols={INPUT_WIDTH}
                rows={4}
                {...secretProps(props, 'kafkaTLSCACert')}
              />
            </InlineField>
          )}
        </ConfigSubSection>

        <ConfigSubSection title="Limits">
          <InlineField
            label="Max records per query"
            labelWidth={LABEL_WIDTH}
            tooltip={`Stop reading after this many records across all topics for one query; the result says it was truncated. Default: ${formatCount(DEFAULT_KAFKA_MAX_RECORDS)}.`}
            invalid={Boolean(maxRecordsError)}
            error={maxRecordsError}
          >
            <Input
              id="kafka-max-records"
              type="number"
              min={1}
              width={INPUT_WIDTH}
              placeholder={String(DEFAULT_KAFKA_MAX_RECORDS)}
              value={kafka.maxRecords ?? ''}
              onChange={(e) => set({ maxRecords: numberValue(e) })}
            />
          </InlineField>
          <InlineField
            label="Max bytes per query"
            labelWidth={LABEL_WIDTH}
            tooltip={`Stop reading after this many record bytes for one query. Default: ${formatCount(DEFAULT_KAFKA_MAX_BYTES)} (1 GiB).`}
            invalid={Boolean(maxBytesError)}
            error={maxBytesError}
          >
            <Input
              id="kafka-max-bytes"
              type="number"
              min={1}
              width={INPUT_WIDTH}
              placeholder={String(DEFAULT_KAFKA_MAX_BYTES)}
              value={kafka.maxBytes ?? ''}
              onChange={(e) => set({ maxBytes: numberValue(e) })}
            />
          </InlineField>
          <InlineField
            label="Timeout"
            labelWidth={LABEL_WIDTH}
            tooltip={`Time limit for the whole Kafka search of one query, as a Go duration (e.g. 10s, 1m); lines found before it are kept and a notice says the topic timed out. Default: ${DEFAULT_UPSTREAM_TIMEOUT}.`}
            invalid={Boolean(timeoutError)}
            error={timeoutError}
          >
            <Input
              id="kafka-timeout"
              width={INPUT_WIDTH}
              placeholder={DEFAULT_UPSTREAM_TIMEOUT}
              value={kafka.timeout ?? ''}
              onChange={(e) => set({ timeout: textValue(e) })}
            />
          </InlineField>
        </ConfigSubSection>
      </ConfigSection>
    </section>
  );
}

interface TopicRowProps {
  index: number;
  topic: KafkaTopic;
  duplicate: boolean;
  onChange: (patch: Partial<KafkaTopic>) => void;
  onRemove: () => void;
}

function TopicRow({ index, topic, duplicate, onChange, onRemove }: TopicRowProps) {
  const id = (name: string) => `kafka-topic-${index}-${name}`;
  const nameError = validateTopicName(topic.name) ?? (duplicate ? `Topic "${topic.name}" is listed twice` : undefined);
  const label = topic.name || `#${index + 1}`;
  return (
    <InlineFieldRow role="group" aria-label={`Topic ${label}`}>
      <InlineField
        label="Topic name"
        labelWidth={14}
        tooltip="Kafka topic holding logs: letters, digits, '.', '_', '-' (at most 249). Required."
        invalid={Boolean(nameError)}
        error={nameError}
      >
        <Input id={id('name')} width={28} value={topic.name} onChange={(e) => onChange({ name: e.currentTarget.value })} />
      </InlineField>
      <InlineField
        label="Encoding"
        labelWidth={12}
        tooltip="How records are written: kafkaexporter's otlp_proto (its default), otlp_json or raw, or JSON/text lines from other shippers. Default: otlp_proto."
      >
        <Combobox<KafkaEncoding>
          id={id('encoding')}
          width={22}
          options={ENCODING_OPTIONS}
          value={topic.encoding ?? DEFAULT_KAFKA_ENCODING}
          onChange={(v) => onChange({ encoding: v.value })}
        />
      </InlineField>
      <InlineField
        label="Keyed by trace ID"
        labelWidth={20}
        tooltip="kafkaexporter's partition_logs_by_trace_id is on: messages are keyed by trace ID, so only one partition is read. Default: off (read all partitions)."
      >
        <InlineSwitch
          id={id('keyed')}
          value={topic.keyedByTraceId ?? false}
          onChange={(e) => onChange({ keyedByTraceId: e.currentTarget.checked })}
        />
      </InlineField>
      <InlineField
        label="Partitioner hash"
        labelWidth={18}
        tooltip="The producer's partitioner hash, used to find the partition of a keyed trace: sarama_compat (kafkaexporter's default) or murmur2 (Java clients). Default: sarama_compat."
        disabled={!topic.keyedByTraceId}
      >
        <RadioButtonGroup<KafkaHasher>
          id={id('hasher')}
          options={HASHER_OPTIONS}
          value={topic.hasher ?? DEFAULT_KAFKA_HASHER}
          onChange={(v) => onChange({ hasher: v })}
        />
      </InlineField>
      <IconButton name="trash-alt" tooltip={`Remove topic ${label}`} onClick={onRemove} type="button" />
    </InlineFieldRow>
  );
}
