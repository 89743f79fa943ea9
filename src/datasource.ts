import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { DEFAULT_QUERY } from './defaults';
import { normalizeSpanId, normalizeTraceId } from './traceId';
import { Options, Query, Source } from './types';

/** DataSource sends Traceweave queries to the plugin backend (pkg/plugin). */
export class DataSource extends DataSourceWithBackend<Query, Options> {
  readonly jsonData: Options;

  constructor(instanceSettings: DataSourceInstanceSettings<Options>) {
    super(instanceSettings);
    this.jsonData = instanceSettings.jsonData ?? {};
  }

  getDefaultQuery(_: CoreApp): Partial<Query> {
    return DEFAULT_QUERY;
  }

  /**
   * applyTemplateVariables resolves dashboard variables in the trace and span
   * IDs (a trace ID often arrives through a variable or a data link), then
   * normalises the trace ID with the query editor's parser, so a variable
   * holding a traceparent or a trace URL works too.
   */
  applyTemplateVariables(query: Query, scopedVars: ScopedVars): Query {
    const templateSrv = getTemplateSrv();
    const traceId = normalizeTraceId(templateSrv.replace(traceIdOf(query), scopedVars));
    const spanId = query.spanId ? normalizeSpanId(templateSrv.replace(query.spanId, scopedVars)) : query.spanId;
    return { ...query, traceId, ...(spanId !== undefined ? { spanId } : {}) };
  }

  /** filterQuery skips targets without a trace ID instead of sending them to fail in the backend. */
  filterQuery(query: Query): boolean {
    return !query.hide && traceIdOf(query).trim() !== '';
  }

  /** configuredSources lists the sources this instance has settings for, in merge order. */
  configuredSources(): Source[] {
    return configuredSources(this.jsonData);
  }
}

/** traceIdOf is the query's trace ID, or the "query" text a link from another datasource sent. */
function traceIdOf(query: Query): string {
  return query.traceId || query.query || '';
}

/** configuredSources lists the sources jsonData configures: tempo and loki by URL, kafka by brokers. */
export function configuredSources(jsonData: Options | undefined): Source[] {
  const out: Source[] = [];
  if (jsonData?.tempo?.url?.trim()) {
    out.push('tempo');
  }
  if (jsonData?.loki?.url?.trim()) {
    out.push('loki');
  }
  if ((jsonData?.kafka?.brokers ?? []).some((b) => b.trim() !== '')) {
    out.push('kafka');
  }
  return out;
}
