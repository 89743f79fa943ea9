// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('./.config/jest/utils');

// ESM-only packages that @grafana/* 13 pull in, on top of the scaffold's list.
const extraESModules = [
  '@grafana/react-data-grid',
  '@marcbachmann/cel-js',
  '@react-hookz',
  '@ver0',
  'd3-array',
  'd3-format',
  'd3-scale',
  'd3-time',
  'd3-time-format',
  'internmap',
  'quick-lru',
];

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  transform: {
    ...base.transform,
    // d3-color and friends ship untranspiled .mjs ("Unexpected token 'export'"):
    // run them through the same swc transform as the sources.
    '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'],
  },
  transformIgnorePatterns: [nodeModulesToTransform([...grafanaESModules, ...extraESModules])],
};
