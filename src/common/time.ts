import { invalid } from './errors';

/**
 * The one reading of Docker's time arguments, for the daemon and the CLI alike: Go durations
 * (time.ParseDuration: "1h30m", "-5m", "250ms") and the timestamps that `--since`, `--until`
 * and the `until` filter take (Docker's api/types/time: GetTimestamp then ParseTimestamps).
 *
 * GetTimestamp tries, in order: a Go duration before the reference time ("24h"; a negative one
 * is in the future), a date or RFC 3339 time (no zone: the reference's local zone), then Unix
 * seconds with an optional fraction ("1700000000.123"). Every refusal is a 400 in Go's words.
 */

const NS_PER_UNIT: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
const MAX_INT64 = 2 ** 63;

const goQuote = (s: string) => JSON.stringify(s);

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDurationNs(s: string): number {
  const bad = () => invalid(`time: invalid duration ${goQuote(s)}`);
  let rest = s;
  let negative = false;
  if (rest !== '' && (rest[0] === '-' || rest[0] === '+')) {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw bad();
  let total = 0;
  while (rest !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    const [whole, int, frac] = [m[0], m[1], m[2]];
    if (int === '' && (frac === undefined || frac === '')) throw bad();
    rest = rest.slice(whole.length);
    const unitText = /^[^\d.]*/.exec(rest)![0];
    if (unitText === '') throw invalid(`time: missing unit in duration ${goQuote(s)}`);
    const unit = NS_PER_UNIT[unitText];
    if (unit === undefined) throw invalid(`time: unknown unit ${goQuote(unitText)} in duration ${goQuote(s)}`);
    rest = rest.slice(unitText.length);
    // Go truncates the fractional part of each component to whole nanoseconds.
    const part = Number(int || '0') * unit + (frac ? Math.trunc(Number(`0.${frac}`) * unit) : 0);
    total += part;
    if (total >= MAX_INT64 + (negative ? 1 : 0)) throw bad();
  }
  return negative ? -total : total;
}

/** Go's time.ParseDuration, in milliseconds (the unit of the CLI's duration flags). */
export function parseGoDuration(s: string): number {
  return parseGoDurationNs(s) / 1e6;
}

/** A point in time as Docker passes it: whole Unix seconds and the nanoseconds past them. */
export interface UnixTime {
  seconds: number;
  nanos: number;
}

export const unixTimeMs = (t: UnixTime) => t.seconds * 1000 + t.nanos / 1e6;
export const unixTimeNs = (t: UnixTime) => t.seconds * 1e9 + t.nanos;

/**
 * Docker's GetTimestamp: `value` as the Unix timestamp text the Engine API takes
 * ("1700000000" or "1700000000.123000000"). `nowMs` is the reference time.
 */
export function getTimestamp(value: string, nowMs = Date.now()): string {
  if (value !== '0') {
    let ns: number | undefined;
    try {
      ns = parseGoDurationNs(value);
    } catch {
      // not a duration
    }
    if (ns !== undefined) return String(Math.floor((nowMs - ns / 1e6) / 1000));
  }
  const inLocalZone = !/[zZ+]/.test(value) && value.split('-').length - 1 !== 3;
  const layout = timeLayoutFor(value, inLocalZone);
  const localOffsetSeconds = -new Date(nowMs).getTimezoneOffset() * 60;
  const parsed = parseGoTime(layout, value, inLocalZone ? localOffsetSeconds : undefined);
  if (typeof parsed === 'string') {
    if (value.includes('-')) throw invalid(parsed);
    try {
      parseUnixText(value);
    } catch {
      throw invalid(`failed to parse value as time or duration: ${goQuote(value)}`);
    }
    return value;
  }
  return `${parsed.seconds}.${String(parsed.nanos).padStart(9, '0')}`;
}

/** Docker's ParseTimestamps: "SECONDS[.FRACTION]" as sent over the API; "" is `defaultSeconds`. */
export function parseTimestamps(value: string, defaultSeconds = 0): UnixTime {
  if (value === '') return { seconds: defaultSeconds, nanos: 0 };
  return parseUnixText(value);
}

/** A time argument as the daemon takes it (GetTimestamp, then ParseTimestamps), in milliseconds. */
export function parseTimeArg(value: string, nowMs = Date.now()): number {
  return unixTimeMs(parseTimestamps(getTimestamp(value, nowMs)));
}

function parseUnixText(value: string): UnixTime {
  const dot = value.indexOf('.');
  const secText = dot < 0 ? value : value.slice(0, dot);
  const seconds = parseGoInt64(secText);
  if (dot < 0) return { seconds, nanos: 0 };
  const fracText = value.slice(dot + 1);
  const frac = parseGoInt64(fracText);
  return { seconds, nanos: Math.trunc(frac * 10 ** (9 - fracText.length)) };
}

/** strconv.ParseInt(s, 10, 64) */
function parseGoInt64(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw invalid(`strconv.ParseInt: parsing ${goQuote(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n >= 2n ** 63n || n < -(2n ** 63n)) throw invalid(`strconv.ParseInt: parsing ${goQuote(s)}: value out of range`);
  return Number(n);
}

/** Which Go layout GetTimestamp reads `value` with: by its dots, its T and its colons. */
function timeLayoutFor(value: string, inLocalZone: boolean): string {
  if (value.includes('.')) return inLocalZone ? '2006-01-02T15:04:05.999999999' : '2006-01-02T15:04:05.999999999Z07:00';
  if (value.includes('T')) {
    let colons = value.split(':').length - 1;
    // a +hh:mm offset brings a colon of its own
    if (!inLocalZone && !/[zZ]/.test(value) && colons > 0) colons--;
    const clock = colons === 0 ? '15' : colons === 1 ? '15:04' : '15:04:05';
    return `2006-01-02T${clock}${inLocalZone ? '' : 'Z07:00'}`;
  }
  return inLocalZone ? '2006-01-02' : '2006-01-02Z07:00';
}

const LAYOUT_ELEMENTS = ['2006', '01', '02', '15', '04', '05', '.999999999', 'Z07:00'];

function layoutTokens(layout: string): { elem: string; literal: boolean }[] {
  const out: { elem: string; literal: boolean }[] = [];
  let i = 0;
  while (i < layout.length) {
    const elem = LAYOUT_ELEMENTS.find((e) => layout.startsWith(e, i));
    if (elem) {
      out.push({ elem, literal: false });
      i += elem.length;
    } else {
      const last = out[out.length - 1];
      if (last?.literal) last.elem += layout[i];
      else out.push({ elem: layout[i], literal: true });
      i++;
    }
  }
  return out;
}

const isDigit = (s: string, i: number) => i < s.length && s[i] >= '0' && s[i] <= '9';

/** Go's getnum: one or two digits; `fixed` wants two. */
function getnum(s: string, fixed: boolean): [number, string] | undefined {
  if (!isDigit(s, 0)) return undefined;
  if (!isDigit(s, 1)) return fixed ? undefined : [Number(s[0]), s.slice(1)];
  return [Number(s.slice(0, 2)), s.slice(2)];
}

function daysIn(month: number, year: number): number {
  const lastDay = new Date(0);
  lastDay.setUTCFullYear(year, month, 0);
  return lastDay.getUTCDate();
}

/**
 * Go's time.Parse for the few layouts GetTimestamp uses. `zoneOffsetSeconds` is the zone
 * of a layout without one (ParseInLocation). Returns Go's error text when the value does
 * not fit the layout.
 */
function parseGoTime(layout: string, value: string, zoneOffsetSeconds?: number): UnixTime | string {
  const cannot = (rest: string, elem: string) => `parsing time ${goQuote(value)} as ${goQuote(layout)}: cannot parse ${goQuote(rest)} as ${goQuote(elem)}`;
  const outOfRange = (what: string) => `parsing time ${goQuote(value)}: ${what} out of range`;
  let rest = value;
  let year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, nanos = 0;
  let offset = zoneOffsetSeconds ?? 0;
  const fraction = (s: string, n: number): number => Number(s.slice(1, Math.min(n, 10)).padEnd(9, '0'));
  const tokens = layoutTokens(layout);
  for (let t = 0; t < tokens.length; t++) {
    const { elem, literal } = tokens[t];
    const hold = rest;
    if (literal) {
      if (!rest.startsWith(elem)) return cannot(rest, elem);
      rest = rest.slice(elem.length);
      continue;
    }
    let range = '';
    switch (elem) {
      case '2006': {
        if (!/^\d{4}/.test(rest)) return cannot(hold, elem);
        year = Number(rest.slice(0, 4));
        rest = rest.slice(4);
        break;
      }
      case '01':
      case '02':
      case '15':
      case '04':
      case '05': {
        const got = getnum(rest, elem !== '15');
        if (!got) return cannot(hold, elem);
        rest = got[1];
        const n = got[0];
        if (elem === '01') {
          month = n;
          if (n <= 0 || n > 12) range = 'month';
        } else if (elem === '02') day = n;
        else if (elem === '15') {
          hour = n;
          if (n >= 24) range = 'hour';
        } else if (elem === '04') {
          minute = n;
          if (n >= 60) range = 'minute';
        } else {
          second = n;
          if (n >= 60) range = 'second';
          // Go takes a fraction after the seconds even where the layout has none.
          if (rest.length >= 2 && (rest[0] === '.' || rest[0] === ',') && isDigit(rest, 1) && tokens[t + 1]?.elem !== '.999999999') {
            let n2 = 2;
            while (isDigit(rest, n2)) n2++;
            nanos = fraction(rest, n2);
            rest = rest.slice(n2);
          }
        }
        break;
      }
      case '.999999999': {
        if (rest.length < 2 || !(rest[0] === '.' || rest[0] === ',') || !isDigit(rest, 1)) break;
        let n2 = 1;
        while (isDigit(rest, n2)) n2++;
        nanos = fraction(rest, n2);
        rest = rest.slice(n2);
        break;
      }
      case 'Z07:00': {
        if (rest.startsWith('Z')) {
          offset = 0;
          rest = rest.slice(1);
          break;
        }
        if (rest.length < 6 || rest[3] !== ':' || !(rest[0] === '+' || rest[0] === '-')) return cannot(hold, elem);
        const hh = getnum(rest.slice(1, 3), true);
        const mm = getnum(rest.slice(4, 6), true);
        if (!hh || !mm) return cannot(hold, elem);
        if (hh[0] > 24) range = 'time zone offset hour';
        if (mm[0] > 60) range = 'time zone offset minute';
        offset = (hh[0] * 60 + mm[0]) * 60 * (rest[0] === '-' ? -1 : 1);
        rest = rest.slice(6);
        break;
      }
    }
    if (range) return outOfRange(range);
  }
  if (rest !== '') return `parsing time ${goQuote(value)}: extra text: ${goQuote(rest)}`;
  if (day < 1 || day > daysIn(month, year)) return outOfRange('day');
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, 0);
  return { seconds: at.getTime() / 1000 - offset, nanos };
}
