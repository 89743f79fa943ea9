import { DataSourceInstanceSettings, PluginMetaInfo, PluginType, ScopedVars } from '@grafana/data';
import { setTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { configuredSources, DataSource } from './datasource';
import { Options, Query } from './types';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

// id is deprecated (removed in Grafana 13): leave it out.
function settings(jsonData: Options): DataSourceInstanceSettings<Options> {
  return {
    uid: 'traceweave',
    type: 'traceweave-timeline-datasource',
    name: 'Traceweave',
    access: 'proxy',
    readOnly: false,
    jsonData,
    meta: {
      id: 'traceweave-timeline-datasource',
      name: 'Traceweave',
      type: PluginType.datasource,
      module: '',
      baseUrl: '',
      info: {} as PluginMetaInfo,
    },
  } as DataSourceInstanceSettings<Options>;
}

// A template service that knows a few variables, like a dashboard would.
const vars: Record<string, string> = {
  traceId: TRACE.toUpperCase(),
  traceparent: `00-${TRACE}-${SPAN}-01`,
  span: SPAN.toUpperCase(),
  service: 'checkout',
};
const templateSrv = {
  replace: (target?: string, scoped?: ScopedVars) =>
    (target ?? '').replace(/\$\{?(\w+)\}?/g, (m, name: string) => scoped?.[name]?.value ?? vars[name] ?? m),
} as unknown as TemplateSrv;

beforeAll(() => setTemplateSrv(templateSrv));

describe('DataSource', () => {
  const ds = new DataSource(settings({ tempo: { url: 'http://tempo:3200' } }));
  const query = (q: Partial<Query>): Query => ({ refId: 'A', traceId: '', ...q });

  it('defaults to a timeline query', () => {
    expect(ds.getDefaultQuery('explore' as never)).toEqual({ queryType: 'timeline', traceId: '' });
  });

  it('filterQuery skips empty trace IDs and hidden queries', () => {
    expect(ds.filterQuery(query({ traceId: '' }))).toBe(false);
    expect(ds.filterQuery(query({ traceId: '   ' }))).toBe(false);
    expect(ds.filterQuery(query({ traceId: TRACE, hide: true }))).toBe(false);
    expect(ds.filterQuery(query({ traceId: TRACE }))).toBe(true);
    expect(ds.filterQuery(query({ traceId: '$traceId' }))).toBe(true);
  });

  it('applyTemplateVariables replaces variables, then normalises the trace ID', () => {
    expect(ds.applyTemplateVariables(query({ traceId: '$traceId' }), {})).toEqual(query({ traceId: TRACE }));
    expect(ds.applyTemplateVariables(query({ traceId: '${traceparent}' }), {}).traceId).toBe(TRACE);
    expect(ds.applyTemplateVariables(query({ traceId: `http://tempo/trace/${TRACE}` }), {}).traceId).toBe(TRACE);
    expect(ds.applyTemplateVariables(query({ traceId: '$traceId', spanId: '$span' }), {})).toEqual(
      query({ traceId: TRACE, spanId: SPAN })
    );
  });

  it('applyTemplateVariables uses scoped variables (data links, repeats)', () => {
    const scoped: ScopedVars = { traceId: { text: 'x', value: 'ABCDEF' } };
    expect(ds.applyTemplateVariables(query({ traceId: '${traceId}' }), scoped).traceId).toBe('abcdef');
  });

  it('applyTemplateVariables leaves an invalid ID for the backend to report', () => {
    expect(ds.applyTemplateVariables(query({ traceId: ' not-a-trace ' }), {}).traceId).toBe('not-a-trace');
  });

  it('takes the trace ID from "query" when a Loki derived-field link sends it', () => {
    const fromLink = { refId: 'A', query: TRACE.toUpperCase() } as unknown as Query;
    expect(ds.filterQuery(fromLink)).toBe(true);
    expect(ds.applyTemplateVariables(fromLink, {}).traceId).toBe(TRACE);
  });

  it('filterQuery skips a search without TraceQL, whatever trace ID it carries', () => {
    expect(ds.filterQuery(query({ queryType: 'search' }))).toBe(false);
    expect(ds.filterQuery(query({ queryType: 'search', traceql: ' \n ' }))).toBe(false);
    expect(ds.filterQuery(query({ queryType: 'search', traceId: TRACE }))).toBe(false);
    expect(ds.filterQuery(query({ queryType: 'search', traceql: '{ status = error }', hide: true }))).toBe(false);
    expect(ds.filterQuery(query({ queryType: 'search', traceql: '{ status = error }' }))).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'search', query: '{ status = error }' } as Query)).toBe(true);
  });

  it('applyTemplateVariables fills variables into a search\'s TraceQL and leaves its IDs alone', () => {
    const q = query({ queryType: 'search', traceql: '{ resource.service.name = "${service}" && status = error }', limit: 5 });
    expect(ds.applyTemplateVariables(q, {})).toEqual({
      ...q,
      traceql: '{ resource.service.name = "checkout" && status = error }',
    });
    const scoped: ScopedVars = { service: { text: 'cart', value: 'cart' } };
    expect(ds.applyTemplateVariables(q, scoped).traceql).toBe('{ resource.service.name = "cart" && status = error }');
    // Tempo's query model names the TraceQL "query": it is taken when traceql is empty.
    const fromQuery = { refId: 'A', queryType: 'search', query: '{ span.http.route = "$service" }' } as unknown as Query;
    expect(ds.applyTemplateVariables(fromQuery, {}).traceql).toBe('{ span.http.route = "checkout" }');
  });

  it('keeps the other query fields', () => {
    const q = query({ traceId: TRACE, queryType: 'logs', sources: ['loki'] });
    expect(ds.applyTemplateVariables(q, {})).toEqual(q);
  });
});

describe('configuredSources', () => {
  it('lists tempo and loki by URL and kafka by brokers', () => {
    expect(configuredSources({})).toEqual([]);
    expect(configuredSources({ tempo: { url: ' ' }, kafka: { brokers: [] } })).toEqual([]);
    expect(
      configuredSources({ tempo: { url: 'http://t' }, loki: { url: 'http://l' }, kafka: { brokers: ['k:9092'] } })
    ).toEqual(['tempo', 'loki', 'kafka']);
  });
});
