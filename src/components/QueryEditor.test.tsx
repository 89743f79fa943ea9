import React, { useState } from 'react';
import { DataSourceInstanceSettings, PluginMetaInfo, PluginType } from '@grafana/data';
import { render, screen } from '@testing-library/react';
import userEvent, { PointerEventsCheckLevel } from '@testing-library/user-event';

import { DataSource } from '../datasource';
import { Options, Query } from '../types';
import { QueryEditor } from './QueryEditor';

jest.setTimeout(120_000); // see ConfigEditor.test.tsx

// MultiCombobox virtualises its options: give elements a size jsdom lacks.
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

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function datasource(jsonData: Options): DataSource {
  // id is deprecated (removed in Grafana 13): leave it out.
  const settings = {
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
  return new DataSource(settings);
}

const ALL: Options = {
  tempo: { url: 'http://tempo:3200' },
  loki: { url: 'http://loki:3100' },
  kafka: { brokers: ['kafka:9092'] },
};

/** setup renders the editor with the query state a panel would keep. */
function setup(initial: Partial<Query> = {}, jsonData: Options = ALL) {
  const onChange = jest.fn<void, [Query]>();
  const onRunQuery = jest.fn();
  const ds = datasource(jsonData);
  function Harness() {
    const [query, setQuery] = useState<Query>({ refId: 'A', traceId: '', ...initial });
    return (
      <QueryEditor
        datasource={ds}
        query={query}
        onChange={(q) => {
          onChange(q);
          setQuery(q);
        }}
        onRunQuery={onRunQuery}
      />
    );
  }
  const user = userEvent.setup({ delay: null, pointerEventsCheck: PointerEventsCheckLevel.Never });
  render(<Harness />);
  const last = () => onChange.mock.calls[onChange.mock.calls.length - 1][0];
  return { user, onChange, onRunQuery, last };
}

describe('QueryEditor', () => {
  it('shows a clear message for a bad trace ID and does not run it', async () => {
    const { user, onRunQuery } = setup();
    const input = screen.getByLabelText('Trace ID');
    await user.type(input, 'abc-xyz');
    expect(screen.getByText(/Not a trace ID: character 4 \("-"\) is not a hex digit/)).toBeInTheDocument();
    await user.tab();
    expect(onRunQuery).not.toHaveBeenCalled();

    await user.clear(input);
    await user.type(input, TRACE + 'ff');
    expect(screen.getByText(/34 hex digits, at most 32 allowed/)).toBeInTheDocument();
  });

  it('does not run the query on each keystroke, but on blur', async () => {
    const { user, onChange, onRunQuery, last } = setup();
    await user.type(screen.getByLabelText('Trace ID'), 'ABCDEF');
    expect(onRunQuery).not.toHaveBeenCalled();
    expect(onChange).not.toHaveBeenCalled();

    await user.tab();
    expect(last()).toEqual({ refId: 'A', traceId: 'abcdef' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(screen.getByLabelText('Trace ID')).toHaveValue('abcdef');

    // Focus in and out again without a change: no second run.
    await user.click(screen.getByLabelText('Trace ID'));
    await user.tab();
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('runs the query on Enter', async () => {
    const { user, onRunQuery, last } = setup();
    await user.type(screen.getByLabelText('Trace ID'), `${TRACE}{Enter}`);
    expect(last().traceId).toBe(TRACE);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('extracts trace and span ID from a pasted traceparent', async () => {
    const { user, onRunQuery, last } = setup();
    await user.click(screen.getByLabelText('Trace ID'));
    await user.paste(`00-${TRACE}-${SPAN}-01`);

    expect(screen.getByLabelText('Trace ID')).toHaveValue(TRACE);
    expect(screen.getByLabelText('Span ID')).toHaveValue(SPAN);
    expect(screen.getByText(`Trace ID taken from the traceparent header, span ID ${SPAN}.`)).toBeInTheDocument();
    expect(last()).toEqual({ refId: 'A', traceId: TRACE, spanId: SPAN });

    await user.tab();
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('extracts the trace ID from a pasted Explore URL', async () => {
    const { user } = setup();
    const panes = { x: { queries: [{ refId: 'A', queryType: 'traceql', query: TRACE }] } };
    await user.click(screen.getByLabelText('Trace ID'));
    await user.paste(`https://grafana.example.com/explore?panes=${encodeURIComponent(JSON.stringify(panes))}`);
    expect(screen.getByLabelText('Trace ID')).toHaveValue(TRACE);
    expect(screen.getByText('Trace ID taken from the URL.')).toBeInTheDocument();
  });

  it('validates the span ID', async () => {
    const { user, onRunQuery } = setup({ traceId: TRACE });
    await user.type(screen.getByLabelText('Span ID'), `${SPAN}0`);
    expect(screen.getByText(/Not a span ID: 17 hex digits, at most 16 allowed/)).toBeInTheDocument();
    await user.tab();
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('switches the query type and runs the query', async () => {
    const { user, onRunQuery, last } = setup({ traceId: TRACE });
    expect(screen.getByRole('radio', { name: 'Timeline' })).toBeChecked();
    await user.click(screen.getByRole('radio', { name: 'Logs' }));
    expect(last().queryType).toBe('logs');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('offers only the configured sources', async () => {
    const { user, last } = setup({ traceId: TRACE }, { tempo: { url: 'http://tempo:3200' }, kafka: { brokers: ['k:9092'] } });
    await user.click(screen.getByLabelText('Sources'));
    const options = (await screen.findAllByRole('option')).map((o) => o.textContent);
    expect(options).toEqual(expect.arrayContaining(['Tempo', 'Kafka']));
    expect(options).not.toContain('Loki');

    await user.click(screen.getByRole('option', { name: 'Kafka' }));
    expect(last().sources).toEqual(['kafka']);
  });

  it('selects the frames a panel shows, in answer order, and runs the query', async () => {
    const { user, onRunQuery, last } = setup({ traceId: TRACE });
    const frames = screen.getByLabelText('Frames');
    expect(frames).toHaveAttribute('placeholder', 'Default: trace, logs, timeline, summary');

    await user.click(frames);
    const options = (await screen.findAllByRole('option')).map((o) => o.textContent);
    expect(options).toEqual([
      expect.stringMatching(/^trace.*trace view/i),
      expect.stringMatching(/^logs.*logs panel/i),
      expect.stringMatching(/^timeline.*table of spans and logs/i),
      expect.stringMatching(/^summary.*time per tier/i),
      expect.stringMatching(/^firstError.*stat panel/i),
    ]);
    await user.click(screen.getByRole('option', { name: /^firstError/ }));
    expect(last().frames).toEqual(['firstError']);
    await user.click(screen.getByRole('option', { name: /^trace/ }));
    expect(last().frames).toEqual(['trace', 'firstError']);
    expect(onRunQuery).toHaveBeenCalledTimes(2);

    // Deselecting both leaves no selection: the field goes, and the default frames come back.
    await user.click(screen.getByRole('option', { name: /^trace/ }));
    await user.click(screen.getByRole('option', { name: /^firstError/ }));
    expect(last()).toEqual({ refId: 'A', traceId: TRACE });
    expect(last()).not.toHaveProperty('frames');
    expect(onRunQuery).toHaveBeenCalledTimes(4);
  });

  it('offers no frames for a logs query and drops them when switching to logs', async () => {
    const { user, onRunQuery, last } = setup({ traceId: TRACE, frames: ['trace', 'summary'] });
    expect(screen.getByLabelText('Frames')).toBeInTheDocument();

    await user.click(screen.getByRole('radio', { name: 'Logs' }));
    expect(last()).toEqual({ refId: 'A', traceId: TRACE, queryType: 'logs' });
    expect(last()).not.toHaveProperty('frames');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(screen.queryByLabelText('Frames')).not.toBeInTheDocument();

    await user.click(screen.getByRole('radio', { name: 'Timeline' }));
    expect(screen.getByLabelText('Frames')).toHaveAttribute('placeholder', 'Default: trace, logs, timeline, summary');
    expect(last().frames).toBeUndefined();
  });

  it('switches to a search, which asks for TraceQL and a limit instead of IDs and frames', async () => {
    const { user, onRunQuery, last } = setup(
      { traceId: TRACE, spanId: SPAN, frames: ['trace'], sources: ['tempo', 'kafka'] },
      { ...ALL, search: { limit: 30 } }
    );
    await user.hover(screen.getByRole('radio', { name: 'Search' }));
    expect(await screen.findByText('TraceQL search: every found trace with its logs')).toBeInTheDocument();
    await user.click(screen.getByRole('radio', { name: 'Search' }));

    // The backend refuses a search with IDs or frames; it always asks Tempo, so only log sources stay.
    expect(last()).toEqual({ refId: 'A', queryType: 'search', traceId: '', sources: ['kafka'] });
    expect(screen.queryByLabelText('Trace ID')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Span ID')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Frames')).not.toBeInTheDocument();
    const traceql = screen.getByLabelText('TraceQL');
    expect(traceql).toHaveAttribute('placeholder', '{ status = error }');
    expect(traceql).toHaveAttribute('maxLength', '4096');
    expect(screen.getByLabelText('Limit')).toHaveAttribute('placeholder', '30');
    expect(onRunQuery).not.toHaveBeenCalled(); // nothing to search for yet
  });

  it('runs a search on blur and on Shift+Enter, only with TraceQL and a limit in range', async () => {
    const { user, onRunQuery, last } = setup({ queryType: 'search' });
    expect(screen.getByLabelText('Limit')).toHaveAttribute('placeholder', '20');
    const traceql = screen.getByLabelText('TraceQL');
    await user.click(traceql);
    await user.tab();
    expect(onRunQuery).not.toHaveBeenCalled();

    await user.click(traceql);
    await user.paste('{ status = error }');
    expect(onRunQuery).not.toHaveBeenCalled();
    await user.tab();
    expect(last()).toEqual({ refId: 'A', traceId: '', queryType: 'search', traceql: '{ status = error }' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);

    const limit = screen.getByLabelText('Limit');
    await user.type(limit, '101');
    expect(screen.getByRole('alert')).toHaveTextContent('Must be a whole number from 1 to 100');
    await user.tab();
    expect(last().limit).toBe(101);
    expect(onRunQuery).toHaveBeenCalledTimes(1);

    await user.clear(limit);
    await user.type(limit, '5{Enter}');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(last()).toEqual({ refId: 'A', traceId: '', queryType: 'search', traceql: '{ status = error }', limit: 5 });
    expect(onRunQuery).toHaveBeenCalledTimes(2);

    // Shift+Enter runs the TraceQL as it is, even unchanged; Enter alone is a new line.
    await user.click(traceql);
    await user.keyboard('{Shift>}{Enter}{/Shift}');
    expect(onRunQuery).toHaveBeenCalledTimes(3);
    await user.keyboard('{Enter}');
    expect(traceql).toHaveValue('{ status = error }\n');
    expect(onRunQuery).toHaveBeenCalledTimes(3);
  });

  it('flags a TraceQL longer than the backend takes, and does not run it', async () => {
    const { user, onRunQuery } = setup({ queryType: 'search' });
    await user.click(screen.getByLabelText('TraceQL'));
    await user.paste(`{ name = "${'é'.repeat(2045)}" }`);
    expect(screen.getByRole('alert')).toHaveTextContent('The TraceQL query is 4103 bytes; at most 4096 are accepted');
    await user.tab();
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('offers only the configured log sources in a search', async () => {
    const { user, last } = setup({ queryType: 'search', traceql: '{ status = error }' });
    expect(screen.getByLabelText('Sources')).toHaveAttribute('placeholder', 'All configured log sources');
    await user.click(screen.getByLabelText('Sources'));
    const options = (await screen.findAllByRole('option')).map((o) => o.textContent);
    expect(options).toEqual(['Loki', 'Kafka']);
    await user.click(screen.getByRole('option', { name: 'Loki' }));
    expect(last().sources).toEqual(['loki']);
  });

  it('keeps the TraceQL when switching from a search back to a trace', async () => {
    const { user, last } = setup({ queryType: 'search', traceql: '{ status = error }', limit: 5 });
    await user.click(screen.getByRole('radio', { name: 'Timeline' }));
    expect(last()).toEqual({ refId: 'A', traceId: '', queryType: 'timeline', traceql: '{ status = error }', limit: 5 });
    expect(screen.getByLabelText('Trace ID')).toBeInTheDocument();
    expect(screen.getByLabelText('Frames')).toBeInTheDocument();
    await user.click(screen.getByRole('radio', { name: 'Search' }));
    expect(screen.getByLabelText('TraceQL')).toHaveValue('{ status = error }');
    expect(screen.getByLabelText('Limit')).toHaveValue(5);
  });

  it('keeps a template variable as it is', async () => {
    const { user, onRunQuery, last } = setup();
    await user.click(screen.getByLabelText('Trace ID'));
    await user.paste('${traceId}');
    await user.tab();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(last().traceId).toBe('${traceId}');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });
});
