import React, { useState } from 'react';
import { DataSourceSettings } from '@grafana/data';
import { config } from '@grafana/runtime';
import { render, screen, within } from '@testing-library/react';
import userEvent, { PointerEventsCheckLevel } from '@testing-library/user-event';

import { DEFAULT_TIER_RULES } from '../defaults';
import { Options, SecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';

// The real picker needs a running Grafana (its datasource service); a plain
// input with the same contract stands in for it.
jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  DataSourcePicker: (props: { inputId?: string; type?: string; onChange: (ds: { uid: string }) => void }) => (
    <input
      id={props.inputId}
      data-type={props.type}
      onChange={(e) => props.onChange({ uid: e.currentTarget.value })}
    />
  ),
}));

// The whole form re-renders on each keystroke, as in Grafana, and jsdom is
// slow at it: on a busy CI machine a test takes far longer than Jest's
// default 5 s. pointerEventsCheck is off because it calls getComputedStyle
// (slow in jsdom with emotion's style sheets) on every click.
jest.setTimeout(120_000);

// Combobox virtualises its option list and renders only the rows that fit
// its scroll element's clientHeight; jsdom lays nothing out (0), so give
// elements a size while these tests run.
beforeAll(() => {
  for (const prop of ['clientHeight', 'clientWidth']) {
    Object.defineProperty(HTMLElement.prototype, prop, { configurable: true, get: () => 400 });
  }
});
afterAll(() => {
  for (const prop of ['clientHeight', 'clientWidth']) {
    delete (HTMLElement.prototype as unknown as Record<string, unknown>)[prop];
  }
});

type Settings = DataSourceSettings<Options, SecureJsonData>;

function settings(overrides: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'traceweave',
    orgId: 1,
    name: 'Traceweave',
    type: 'traceweave-timeline-datasource',
    typeName: 'Traceweave',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {},
    secureJsonFields: {},
    ...overrides,
  } as Settings;
}

/** setup renders the editor the way Grafana does: it owns the state and re-renders on each change. */
function setup(initial: Partial<Settings> = {}) {
  const onOptionsChange = jest.fn<void, [Settings]>();
  function Harness() {
    const [options, setOptions] = useState(settings(initial));
    return (
      <ConfigEditor
        options={options}
        onOptionsChange={(o) => {
          onOptionsChange(o);
          setOptions(o);
        }}
      />
    );
  }
  const user = userEvent.setup({ delay: null, pointerEventsCheck: PointerEventsCheckLevel.Never });
  const { unmount } = render(<Harness />);
  const last = (): Settings => onOptionsChange.mock.calls[onOptionsChange.mock.calls.length - 1][0];
  const region = (name: string) => within(screen.getByRole('region', { name: `${name} settings` }));
  return { user, last, region, onOptionsChange, unmount };
}

describe('ConfigEditor', () => {
  it('stores Tempo and Loki connection settings as the user types them', async () => {
    const { user, last, region } = setup();
    const tempo = region('Tempo');
    await user.click(tempo.getByLabelText('URL'));
    await user.paste('http://tempo:3200');
    await user.type(tempo.getByLabelText('Tenant'), 'a');
    await user.type(tempo.getByLabelText('Basic auth user'), 'gr');
    await user.type(tempo.getByLabelText('Basic auth password'), 'pw');
    await user.click(tempo.getByLabelText('Restrict search to query time range'));
    await user.type(tempo.getByLabelText('Max spans'), '20000');
    await user.click(tempo.getByLabelText('Tempo data source for links'));
    await user.paste('tempo-uid');

    const loki = region('Loki');
    await user.click(loki.getByLabelText('URL'));
    await user.paste('http://loki:3100');
    await user.type(loki.getByLabelText('Bearer token'), 'tok');
    await user.click(loki.getByRole('radio', { name: 'Line contains' }));
    await user.type(loki.getByLabelText('Max lines per request'), '1000');

    expect(last().jsonData).toEqual({
      tempo: {
        url: 'http://tempo:3200',
        tenant: 'a',
        basicAuthUser: 'gr',
        searchTimeRange: true,
        maxSpans: 20000,
        datasourceUid: 'tempo-uid',
      },
      loki: { url: 'http://loki:3100', traceFilter: 'line', maxLines: 1000 },
    });
    expect(last().secureJsonData).toEqual({ tempoPassword: 'pw', lokiBearerToken: 'tok' });
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('shows the defaults as placeholders', () => {
    const { region } = setup();
    expect(region('Loki').getByLabelText('Stream selector')).toHaveAttribute('placeholder', '{service_name=~".+"}');
    expect(region('Window').getByLabelText('Before')).toHaveAttribute('placeholder', '30s');
    expect(region('Window').getByLabelText('After')).toHaveAttribute('placeholder', '2m');
    expect(region('Kafka').getByLabelText('Max records per query')).toHaveAttribute('placeholder', '5000000');
    expect(region('Tempo').getByLabelText('Max spans')).toHaveAttribute('placeholder', '10000');
    const dash = region('Dashboard');
    expect(dash.getByLabelText('Shared result TTL')).toHaveAttribute('placeholder', '5s');
    expect(dash.getByLabelText('Shared results max bytes')).toHaveAttribute('placeholder', '134217728');
    expect(dash.getByLabelText('Logs per span in the trace view')).toHaveAttribute('placeholder', '100');
  });

  it('stores how panels share a result and how many logs a span holds', async () => {
    const { user, region, last } = setup({ jsonData: { window: { after: '5m' } } });
    const dash = region('Dashboard');
    await user.type(dash.getByLabelText('Shared result TTL'), '0s');
    await user.type(dash.getByLabelText('Shared results max bytes'), '67108864');
    await user.type(dash.getByLabelText('Logs per span in the trace view'), '-1');
    expect(dash.queryByRole('alert')).not.toBeInTheDocument();
    expect(last().jsonData).toEqual({
      window: { after: '5m' },
      cache: { ttl: '0s', maxBytes: 67108864 },
      traceView: { maxLogsPerSpan: -1 },
    });

    // Emptied fields go back to the defaults.
    await user.clear(dash.getByLabelText('Shared result TTL'));
    await user.clear(dash.getByLabelText('Logs per span in the trace view'));
    expect(last().jsonData.cache).toEqual({ maxBytes: 67108864 });
    expect(last().jsonData.traceView).toEqual({});
  });

  it('flags a shared result TTL that is not a duration and a span log bound below -1', async () => {
    const { user, region, last } = setup();
    const dash = region('Dashboard');
    await user.type(dash.getByLabelText('Shared result TTL'), '10');
    expect(dash.getByRole('alert')).toHaveTextContent('"10" is not a duration');
    await user.type(dash.getByLabelText('Shared result TTL'), 's');
    expect(dash.queryByRole('alert')).not.toBeInTheDocument();

    const logs = dash.getByLabelText('Logs per span in the trace view');
    await user.type(logs, '-2');
    expect(dash.getByRole('alert')).toHaveTextContent('Must be a whole number of at least -1 (-1: every line)');
    await user.clear(logs);
    await user.type(logs, '250');
    expect(dash.queryByRole('alert')).not.toBeInTheDocument();

    await user.type(dash.getByLabelText('Shared results max bytes'), '-1');
    expect(dash.getByRole('alert')).toHaveTextContent('Must be a whole number of at least 0');
    expect(last().jsonData).toEqual({ cache: { ttl: '10s', maxBytes: -1 }, traceView: { maxLogsPerSpan: 250 } });
  });

  it('flags a span cap that is not a positive whole number', async () => {
    const { user, region, last } = setup();
    const tempo = region('Tempo');
    await user.type(tempo.getByLabelText('Max spans'), '0');
    expect(tempo.getByRole('alert')).toBeInTheDocument();
    await user.clear(tempo.getByLabelText('Max spans'));
    await user.type(tempo.getByLabelText('Max spans'), '500');
    expect(tempo.queryByRole('alert')).not.toBeInTheDocument();
    expect(last().jsonData.tempo).toEqual({ maxSpans: 500 });
  });

  it('takes Loki parallel requests from 1 to 16', async () => {
    const { user, region, last } = setup();
    const loki = region('Loki');
    expect(loki.getByLabelText('Parallel requests')).toHaveAttribute('placeholder', '4');
    await user.type(loki.getByLabelText('Parallel requests'), '17');
    expect(loki.getByRole('alert')).toHaveTextContent('Must be a whole number from 1 to 16');
    await user.clear(loki.getByLabelText('Parallel requests'));
    await user.type(loki.getByLabelText('Parallel requests'), '0');
    expect(loki.getByRole('alert')).toBeInTheDocument();
    await user.clear(loki.getByLabelText('Parallel requests'));
    await user.type(loki.getByLabelText('Parallel requests'), '8');
    expect(loki.queryByRole('alert')).not.toBeInTheDocument();
    expect(last().jsonData.loki).toEqual({ parallelQueries: 8 });
  });

  it('flags an invalid URL until it is fixed', async () => {
    const { user, region } = setup();
    const tempo = region('Tempo');
    const url = tempo.getByLabelText('URL');
    await user.click(url);
    await user.paste('tempo:3200');
    expect(tempo.getByText(/must start with http:\/\/ or https:\/\//)).toBeInTheDocument();
    await user.clear(url);
    await user.paste('http://tempo:3200');
    expect(tempo.queryByText(/must start with http/)).not.toBeInTheDocument();
  });

  it('flags durations that are not Go durations', async () => {
    const { user, region, last } = setup();
    const win = region('Window');
    await user.type(win.getByLabelText('Before'), '30');
    expect(win.getByText(/"30" is not a duration/)).toBeInTheDocument();
    await user.type(win.getByLabelText('Before'), 's');
    expect(win.queryByText(/is not a duration/)).not.toBeInTheDocument();
    await user.click(win.getByLabelText('After'));
    await user.paste('1h30m');
    expect(last().jsonData.window).toEqual({ before: '30s', after: '1h30m' });

    await user.type(region('Loki').getByLabelText('Timeout'), '10 s');
    expect(region('Loki').getByText(/"10 s" is not a duration/)).toBeInTheDocument();
  });

  it('flags a selector that is not a LogQL stream selector', async () => {
    const { user, region } = setup();
    const loki = region('Loki');
    await user.click(loki.getByLabelText('Stream selector'));
    await user.paste('service_name="api"');
    expect(loki.getByText(/Not a LogQL stream selector/)).toBeInTheDocument();
  });

  it('adds brokers and flags one that is not host:port', async () => {
    const { user, region, last } = setup();
    const kafka = region('Kafka');
    await user.type(kafka.getByLabelText('Brokers'), 'kafka:9092{Enter}');
    await user.type(kafka.getByLabelText('Brokers'), 'kafka-2{Enter}');
    expect(last().jsonData.kafka?.brokers).toEqual(['kafka:9092', 'kafka-2']);
    expect(kafka.getByText(/"kafka-2" is not host:port/)).toBeInTheDocument();
  });

  it('adds, edits and removes Kafka topics', async () => {
    const { user, region, last } = setup();
    const kafka = region('Kafka');
    expect(kafka.getByText(/No topic yet/)).toBeInTheDocument();

    await user.click(kafka.getByRole('button', { name: 'Add topic' }));
    await user.click(kafka.getByLabelText('Topic name'));
    await user.paste('otlp_logs');
    await user.click(kafka.getByLabelText('Keyed by trace ID'));
    await user.click(kafka.getByRole('radio', { name: 'murmur2' }));

    await user.click(kafka.getByRole('button', { name: 'Add topic' }));
    const second = within(kafka.getByRole('group', { name: 'Topic #2' }));
    await user.type(second.getByLabelText('Topic name'), 'audit');
    await user.click(second.getByLabelText('Encoding'));
    await user.click(await screen.findByRole('option', { name: /JSON lines/ }));

    expect(last().jsonData.kafka?.topics).toEqual([
      { name: 'otlp_logs', encoding: 'otlp_proto', keyedByTraceId: true, hasher: 'murmur2' },
      { name: 'audit', encoding: 'json', keyedByTraceId: false },
    ]);

    await user.click(kafka.getByRole('button', { name: 'Remove topic otlp_logs' }));
    expect(last().jsonData.kafka?.topics).toEqual([{ name: 'audit', encoding: 'json', keyedByTraceId: false }]);
    expect(kafka.getAllByLabelText('Topic name')).toHaveLength(1);
    expect(kafka.getByLabelText('Topic name')).toHaveValue('audit');
  });

  it('flags empty, illegal and duplicate topic names', async () => {
    const { user, region } = setup({
      jsonData: { kafka: { brokers: ['kafka:9092'], topics: [{ name: 'audit', encoding: 'json' }] } },
    });
    const kafka = region('Kafka');
    await user.click(kafka.getByRole('button', { name: 'Add topic' }));
    expect(kafka.getByText('Topic name is required')).toBeInTheDocument();

    const second = kafka.getAllByLabelText('Topic name')[1];
    await user.click(second);
    await user.paste('bad topic');
    expect(kafka.getByText(/"bad topic" is not a Kafka topic name/)).toBeInTheDocument();

    await user.clear(second);
    await user.type(second, 'audit');
    expect(kafka.getByText('Topic "audit" is listed twice')).toBeInTheDocument();
  });

  it('resets a configured secret', async () => {
    const { user, region, last } = setup({
      jsonData: { tempo: { url: 'http://tempo:3200', basicAuthUser: 'grafana' } },
      secureJsonFields: { tempoPassword: true, lokiPassword: true },
    });
    const tempo = region('Tempo');
    expect(tempo.getByLabelText('Basic auth password')).toHaveValue('configured');

    await user.click(tempo.getAllByRole('button', { name: 'Reset' })[0]);

    expect(last().secureJsonFields).toEqual({ tempoPassword: false, lokiPassword: true });
    expect(last().secureJsonData).toEqual({ tempoPassword: '' });
    expect(tempo.getByLabelText('Basic auth password')).toHaveValue('');
    expect(tempo.getByLabelText('Basic auth password')).toBeEnabled();
  });

  it('configures SASL and TLS and requires a SASL username', async () => {
    const { user, region, last } = setup();
    const kafka = region('Kafka');
    await user.click(kafka.getByRole('radio', { name: 'SCRAM-SHA-512' }));
    expect(kafka.getByText('A username is required with SASL SCRAM-SHA-512')).toBeInTheDocument();
    await user.click(kafka.getByLabelText('SASL username'));
    await user.paste('reader');
    await user.type(kafka.getByLabelText('SASL password'), 'pw');
    await user.click(kafka.getByLabelText('TLS'));
    await user.type(kafka.getByLabelText('Max bytes per query'), '0');
    expect(kafka.getByText('Must be a whole number of at least 1')).toBeInTheDocument();

    expect(last().jsonData.kafka).toEqual({
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'reader' },
      tls: { enabled: true },
      maxBytes: 0,
    });
    expect(last().secureJsonData).toEqual({ kafkaPassword: 'pw' });
  });

  it('takes the CA certificate of the Kafka brokers once TLS is on, checking the PEM', async () => {
    const { user, region, last } = setup({ jsonData: { kafka: { brokers: ['kafka:9093'] } } });
    const kafka = region('Kafka');
    expect(kafka.queryByLabelText('CA certificate')).not.toBeInTheDocument();

    await user.click(kafka.getByLabelText('TLS'));
    const ca = kafka.getByLabelText('CA certificate');
    expect(kafka.queryByRole('alert')).not.toBeInTheDocument(); // optional: the system roots apply
    await user.click(ca);
    await user.paste('MIIB not a pem');
    expect(kafka.getByRole('alert')).toHaveTextContent(/Not a PEM certificate/);
    await user.clear(ca);
    await user.paste('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(kafka.queryByRole('alert')).not.toBeInTheDocument();

    expect(last().jsonData.kafka).toEqual({ brokers: ['kafka:9093'], tls: { enabled: true } });
    expect(last().secureJsonData).toEqual({
      kafkaTLSCACert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    });
  });

  it('resets a stored Kafka CA certificate', async () => {
    const { user, region, last } = setup({
      jsonData: { kafka: { brokers: ['kafka:9093'], tls: { enabled: true } } },
      secureJsonFields: { kafkaTLSCACert: true, tempoPassword: true },
    });
    const kafka = region('Kafka');
    const ca = kafka.getByLabelText('CA certificate');
    expect(ca).toHaveValue('configured');
    expect(ca).toBeDisabled();

    await user.click(kafka.getByRole('button', { name: 'Reset' }));

    expect(last().secureJsonFields).toEqual({ kafkaTLSCACert: false, tempoPassword: true });
    expect(last().secureJsonData).toEqual({ kafkaTLSCACert: '' });
    expect(kafka.getByLabelText('CA certificate')).toHaveValue('');
    expect(kafka.getByLabelText('CA certificate')).toBeEnabled();
  });

  it('takes the traces per search from 1 to 100, the default as placeholder', async () => {
    const { user, region, last } = setup();
    const search = region('Search');
    const limit = search.getByLabelText('Traces per search');
    expect(limit).toHaveAttribute('placeholder', '20');
    await user.type(limit, '101');
    expect(search.getByRole('alert')).toHaveTextContent('Must be a whole number from 1 to 100');
    await user.clear(limit);
    await user.type(limit, '0');
    expect(search.getByRole('alert')).toHaveTextContent('Must be a whole number from 1 to 100');
    await user.clear(limit);
    await user.type(limit, '50');
    expect(search.queryByRole('alert')).not.toBeInTheDocument();
    expect(last().jsonData).toEqual({ search: { limit: 50 } });

    // Emptied, the field goes back to the default.
    await user.clear(limit);
    expect(last().jsonData.search).toEqual({});
  });

  it('shows the default tier rules, and lets the user customise and reset them', async () => {
    const { user, region, last } = setup();
    const tiers = region('Tier');
    await user.click(tiers.getByRole('button', { name: 'Expand section Tiers' }));
    expect(tiers.getByText(/Default rules/)).toBeInTheDocument();
    expect(tiers.getAllByRole('group', { name: /Tier rule/ })).toHaveLength(DEFAULT_TIER_RULES.length);
    expect(tiers.getAllByLabelText('Attribute')[0]).toHaveValue('db.system');
    expect(tiers.getAllByLabelText('Attribute')[0]).toBeDisabled();

    await user.click(tiers.getByRole('button', { name: 'Customize rules' }));
    expect(last().jsonData.tiers).toEqual(DEFAULT_TIER_RULES);

    await user.click(tiers.getByRole('button', { name: 'Remove rule 1' }));
    await user.click(tiers.getByRole('button', { name: 'Add rule' }));
    const rules = tiers.getAllByRole('group', { name: /Tier rule/ });
    const added = within(rules[rules.length - 1]);
    await user.clear(added.getByLabelText('Attribute'));
    await user.paste('k8s.namespace.name');
    await user.click(added.getByRole('radio', { name: 'matches regex' }));
    await user.click(added.getByLabelText('Regex'));
    await user.paste('(unclosed');
    expect(added.getByText(/not a valid regular expression/)).toBeInTheDocument();

    const got = last().jsonData.tiers ?? [];
    expect(got).toHaveLength(DEFAULT_TIER_RULES.length);
    expect(got[0]).toEqual(DEFAULT_TIER_RULES[1]);
    expect(got[got.length - 1]).toEqual({ tier: 'other', match: { attribute: 'k8s.namespace.name', regex: '(unclosed' } });

    await user.click(tiers.getByRole('button', { name: 'Reset to defaults' }));
    expect(last().jsonData.tiers).toBeUndefined();
    expect(DEFAULT_TIER_RULES[0]).toEqual({ tier: 'mysql', match: { attribute: 'db.system', value: 'mysql' }, order: 4 });
  });

  it('takes the user\'s own tier names, with an optional order and colour', async () => {
    const { user, region, last } = setup({
      jsonData: { tiers: [{ tier: 'edge', match: { attribute: 'service.name', value: 'envoy' } }] },
    });
    const tiers = region('Tier');
    const rule = within(tiers.getByRole('group', { name: 'Tier rule 1' }));
    await user.clear(rule.getByLabelText('Tier'));
    await user.type(rule.getByLabelText('Tier'), 'checkout-api');
    await user.type(rule.getByLabelText('Order'), '2');
    await user.type(rule.getByLabelText('Color'), '#1f77b4');
    expect(last().jsonData.tiers).toEqual([
      { tier: 'checkout-api', match: { attribute: 'service.name', value: 'envoy' }, order: 2, color: '#1f77b4' },
    ]);
    expect(rule.queryByText(/tier name/)).not.toBeInTheDocument();

    // Clearing the optional fields removes them rather than saving empty values.
    await user.clear(rule.getByLabelText('Order'));
    await user.clear(rule.getByLabelText('Color'));
    expect(last().jsonData.tiers).toEqual([{ tier: 'checkout-api', match: { attribute: 'service.name', value: 'envoy' } }]);
  });

  it('flags invalid tier names and colours, and conflicting orders of one tier', async () => {
    const { user, region } = setup({
      jsonData: {
        tiers: [
          { tier: 'datastore', match: { attribute: 'db.system', value: 'postgresql' }, order: 3 },
          { tier: 'datastore', match: { attribute: 'db.system', value: 'memcached' }, order: 4, color: 'chartreuse' },
        ],
      },
    });
    const tiers = region('Tier');
    const first = within(tiers.getByRole('group', { name: 'Tier rule 1' }));
    const second = within(tiers.getByRole('group', { name: 'Tier rule 2' }));
    expect(second.getByText(/Rule 1 gives tier "datastore" order 3/)).toBeInTheDocument();
    expect(second.getByText(/"chartreuse" is neither #rrggbb nor a Grafana colour name/)).toBeInTheDocument();
    expect(first.queryByText(/Rule \d gives/)).not.toBeInTheDocument();

    await user.clear(first.getByLabelText('Tier'));
    expect(first.getByText('A tier name is required')).toBeInTheDocument();
    await user.type(first.getByLabelText('Tier'), 'x'.repeat(65));
    expect(first.getByText('A tier name is at most 64 characters')).toBeInTheDocument();
  });

  it('stores custom headers with secret values, flags bad names, and shifts values on removal', async () => {
    const { user, region, last } = setup({ jsonData: { tempo: { url: 'http://tempo:3200' } } });
    const tempo = region('Tempo');
    await user.click(tempo.getByRole('button', { name: 'Add header' }));
    await user.click(tempo.getByRole('button', { name: 'Add header' }));
    const first = within(tempo.getByRole('group', { name: 'Header #1' }));
    await user.type(first.getByLabelText('Header name'), 'X-Proxy-Key');
    expect(tempo.getByText('Enter the header value')).toBeInTheDocument();
    await user.type(within(tempo.getByRole('group', { name: 'Header X-Proxy-Key' })).getByLabelText('Value'), 'k1');
    const second = within(tempo.getByRole('group', { name: 'Header #2' }));
    await user.type(second.getByLabelText('Header name'), 'X Org');
    expect(tempo.getByText(/"X Org" is not a header name/)).toBeInTheDocument();
    const org = within(tempo.getByRole('group', { name: 'Header X Org' }));
    await user.clear(org.getByLabelText('Header name'));
    await user.type(org.getByLabelText('Header name'), 'Authorization');
    await user.type(within(tempo.getByRole('group', { name: 'Header Authorization' })).getByLabelText('Value'), 'v2');
    await user.type(tempo.getByLabelText('Bearer token'), 'tok');
    expect(tempo.getByText(/Authorization would override the bearer token/)).toBeInTheDocument();

    expect(last().jsonData.tempo?.headers).toEqual([{ name: 'X-Proxy-Key' }, { name: 'Authorization' }]);
    expect(last().secureJsonData).toEqual({ tempoHeader1: 'k1', tempoHeader2: 'v2', tempoBearerToken: 'tok' });

    await user.click(tempo.getByRole('button', { name: 'Remove header X-Proxy-Key' }));
    expect(last().jsonData.tempo?.headers).toEqual([{ name: 'Authorization' }]);
    expect(last().secureJsonData).toMatchObject({ tempoHeader1: 'v2', tempoHeader2: '' });
    expect(last().secureJsonFields).toMatchObject({ tempoHeader2: false });
  });

  it('asks a stored header value again when an earlier header is removed', async () => {
    const { user, region, last } = setup({
      jsonData: { loki: { url: 'http://loki:3100', headers: [{ name: 'X-A' }, { name: 'X-B' }] } },
      secureJsonFields: { lokiHeader1: true, lokiHeader2: true },
    });
    const loki = region('Loki');
    expect(loki.queryByText('Enter the header value')).not.toBeInTheDocument();
    await user.click(loki.getByRole('button', { name: 'Remove header X-A' }));
    expect(last().jsonData.loki?.headers).toEqual([{ name: 'X-B' }]);
    expect(last().secureJsonFields).toMatchObject({ lokiHeader1: false, lokiHeader2: false });
    expect(loki.getByText('Enter the header value')).toBeInTheDocument();
  });

  it('configures a custom CA and a client certificate, checking the PEMs', async () => {
    const { user, region, last } = setup({ jsonData: { loki: { url: 'https://loki:3100' } } });
    const loki = region('Loki');
    await user.click(loki.getByLabelText('With CA certificate'));
    expect(loki.getByText('Paste the CA certificate (PEM)')).toBeInTheDocument();
    await user.click(loki.getByLabelText('CA certificate'));
    await user.paste('not a pem');
    expect(loki.getByText(/Not a PEM certificate/)).toBeInTheDocument();
    await user.clear(loki.getByLabelText('CA certificate'));
    await user.paste('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(loki.queryByText(/Not a PEM certificate/)).not.toBeInTheDocument();

    await user.click(loki.getByLabelText('TLS client auth'));
    expect(loki.getByText('Paste the client certificate (PEM)')).toBeInTheDocument();
    expect(loki.getByText('Paste the client key (PEM)')).toBeInTheDocument();
    await user.click(loki.getByLabelText('Client certificate'));
    await user.paste('-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n');
    await user.click(loki.getByLabelText('Client key'));
    await user.paste('-----BEGIN CERTIFICATE-----\n');
    expect(loki.getByText(/Not a PEM private key/)).toBeInTheDocument();
    await user.clear(loki.getByLabelText('Client key'));
    await user.paste('-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n');
    await user.click(loki.getByLabelText('TLS server name'));
    await user.paste('loki.internal');

    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(last().jsonData.loki).toEqual({
      url: 'https://loki:3100',
      tlsAuthWithCACert: true,
      tlsAuth: true,
      tlsServerName: 'loki.internal',
    });
    expect(last().secureJsonData).toEqual({
      lokiTLSCACert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      lokiTLSClientCert: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n',
      lokiTLSClientKey: '-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n',
    });
  });

  it("offers Grafana's secure socks proxy toggle only when Grafana runs the proxy", async () => {
    const before = config.secureSocksDSProxyEnabled;
    try {
      config.secureSocksDSProxyEnabled = false;
      const off = setup();
      expect(screen.queryByText('Secure Socks Proxy')).not.toBeInTheDocument();
      off.unmount();

      config.secureSocksDSProxyEnabled = true;
      const { user, last } = setup();
      const heading = screen.getByText('Secure Socks Proxy');
      const section = heading.closest('div');
      expect(section).not.toBeNull();
      await user.click(within(section!).getByRole('switch'));
      expect(last().jsonData.enableSecureSocksProxy).toBe(true);
    } finally {
      config.secureSocksDSProxyEnabled = before;
    }
  });
});
