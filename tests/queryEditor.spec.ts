import { test, expect } from '@grafana/plugin-e2e';

test('query editor extracts the trace ID from a traceparent', async ({ panelEditPage, readProvisionedDataSource }) => {
  const ds = await readProvisionedDataSource({ fileName: 'datasources.yml' });
  await panelEditPage.datasource.set(ds.name);
  const row = panelEditPage.getQueryEditorRow('A');
  const traceId = row.getByRole('textbox', { name: 'Trace ID' });
  await traceId.fill('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  await traceId.blur();
  await expect(traceId).toHaveValue('4bf92f3577b34da6a3ce929d0e0e4736');
});
