import { invalid } from '../../common/errors';
import type { CommandForm, HealthcheckInstruction } from './types';
import { fields, jsonArray, parseFlags } from './words';

/**
 * HEALTHCHECK NONE | HEALTHCHECK [--interval=... --timeout=... --start-period=...
 * --start-interval=... --retries=N] CMD command, turned into Docker's HealthConfig with
 * durations in nanoseconds, the unit of the image config.
 */

const NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds ("30s", "1m30s", "1.5h", "250ms"). */
export function parseDurationNs(s: string): number {
  const bad = () => invalid(`time: invalid duration ${JSON.stringify(s)}`);
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest[0] === '-' ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw bad();
  let total = 0;
  while (rest !== '') {
    const m = /^(\d*(?:\.\d*)?)([^\d.]*)/.exec(rest);
    if (!m || m[1] === '' || m[1] === '.') throw bad();
    if (m[2] === '') throw invalid(`time: missing unit in duration ${JSON.stringify(s)}`);
    const unit = NS[m[2]];
    if (unit === undefined) throw invalid(`time: unknown unit ${JSON.stringify(m[2])} in duration ${JSON.stringify(s)}`);
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  return sign * Math.round(total);
}

// Docker refuses intervals below one millisecond (zero means "use the default").
const MINIMUM_NS = 1e6;

function interval(name: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const d = parseDurationNs(value);
  if (d === 0) return 0;
  if (d < MINIMUM_NS) throw invalid(`Interval "${name}" cannot be less than 1ms`);
  return d;
}

type Parsed = Pick<HealthcheckInstruction, 'health' | 'cmd'>;

export function parseHealthcheck(flagWords: string[], rest: string): Parsed {
  const words = fields(rest);
  if (words.length === 0) throw invalid('HEALTHCHECK requires at least one argument');
  const type = words[0].toUpperCase();
  if (type === 'NONE') {
    if (words.length > 1) throw invalid('HEALTHCHECK NONE takes no arguments');
    return { health: { Test: ['NONE'] } };
  }
  if (type !== 'CMD') throw invalid(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const flags = parseFlags(flagWords, {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  });
  const command = rest.trim().slice(words[0].length).trim();
  if (command === '') throw invalid('Missing command after HEALTHCHECK CMD');
  const args = jsonArray(command);
  const cmd: CommandForm = args ? { form: 'exec', args } : { form: 'shell', command };
  const health: Parsed['health'] = { Test: args ? ['CMD', ...args] : ['CMD-SHELL', command] };
  const set = (key: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval', flag: string) => {
    const ns = interval(flag, flags[flag] as string | undefined);
    if (ns) health[key] = ns;
  };
  set('Interval', 'interval');
  set('Timeout', 'timeout');
  set('StartPeriod', 'start-period');
  set('StartInterval', 'start-interval');
  const retries = flags.retries as string | undefined;
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
    const n = Number(retries);
    if (n < 0) throw invalid(`--retries cannot be negative (${n})`);
    if (n) health.Retries = n;
  }
  return { health, cmd };
}
