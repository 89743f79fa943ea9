import { Query, TierRule } from './types';

// Defaults of the public contract. They mirror the constants in
// pkg/models/settings.go; the editors show them as placeholders and tooltips,
// the backend applies them.

export const DEFAULT_QUERY: Partial<Query> = {
  queryType: 'timeline',
  traceId: '',
};

export const DEFAULT_UPSTREAM_TIMEOUT = '30s';
export const DEFAULT_TEMPO_MAX_SPANS = 10000;
export const DEFAULT_LOKI_SELECTOR = '{service_name=~".+"}';
export const DEFAULT_LOKI_TRACE_FILTER = 'auto';
export const DEFAULT_LOKI_MAX_LINES = 5000;
export const DEFAULT_LOKI_MAX_TOTAL_LINES = 50000;
export const DEFAULT_LOKI_PARALLEL_QUERIES = 4;
export const MAX_LOKI_PARALLEL_QUERIES = 16;
export const DEFAULT_KAFKA_MAX_RECORDS = 5_000_000;
export const DEFAULT_KAFKA_MAX_BYTES = 1_073_741_824;
export const DEFAULT_KAFKA_ENCODING = 'otlp_proto';
export const DEFAULT_KAFKA_HASHER = 'sarama_compat';
export const DEFAULT_WINDOW_BEFORE = '30s';
export const DEFAULT_WINDOW_AFTER = '2m';

/**
 * DEFAULT_TIER_RULES apply while no tier rules are configured. First match
 * wins; the attribute is looked up on the span, then on its resource;
 * unmatched spans get tier "other". Same list as DefaultTierRules in Go.
 */
export const DEFAULT_TIER_RULES: readonly TierRule[] = Object.freeze([
  { tier: 'mysql', match: { attribute: 'db.system', value: 'mysql' } },
  { tier: 'mysql', match: { attribute: 'db.system.name', value: 'mysql' } },
  { tier: 'redis', match: { attribute: 'db.system', value: 'redis' } },
  { tier: 'redis', match: { attribute: 'db.system.name', value: 'redis' } },
  { tier: 'mysql', match: { attribute: 'service.name', regex: '(?i)^(mysql|mariadb)' } },
  { tier: 'redis', match: { attribute: 'service.name', regex: '(?i)^redis' } },
  { tier: 'rails', match: { attribute: 'telemetry.sdk.language', value: 'ruby' } },
  { tier: 'proxy', match: { attribute: 'service.name', regex: '(?i)proxy|gateway|nginx|envoy' } },
  { tier: 'go', match: { attribute: 'telemetry.sdk.language', value: 'go' } },
]);
