import { Query } from './types';
import { DEFAULT_QUERY_TYPE } from './defaults.gen';

// The settings defaults come from the backend: defaults.gen.ts is generated
// from pkg/models (go generate ./pkg/models) and a Go test fails while it is
// stale, so the editors' placeholders are the values the backend applies.
export {
  DEFAULT_UPSTREAM_TIMEOUT,
  DEFAULT_TEMPO_MAX_SPANS,
  DEFAULT_LOKI_SELECTOR,
  DEFAULT_LOKI_TRACE_FILTER,
  DEFAULT_LOKI_MAX_LINES,
  DEFAULT_LOKI_MAX_TOTAL_LINES,
  DEFAULT_LOKI_PARALLEL_QUERIES,
  MAX_LOKI_PARALLEL_QUERIES,
  DEFAULT_KAFKA_MAX_RECORDS,
  DEFAULT_KAFKA_MAX_BYTES,
  DEFAULT_KAFKA_ENCODING,
  DEFAULT_KAFKA_HASHER,
  DEFAULT_WINDOW_BEFORE,
  DEFAULT_WINDOW_AFTER,
  DEFAULT_TIER_RULES,
  DEFAULT_CACHE_TTL,
  DEFAULT_CACHE_MAX_BYTES,
  DEFAULT_MAX_LOGS_PER_SPAN,
  ALL_FRAMES,
  DEFAULT_FRAMES,
  MAX_TIER_NAME_LEN,
  DEFAULT_SEARCH_LIMIT,
  MAX_SEARCH_LIMIT,
  MAX_TRACEQL_LEN,
} from './defaults.gen';

export const DEFAULT_QUERY: Partial<Query> = {
  queryType: DEFAULT_QUERY_TYPE,
  traceId: '',
};
