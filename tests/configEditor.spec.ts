import { test, expect } from '@grafana/plugin-e2e';

// End-to-end smoke tests against a running Grafana with the plugin installed
// (`npm run e2e`, see playwright.config.ts). Not part of scripts/frontend.sh.

test('config editor renders every section', async ({ createDataSourceConfigPage, page }) => {
  await createDataSourceConfigPage({ type: 'traceweave-timeline-datasource' });
  for (const section of ['Tempo settings', 'Loki settings', 'Kafka settings', 'Window settings', 'Dashboard settings', 'Tier settings']) {
    await expect(page.getByRole('region', { name: section })).toBeVisible();
  }
});

test('config editor flags an invalid Tempo URL', async ({ createDataSourceConfigPage, page }) => {
  await createDataSourceConfigPage({ type: 'traceweave-timeline-datasource' });
  const tempo = page.getByRole('region', { name: 'Tempo settings' });
  await tempo.getByLabel('URL').fill('tempo:3200');
  await expect(tempo.getByText(/must start with http/)).toBeVisible();
});
