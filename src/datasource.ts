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
   * holding a traceparent or a trace URL works too. A search's TraceQL gets its
   * variables resolved (a dashboard narrows it by ${service}, say) and is left
   * as it is otherwise: Tempo judges it.
   */
  applyTemplateVariables(query: Query, scopedVars: ScopedVars): Query {
    const templateSrv = getTemplateSrv();
    if (query.queryType === 'search') {
      return { ...query, traceql: templateSrv.replace(traceqlOf(query), scopedVars) };
    }
    const traceId = normalizeTraceId(templateSrv.replace(traceIdOf(query), scopedVars));
    const spanId = query.spanId ? normalizeSpanId(templateSrv.replace(query.spanId, scopedVars)) : query.spanId;
    return { ...query, traceId, ...(spanId !== undefined ? { spanId } : {}) };
  }

  /**
   * filterQuery skips targets without a trace ID, and searches without TraceQL, instead of sending
   * them to fail in the backend.
   */
  filterQuery(query: Query): boolean {
    const text = query.queryType === 'search' ? traceqlOf(query) : traceIdOf(query);
    return !query.hide && text.trim() !== '';
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

/** traceqlOf is a search's TraceQL, or the "query" text Tempo's own query model names it by (the backend does the same). */
function traceqlOf(query: Query): string {
  return query.traceql || query.query || '';
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
