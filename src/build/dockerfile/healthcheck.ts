import { invalid } from '../../common/errors';
import { parseGoDurationNs } from '../../common/time';
import type { CommandForm, HealthcheckInstruction } from './types';
import { fields, jsonArray, parseFlags } from './words';

/**
 * HEALTHCHECK NONE | HEALTHCHECK [--interval=... --timeout=... --start-period=...
 * --start-interval=... --retries=N] CMD command, turned into Docker's HealthConfig with
 * durations in nanoseconds, the unit of the image config.
 */

// Docker refuses intervals below one millisecond (zero means "use the default").
const MINIMUM_NS = 1e6;

function interval(name: string, value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const d = parseGoDurationNs(value);
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
