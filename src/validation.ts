// Inline validation for the config editor. Each function returns a message
// for the user, or undefined when the value is valid. Empty values are valid:
// they mean "use the default" or "source not used". The rules follow
// Settings.Validate in pkg/models/settings.go, which has the final word.

import { MAX_TIER_NAME_LEN, MAX_TRACEQL_LEN } from './defaults.gen';
import type { TierRule } from './types';

const DURATION_RE = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;

/** validateUrl accepts http(s)://host[:port][/path] without credentials. */
export function validateUrl(raw: string | undefined, example: string): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '') {
    return undefined;
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `Not a URL: use http(s)://host:port, e.g. ${example}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return `The URL must start with http:// or https://, e.g. ${example}`;
  }
  if (u.hostname === '') {
    return `The URL has no host, e.g. ${example}`;
  }
  if (u.username || u.password) {
    return 'Put credentials in the basic auth user and password fields, not in the URL';
  }
  return undefined;
}

/** validateDuration accepts a non-negative Go duration string such as 30s, 2m, 1h30m or 500ms. */
export function validateDuration(raw: string | undefined): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '' || s === '0') {
    return undefined;
  }
  if (!DURATION_RE.test(s)) {
    return `"${s}" is not a duration: use a number with a unit (ns, us, ms, s, m, h), e.g. 30s, 2m, 1h30m, 500ms`;
  }
  return undefined;
}

/** validatePositiveInt accepts an empty value or an integer ≥ 1. */
export function validatePositiveInt(value: number | undefined): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!Number.isInteger(value) || value < 1) {
    return 'Must be a whole number of at least 1';
  }
  return undefined;
}

/**
 * validateMinInt accepts an unset value or a whole number ≥ min; hint says what the lowest values mean
 * (for settings where 0 is the default and -1 lifts the bound).
 */
export function validateMinInt(value: number | undefined, min: number, hint?: string): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!Number.isInteger(value) || value < min) {
    return `Must be a whole number of at least ${min}${hint ? ` (${hint})` : ''}`;
  }
  return undefined;
}

/** validateIntRange accepts an unset value or a whole number in [min, max]. */
export function validateIntRange(value: number | undefined, min: number, max: number): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    return `Must be a whole number from ${min} to ${max}`;
  }
  return undefined;
}

/** validateTopicName applies Kafka's rule: 1–249 of [a-zA-Z0-9._-], not "." or "..". */
export function validateTopicName(name: string | undefined): string | undefined {
  const s = name ?? '';
  if (s.trim() === '') {
    return 'Topic name is required';
  }
  if (s.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(s) || s === '.' || s === '..') {
    return `"${s}" is not a Kafka topic name: letters, digits, ".", "_" and "-", at most 249`;
  }
  return undefined;
}

/** validateBroker accepts host:port (IPv6 as [addr]:port), without a scheme. */
export function validateBroker(broker: string): string | undefined {
  const s = broker.trim();
  if (s.includes('://')) {
    return `"${s}" has a scheme: use host:port, e.g. kafka:9092`;
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9._-]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    return `"${s}" is not host:port, e.g. kafka:9092`;
  }
  return undefined;
}

const MATCHER = String.raw`\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*`;
const SELECTOR_RE = new RegExp(String.raw`^\{${MATCHER}(?:,${MATCHER})*\}$`);
const MATCHER_RE = new RegExp(MATCHER, 'g');

/**
 * validateSelector checks a LogQL stream selector the way Loki judges it:
 * braces around label matchers, at least one of which cannot match the empty
 * string (Loki rejects {job=~".*"}).
 */
export function validateSelector(raw: string | undefined, example: string): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '') {
    return undefined;
  }
  if (!SELECTOR_RE.test(s)) {
    return `Not a LogQL stream selector: use {label="value", …}, e.g. ${example}`;
  }
  for (const m of s.matchAll(MATCHER_RE)) {
    const [, , op, value] = m;
    if (op === '=' && value !== '') {
      return undefined;
    }
    if (op === '=~') {
      const re = compileGoRegex(`^(?:${value.replace(/\\\\/g, '\\')})$`);
      if (re === undefined || !re.test('')) {
        return undefined; // cannot judge a Go-only regex here: leave it to the backend
      }
    }
  }
  return `At least one matcher must not match the empty string (Loki rejects it), e.g. ${example}`;
}

/**
 * compileGoRegex compiles a Go (RE2) regular expression as a JavaScript one,
 * translating the constructs that differ (leading (?flags), (?P<name>).
 * Returns undefined when JavaScript cannot compile it.
 */
export function compileGoRegex(src: string): RegExp | undefined {
  let flags = '';
  let body = src.replace(/^\(\?([imsU]+)\)/, (_, f: string) => {
    flags = f.replace(/U/g, '');
    return '';
  });
  body = body.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(body, Array.from(new Set(flags)).join(''));
  } catch {
    return undefined;
  }
}

/** validateGoRegex flags a regex that JavaScript cannot compile (RE2 is close to a subset). */
export function validateGoRegex(src: string | undefined): string | undefined {
  if (!src) {
    return undefined;
  }
  return compileGoRegex(src) === undefined ? `"${src}" is not a valid regular expression` : undefined;
}

// NOT_PRINTABLE is a character Go's unicode.IsPrint rejects: anything but a letter, mark,
// number, punctuation, symbol or the ASCII space (control, format and other spaces).
const NOT_PRINTABLE = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

/** validateTierName follows models.ValidateTierName: trimmed non-empty, short, printable. */
export function validateTierName(name: string | undefined): string | undefined {
  const s = (name ?? '').trim();
  if (s === '') {
    return 'A tier name is required';
  }
  if ([...s].length > MAX_TIER_NAME_LEN) {
    return `A tier name is at most ${MAX_TIER_NAME_LEN} characters`;
  }
  const bad = NOT_PRINTABLE.exec(s);
  if (bad) {
    const code = bad[0].codePointAt(0) ?? 0;
    return `A tier name must not contain control or invisible characters (U+${code.toString(16).toUpperCase().padStart(4, '0')})`;
  }
  return undefined;
}

const GRAFANA_HUES = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'];
const GRAFANA_SHADES = ['', 'dark-', 'semi-dark-', 'light-', 'super-light-'];
const HEX_COLOR_RE = /^#[0-9a-fA-F]{6}$/;

/** validateTierColor follows models.ValidateTierColor: empty, a Grafana colour name or #rrggbb. */
export function validateTierColor(color: string | undefined): string | undefined {
  const c = (color ?? '').trim();
  if (c === '' || HEX_COLOR_RE.test(c) || GRAFANA_SHADES.some((s) => GRAFANA_HUES.some((h) => c === s + h))) {
    return undefined;
  }
  return `"${c}" is neither #rrggbb nor a Grafana colour name such as blue, dark-green or light-orange`;
}

/** validateTierOrder accepts an unset order or an integer. */
export function validateTierOrder(order: number | undefined): string | undefined {
  if (order === undefined || Number.isInteger(order)) {
    return undefined;
  }
  return 'The order must be a whole number';
}

/** TierConflict names a rule's order or colour that disagrees with an earlier rule of its tier. */
export interface TierConflict {
  order?: string;
  color?: string;
}

/**
 * tierConflicts follows Settings.Validate: rules of one tier share its order and colour, so a rule
 * that sets a different one than an earlier rule of the same tier is an error (by rule index).
 */
export function tierConflicts(rules: readonly TierRule[]): TierConflict[] {
  const orderAt = new Map<string, number>();
  const colorAt = new Map<string, number>();
  return rules.map((r, i) => {
    const tier = r.tier.trim();
    const out: TierConflict = {};
    if (r.order !== undefined) {
      const first = orderAt.get(tier);
      if (first === undefined) {
        orderAt.set(tier, i);
      } else if (rules[first].order !== r.order) {
        out.order = `Rule ${first + 1} gives tier "${tier}" order ${rules[first].order}; rules of one tier share its order`;
      }
    }
    const color = (r.color ?? '').trim();
    if (color !== '') {
      const first = colorAt.get(tier);
      if (first === undefined) {
        colorAt.set(tier, i);
      } else if ((rules[first].color ?? '').trim() !== color) {
        out.color = `Rule ${first + 1} gives tier "${tier}" colour ${rules[first].color}; rules of one tier share its colour`;
      }
    }
    return out;
  });
}

const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** HeaderContext is what a custom header's name may not override. */
export interface HeaderContext {
  basicAuth: boolean;
  bearerToken: boolean;
  tenant: boolean;
}

/**
 * validateHeaderNames checks custom header names as Settings.Validate does: an RFC 7230 token, each
 * once (case-insensitive), not Authorization with basic auth or a bearer token, not X-Scope-OrgID
 * with a tenant. It returns one message (or undefined) per header.
 */
export function validateHeaderNames(names: string[], ctx: HeaderContext): Array<string | undefined> {
  const seen = new Set<string>();
  return names.map((raw) => {
    const name = raw.trim();
    const lower = name.toLowerCase();
    if (name === '') {
      return 'Enter a header name';
    }
    if (!HEADER_NAME_RE.test(name)) {
      return `"${name}" is not a header name: letters, digits and !#$%&'*+-.^_\`|~ only`;
    }
    if (seen.has(lower)) {
      return `Header "${name}" is listed twice`;
    }
    seen.add(lower);
    if (lower === 'authorization' && ctx.basicAuth) {
      return 'Authorization would override basic auth: remove the header or the basic auth user';
    }
    if (lower === 'authorization' && ctx.bearerToken) {
      return 'Authorization would override the bearer token: remove the header or the token';
    }
    if (lower === 'x-scope-orgid' && ctx.tenant) {
      return 'X-Scope-OrgID would override the tenant: remove the header or the tenant';
    }
    return undefined;
  });
}

/**
 * validatePem checks a PEM the user typed (empty: nothing typed, valid) for the block type the
 * backend expects; the backend parses it and has the final word.
 */
export function validatePem(raw: string | undefined, kind: 'certificate' | 'key'): string | undefined {
  const s = (raw ?? '').trim();
  if (s === '') {
    return undefined;
  }
  if (kind === 'certificate' && !s.startsWith('-----BEGIN CERTIFICATE-----')) {
    return 'Not a PEM certificate: paste the text from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----';
  }
  if (kind === 'key' && !/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s)) {
    return 'Not a PEM private key: paste the text from -----BEGIN … PRIVATE KEY----- to its END line';
  }
  return undefined;
}

/** utf8Length is the length of s in UTF-8 bytes, the unit the backend bounds TraceQL in. */
export function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * validateTraceQL follows models.parseSearch for what the browser can judge: at most MAX_TRACEQL_LEN
 * bytes (the query travels in Tempo's URL). Empty is valid here: the query is then not run. The
 * TraceQL itself is judged by Tempo, whose error the panel shows.
 */
export function validateTraceQL(raw: string | undefined): string | undefined {
  const n = utf8Length((raw ?? '').trim());
  if (n > MAX_TRACEQL_LEN) {
    return `The TraceQL query is ${n} bytes; at most ${MAX_TRACEQL_LEN} are accepted`;
  }
  return undefined;
}
