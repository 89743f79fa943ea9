import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

import type { ALL_FRAMES } from './defaults.gen';

/**
 * QueryType selects what the backend returns (docs/DESIGN.md, "Query model"): one trace by ID
 * (timeline, logs) or the traces a TraceQL search finds, each with its logs (search).
 */
export type QueryType = 'timeline' | 'logs' | 'search';

/** Source names an upstream a query may read. */
export type Source = 'tempo' | 'loki' | 'kafka';

/**
 * FrameName is a frame a timeline query may select (docs/DESIGN.md, "Frames"). It is derived from
 * ALL_FRAMES, which is generated from the backend's list, so a frame the backend adds is offered here.
 */
export type FrameName = (typeof ALL_FRAMES)[number];

/** Query is one panel target: the JSON the backend decodes in pkg/models/query.go. */
export interface Query extends DataQuery {
  queryType?: QueryType;
  /** Trace ID as hex (1–32 digits; the backend left-pads to 32). May hold a template variable. */
  traceId: string;
  /** Optional span ID as hex (1–16 digits): with queryType "logs", only that span's logs. */
  spanId?: string;
  /** Sources to read; empty or absent means every configured source. */
  sources?: Source[];
  /**
   * Frames a timeline query returns, in ALL_FRAMES order (docs/DESIGN.md, "Query model"); empty or
   * absent means DEFAULT_FRAMES. A panel selects only the frame it shows, so that opening a dashboard
   * builds and sends each frame once from the run its panels share (docs/DESIGN.md, "Sharing one run").
   * Never set with queryType "logs": the backend accepts nothing there but ["logs"].
   */
  frames?: FrameName[];
  /**
   * What internal links from other datasources send: a Loki derived field
   * always arrives as {"query": "<value>"}. Used as the trace ID when
   * traceId is empty (the backend does the same).
   */
  query?: string;
  /**
   * The TraceQL of a search query (at most MAX_TRACEQL_LEN bytes; docs/DESIGN.md, "Search"). May
   * hold template variables. A search takes no trace or span ID.
   */
  traceql?: string;
  /** Traces a search returns, 1–MAX_SEARCH_LIMIT; absent: the datasource's search.limit. */
  limit?: number;
}

/** HTTPUpstreamOptions are the settings Tempo and Loki share. */
export interface HTTPUpstreamOptions {
  url?: string;
  tenant?: string;
  basicAuthUser?: string;
  /** Skip TLS certificate verification (self-signed test setups only). */
  insecureSkipVerify?: boolean;
  /** UID of a Grafana datasource of the same upstream, used only to build links. */
  datasourceUid?: string;
  /** Go duration string, e.g. "30s". */
  timeout?: string;
  /** Custom headers; the value of the N-th (from 1) is secureJsonData `<upstream>Header<N>`. */
  headers?: HTTPHeader[];
  /** Verify the upstream's certificate against secureJsonData `<upstream>TLSCACert` (PEM). */
  tlsAuthWithCACert?: boolean;
  /** Present secureJsonData `<upstream>TLSClientCert` / `<upstream>TLSClientKey` (PEM). */
  tlsAuth?: boolean;
  /** Name the upstream's certificate is checked against instead of the URL's host. */
  tlsServerName?: string;
}

/** HTTPHeader is one custom header's name; its value is a secret. */
export interface HTTPHeader {
  name: string;
}

export interface TempoOptions extends HTTPUpstreamOptions {
  searchTimeRange?: boolean;
  /** Keep the earliest-starting spans of a larger trace (default DEFAULT_TEMPO_MAX_SPANS). */
  maxSpans?: number;
}

export type TraceFilterMode = 'auto' | 'structured' | 'line';

export interface LokiOptions extends HTTPUpstreamOptions {
  selector?: string;
  traceFilter?: TraceFilterMode;
  maxLines?: number;
  maxTotalLines?: number;
  /** Requests at once for the rest of a result whose first page is full (1: page after page). */
  parallelQueries?: number;
}

export type KafkaEncoding = 'otlp_proto' | 'otlp_json' | 'raw' | 'json' | 'text';
export type KafkaHasher = 'sarama_compat' | 'murmur2';
export type SASLMechanism = '' | 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaTopic {
  name: string;
  encoding: KafkaEncoding;
  keyedByTraceId?: boolean;
  hasher?: KafkaHasher;
}

export interface KafkaOptions {
  brokers?: string[];
  topics?: KafkaTopic[];
  sasl?: { mechanism?: SASLMechanism; username?: string };
  tls?: { enabled?: boolean; insecureSkipVerify?: boolean };
  maxRecords?: number;
  maxBytes?: number;
  /** Bounds the whole Kafka search of one query, as a Go duration. Default: 30s. */
  timeout?: string;
}

export interface WindowOptions {
  /** Go duration string: padding before the trace's first span. */
  before?: string;
  /** Go duration string: padding after the trace's last span (covers export delay). */
  after?: string;
}

/**
 * Tier is the user's name for a layer of the request path (any printable name of at most
 * MAX_TIER_NAME_LEN characters); 'other' is the tier of spans no rule matches.
 */
export type Tier = string;

/** TierMatch selects spans by one attribute (span first, then resource); set exactly one of value or regex. */
export interface TierMatch {
  attribute: string;
  value?: string;
  /** Go (RE2) regular expression. */
  regex?: string;
}

/**
 * TierRule gives the spans its match selects the tier. Rules of one tier share its order (the
 * summary's row order, lowest first; tiers without one follow by first appearance) and colour (a
 * Grafana colour name or #rrggbb); two rules of one tier must not disagree.
 */
export interface TierRule {
  tier: Tier;
  match: TierMatch;
  order?: number;
  color?: string;
}

/**
 * CacheOptions configure how long the panels of one dashboard share a finished run
 * (docs/DESIGN.md, "Settings" and "Sharing one run").
 */
export interface CacheOptions {
  /** Go duration string counted from the run's start (default DEFAULT_CACHE_TTL); "0s" keeps no finished run. */
  ttl?: string;
  /** Bound on the estimated bytes of the kept results, least recently used dropped first; 0 or unset: DEFAULT_CACHE_MAX_BYTES. */
  maxBytes?: number;
}

/** TraceViewOptions shape the trace frame (docs/DESIGN.md, "Frames", `trace`). */
export interface TraceViewOptions {
  /** Log lines inside one span (default DEFAULT_MAX_LOGS_PER_SPAN); -1: no bound; 0 or unset: the default. */
  maxLogsPerSpan?: number;
}

/** SearchOptions configure the search query (docs/DESIGN.md, "Settings" and "Search"). */
export interface SearchOptions {
  /** Traces a search returns, 1–MAX_SEARCH_LIMIT (default DEFAULT_SEARCH_LIMIT); a query's own limit wins. */
  limit?: number;
}

/** Options is the datasource jsonData (docs/DESIGN.md, "Settings"). */
export interface Options extends DataSourceJsonData {
  /** Grafana's secure socks proxy toggle (private datasource connect), for Tempo and Loki. */
  enableSecureSocksProxy?: boolean;
  tempo?: TempoOptions;
  loki?: LokiOptions;
  kafka?: KafkaOptions;
  window?: WindowOptions;
  tiers?: TierRule[];
  cache?: CacheOptions;
  traceView?: TraceViewOptions;
  search?: SearchOptions;
}

/** SecureJsonData holds the secrets; Grafana never sends them back to the browser. */
export interface SecureJsonData {
  tempoPassword?: string;
  tempoBearerToken?: string;
  lokiPassword?: string;
  lokiBearerToken?: string;
  kafkaPassword?: string;
  /** PEM CA certificate(s) of the Kafka brokers, used with kafka.tls.enabled; not secret, kept here as Grafana keeps tlsCACert. */
  kafkaTLSCACert?: string;
  tempoTLSCACert?: string;
  tempoTLSClientCert?: string;
  tempoTLSClientKey?: string;
  lokiTLSCACert?: string;
  lokiTLSClientCert?: string;
  lokiTLSClientKey?: string;
  [header: `tempoHeader${number}`]: string | undefined;
  [header: `lokiHeader${number}`]: string | undefined;
}

export type SecureKey = keyof SecureJsonData;
