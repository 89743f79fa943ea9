import {
  validateBroker,
  validateDuration,
  validateGoRegex,
  validateHeaderNames,
  validatePem,
  validateMinInt,
  validatePositiveInt,
  validateSelector,
  tierConflicts,
  validateTierColor,
  validateTierName,
  validateTopicName,
  validateTraceQL,
  validateUrl,
  utf8Length,
} from './validation';

const SEL = '{service_name=~".+"}';

describe('validateUrl', () => {
  it.each(['', 'http://tempo:3200', 'https://tempo.example.com/prefix/', 'http://[::1]:3100'])('accepts %j', (u) => {
    expect(validateUrl(u, 'http://tempo:3200')).toBeUndefined();
  });
  it.each([
    ['tempo:3200', /http:\/\/ or https:\/\//],
    ['ftp://tempo', /http:\/\/ or https:\/\//],
    ['http//tempo', /Not a URL/],
    ['http://user:pw@tempo:3200', /credentials/],
  ])('rejects %j', (u, msg) => {
    expect(validateUrl(u, 'http://tempo:3200')).toMatch(msg);
  });
});

describe('validateDuration', () => {
  it.each(['', '0', '30s', '2m', '1h30m', '500ms', '1.5h', '10us', '3µs', '100ns'])('accepts %j', (d) => {
    expect(validateDuration(d)).toBeUndefined();
  });
  it.each(['30', 'abc', '2 m', '-5s', '1d', 's'])('rejects %j', (d) => {
    expect(validateDuration(d)).toMatch(/is not a duration/);
  });
});

describe('validatePositiveInt', () => {
  it('accepts unset and whole numbers ≥ 1', () => {
    expect(validatePositiveInt(undefined)).toBeUndefined();
    expect(validatePositiveInt(5000)).toBeUndefined();
  });
  it.each([0, -1, 1.5, NaN])('rejects %p', (n) => {
    expect(validatePositiveInt(n)).toBeDefined();
  });
});

describe('validateMinInt', () => {
  it('accepts unset and whole numbers from the minimum up', () => {
    expect(validateMinInt(undefined, -1)).toBeUndefined();
    expect(validateMinInt(-1, -1)).toBeUndefined();
    expect(validateMinInt(0, -1)).toBeUndefined();
    expect(validateMinInt(0, 0)).toBeUndefined();
    expect(validateMinInt(134217728, 0)).toBeUndefined();
  });
  it.each([
    [-2, -1],
    [-1, 0],
    [1.5, 0],
    [NaN, 0],
  ])('rejects %p below or beside %p', (n, min) => {
    expect(validateMinInt(n, min)).toBe(`Must be a whole number of at least ${min}`);
  });
  it('says what the lowest values mean', () => {
    expect(validateMinInt(-2, -1, '-1: no bound')).toBe('Must be a whole number of at least -1 (-1: no bound)');
  });
});

describe('validateTopicName', () => {
  it.each(['otlp_logs', 'audit', 'a.b-c_D9', 'x'.repeat(249)])('accepts %j', (t) => {
    expect(validateTopicName(t)).toBeUndefined();
  });
  it.each([
    ['', /required/],
    ['  ', /required/],
    ['bad topic', /not a Kafka topic name/],
    ['.', /not a Kafka topic name/],
    ['..', /not a Kafka topic name/],
    ['x'.repeat(250), /not a Kafka topic name/],
    ['logs/*', /not a Kafka topic name/],
  ])('rejects %j', (t, msg) => {
    expect(validateTopicName(t)).toMatch(msg);
  });
});

describe('validateBroker', () => {
  it.each(['kafka:9092', 'b-1.msk.amazonaws.com:9094', '10.0.0.1:9092', '[::1]:9092'])('accepts %j', (b) => {
    expect(validateBroker(b)).toBeUndefined();
  });
  it.each(['kafka', 'kafka:', ':9092', 'kafka:99999', 'PLAINTEXT://kafka:9092', 'kafka:abc'])('rejects %j', (b) => {
    expect(validateBroker(b)).toBeDefined();
  });
});

describe('validateSelector', () => {
  it.each(['', SEL, '{job="app"}', '{ service_name = "api" , env!="dev" }', '{app=~"a|b", ns="x"}'])(
    'accepts %j',
    (s) => {
      expect(validateSelector(s, SEL)).toBeUndefined();
    }
  );
  it.each([
    ['service_name="api"', /Not a LogQL stream selector/],
    ['{}', /Not a LogQL stream selector/],
    ['{job=api}', /Not a LogQL stream selector/],
    ['{job="api"} |= "x"', /Not a LogQL stream selector/],
    ['{job=~".*"}', /must not match the empty string/],
    ['{job=""}', /must not match the empty string/],
    ['{job!="x"}', /must not match the empty string/],
  ])('rejects %j', (s, msg) => {
    expect(validateSelector(s, SEL)).toMatch(msg);
  });
});

describe('validateGoRegex', () => {
  it.each(['(?i)^redis', '(?i)proxy|gateway|nginx|envoy', '(?P<name>a+)', ''])('accepts %j', (r) => {
    expect(validateGoRegex(r)).toBeUndefined();
  });
  it('rejects an unbalanced regex', () => {
    expect(validateGoRegex('(abc')).toMatch(/not a valid regular expression/);
  });
});

describe('tier rules', () => {
  it('accepts any short printable tier name, like models.ValidateTierName', () => {
    for (const ok of ['edge', 'checkout-api', 'datastore', 'Kassen Dienst ü', '  padded  ', 'x'.repeat(64)]) {
      expect(validateTierName(ok)).toBeUndefined();
    }
    expect(validateTierName('   ')).toBe('A tier name is required');
    expect(validateTierName('x'.repeat(65))).toMatch(/at most 64/);
    expect(validateTierName('a\u0007b')).toMatch(/U\+0007/);
    expect(validateTierName('a\u200bb')).toMatch(/U\+200B/);
    expect(validateTierName('a\u00a0b')).toMatch(/U\+00A0/);
  });
  it('accepts Grafana colour names and #rrggbb', () => {
    for (const ok of ['', 'blue', 'dark-green', 'super-light-orange', '#1f77b4']) {
      expect(validateTierColor(ok)).toBeUndefined();
    }
    for (const bad of ['chartreuse', '#12345', 'dark-', 'Blue']) {
      expect(validateTierColor(bad)).toMatch(/neither #rrggbb nor a Grafana colour name/);
    }
  });
  it('reports conflicting orders and colours of one tier at the later rule', () => {
    const m = { attribute: 'a', value: 'b' };
    const got = tierConflicts([
      { tier: 'db', match: m, order: 1, color: 'red' },
      { tier: 'edge', match: m, order: 2 },
      { tier: 'db ', match: m, order: 1, color: 'red' },
      { tier: 'db', match: m, order: 3, color: 'blue' },
    ]);
    expect(got[0]).toEqual({});
    expect(got[1]).toEqual({});
    expect(got[2]).toEqual({});
    expect(got[3].order).toMatch(/Rule 1 gives tier "db" order 1/);
    expect(got[3].color).toMatch(/Rule 1 gives tier "db" colour red/);
  });
});

describe('validateHeaderNames', () => {
  const none = { basicAuth: false, bearerToken: false, tenant: false };
  it('accepts tokens, each once, and refuses what would override auth or tenant', () => {
    expect(validateHeaderNames(['X-Proxy-Key', 'x_org'], none)).toEqual([undefined, undefined]);
    const got = validateHeaderNames(['', 'X Key', 'a:b', 'X-A', 'x-a'], none);
    expect(got[0]).toBe('Enter a header name');
    expect(got[1]).toMatch(/is not a header name/);
    expect(got[2]).toMatch(/is not a header name/);
    expect(got[3]).toBeUndefined();
    expect(got[4]).toBe('Header "x-a" is listed twice');
    expect(validateHeaderNames(['authorization'], { ...none, basicAuth: true })[0]).toMatch(/override basic auth/);
    expect(validateHeaderNames(['Authorization'], { ...none, bearerToken: true })[0]).toMatch(
      /override the bearer token/
    );
    expect(validateHeaderNames(['Authorization', 'X-Scope-OrgID'], none)).toEqual([undefined, undefined]);
    expect(validateHeaderNames(['x-scope-orgid'], { ...none, tenant: true })[0]).toMatch(/override the tenant/);
  });
});

describe('validatePem', () => {
  it('wants the block type the backend parses', () => {
    expect(validatePem('', 'certificate')).toBeUndefined();
    expect(validatePem(' -----BEGIN CERTIFICATE-----\n', 'certificate')).toBeUndefined();
    expect(validatePem('MIIB', 'certificate')).toMatch(/Not a PEM certificate/);
    expect(validatePem('-----BEGIN PRIVATE KEY-----', 'key')).toBeUndefined();
    expect(validatePem('-----BEGIN RSA PRIVATE KEY-----', 'key')).toBeUndefined();
    expect(validatePem('-----BEGIN CERTIFICATE-----', 'key')).toMatch(/Not a PEM private key/);
  });
});

describe('validateTraceQL', () => {
  it('bounds the TraceQL in UTF-8 bytes, as the backend does, after trimming', () => {
    expect(validateTraceQL('')).toBeUndefined();
    expect(validateTraceQL('{ status = error }')).toBeUndefined();
    expect(validateTraceQL(`  ${'a'.repeat(4096)}\n`)).toBeUndefined();
    expect(validateTraceQL('a'.repeat(4097))).toBe('The TraceQL query is 4097 bytes; at most 4096 are accepted');
    // 2048 characters of two bytes each fit; one more does not.
    expect(validateTraceQL('é'.repeat(2048))).toBeUndefined();
    expect(validateTraceQL('é'.repeat(2049))).toMatch(/4098 bytes/);
  });

  it('counts UTF-8 bytes', () => {
    expect(utf8Length('a')).toBe(1);
    expect(utf8Length('é')).toBe(2);
    expect(utf8Length('€')).toBe(3);
    expect(utf8Length('😀')).toBe(4);
  });
});
