/**
 * Sizes, durations and CPU counts written and read the way docker's CLI does
 * (its go-units and opts packages), so berth's output and accepted input match.
 */

/** Go's units.HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks" ... */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  // Go rounds half away from zero here (Duration.Round), not truncates.
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

const decimalUnits = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const binaryUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's units.HumanSizeWithPrecision: decimal units, `%.{precision}g` ("4.26MB", "100kB", "0B"). */
export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < decimalUnits.length - 1) {
    size /= 1000;
    i++;
  }
  return formatG(size, precision) + decimalUnits[i];
}

/** Go's units.BytesSize: binary units with two decimals ("1.5GiB"). */
export function bytesSize(bytes: number): string {
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < binaryUnits.length - 1) {
    size /= 1024;
    i++;
  }
  return formatG(size, 4) + binaryUnits[i];
}

/** Go's fmt `%.{p}g`: p significant digits, trailing zeros dropped, exponent form outside [1e-4, 10^p). */
export function formatG(x: number, precision: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : x < 0 ? '-Inf' : 'NaN';
  const [mant, expStr] = x.toExponential(precision - 1).split('e');
  const exp = Number(expStr);
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < -4 || exp >= precision) {
    const sign = exp < 0 ? '-' : '+';
    return `${trim(mant)}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return trim(x.toFixed(Math.max(0, precision - 1 - exp)));
}

/**
 * go-units' size parsing: a number, an optional space, an optional unit
 * (k, m, g, t, p with optional "b"/"ib"; "b" alone means bytes). `binary` selects
 * 1024-based multipliers (RAMInBytes, used by -m/--memory) or 1000-based (FromHumanSize).
 */
export function parseSize(sizeStr: string, binary = true): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(sizeStr[i])) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${sizeStr}'`);
  const num = sizeStr[sep] === ' ' ? sizeStr.slice(0, sep) : sizeStr.slice(0, sep + 1);
  let sfx = sizeStr.slice(sep + 1);
  const size0 = parseGoFloat(num);
  if (size0 < 0) throw new Error(`invalid size: '${sizeStr}'`);
  let size = size0;
  if (sfx.length === 0) return Math.trunc(size);
  const bad = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === 'b') {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const power = 'kmgtp'.indexOf(sfx[0]);
  if (power < 0) throw bad();
  size *= (binary ? 1024 : 1000) ** (power + 1);
  if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) throw bad();
  return Math.trunc(size);
}

/** strconv.ParseFloat's accepted syntax (decimal, exponent, inf/nan), with its error text. */
export function parseGoFloat(s: string): number {
  if (/^[+-]?((\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?|\d+\.|[iI]nf(inity)?|[nN]a[nN])$/.test(s)) {
    const v = Number(s.replace(/_/g, '').replace(/^([+-]?)[iI]nf(inity)?$/, '$1Infinity'));
    if (!Number.isNaN(v) || /nan/i.test(s)) return v;
  }
  throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/** `--cpus`: a rational number of CPUs, converted to NanoCpus (docker's opts.NanoCPUs). */
export function parseNanoCpus(value: string): number {
  const rat = parseRational(value);
  if (!rat) throw new Error(`failed to parse ${value} as a rational number`);
  const num = rat.num * 1_000_000_000n;
  if (num % rat.den !== 0n) throw new Error('value is too precise');
  return Number(num / rat.den);
}

/** big.Rat.SetString's forms: "a/b", decimals with an optional exponent. */
function parseRational(s: string): { num: bigint; den: bigint } | undefined {
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(s);
  if (frac) {
    const den = BigInt(frac[2]);
    return den === 0n ? undefined : { num: BigInt(frac[1]), den };
  }
  const dec = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!dec || (dec[2] === '' && (dec[3] ?? '') === '')) return undefined;
  const digits = (dec[2] || '0') + (dec[3] ?? '');
  let num = BigInt(digits) * (dec[1] === '-' ? -1n : 1n);
  let den = 10n ** BigInt((dec[3] ?? '').length);
  const exp = Number(dec[4] ?? 0);
  if (exp > 0) num *= 10n ** BigInt(exp);
  else if (exp < 0) den *= 10n ** BigInt(-exp);
  return { num, den };
}

/** Formats milliseconds like Go's Duration.String ("1m30s", "500ms", "0s"). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const neg = ms < 0;
  ms = Math.abs(ms);
  let out: string;
  if (ms < 1000) out = `${formatG(ms, 10)}ms`;
  else {
    const h = Math.floor(ms / 3_600_000);
    const m = Math.floor((ms % 3_600_000) / 60_000);
    const sec = (ms % 60_000) / 1000;
    out = (h ? `${h}h` : '') + (h || m ? `${m}m` : '') + `${formatG(sec, 12)}s`;
  }
  return neg ? `-${out}` : out;
}
