/**
 * A command-line flag parser with the rules of spf13/pflag, which the docker CLI
 * uses, so that berth accepts and rejects exactly what docker does:
 * `--name value`, `--name=value`, `-n value`, `-nvalue`, `-n=value`, clustered
 * boolean shorthands (`-it`), `--flag=false` for booleans, `--` to end flags, and
 * (for commands that take a command line, like `run`) parsing that stops at the
 * first positional argument. Error texts are pflag's.
 */
import { UsageError } from './errors';

export interface FlagDef {
  /** Long name, without the dashes. */
  name: string;
  /** One-letter shorthand, without the dash. */
  short?: string;
  /**
   * The value type as docker's help shows it ('string', 'int', 'list', 'bytes' ...).
   * 'bool' takes no value. Types listed in `repeatableTypes`, or `repeat: true`,
   * collect every occurrence into an array.
   */
  type: string;
  help: string;
  /** Converts and validates one raw value; throw an Error with docker's wording to reject it. */
  parse?: (raw: string) => unknown;
  /** The value when the flag is absent. */
  default?: unknown;
  /** Shown as "(default X)" in help. */
  defaultText?: string;
  repeat?: boolean;
  hidden?: boolean;
}

const repeatableTypes = new Set(['list', 'filter', 'map', 'mount', 'ulimit', 'network', 'strings', 'stringArray']);

export interface ParsedFlags {
  /** Values by long name: the default when absent, an array for repeatable flags. */
  values: Record<string, unknown>;
  /** Long names of the flags given on the command line. */
  changed: Set<string>;
  args: string[];
  help: boolean;
}

export interface ParseOptions {
  /** false: the first positional argument ends flag parsing (docker run IMAGE CMD -x). */
  interspersed?: boolean;
}

export function isRepeatable(def: FlagDef): boolean {
  return def.repeat === true || repeatableTypes.has(def.type);
}

/** The "-m, --memory" spelling pflag uses in its messages. */
export function flagDisplayName(def: FlagDef): string {
  return def.short ? `-${def.short}, --${def.name}` : `--${def.name}`;
}

export function parseFlags(argv: readonly string[], defs: readonly FlagDef[], opts: ParseOptions = {}): ParsedFlags {
  const interspersed = opts.interspersed ?? true;
  const byName = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const d of defs) {
    byName.set(d.name, d);
    if (d.short) byShort.set(d.short, d);
  }
  const values: Record<string, unknown> = {};
  for (const d of defs) values[d.name] = isRepeatable(d) ? [] : d.default;
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;

  const set = (def: FlagDef, raw: string) => {
    let v: unknown = raw;
    try {
      if (def.type === 'bool') v = parseBool(raw);
      else if (def.parse) v = def.parse(raw);
    } catch (e) {
      throw new UsageError(`invalid argument "${raw}" for "${flagDisplayName(def)}" flag: ${(e as Error).message}`);
    }
    if (isRepeatable(def)) {
      const list = changed.has(def.name) ? (values[def.name] as unknown[]) : [];
      if (Array.isArray(v) && def.type === 'strings') list.push(...v);
      else list.push(v);
      values[def.name] = list;
    } else values[def.name] = v;
    changed.add(def.name);
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const def = byName.get(name);
      if (!def) {
        if (name === 'help') {
          help = true;
          continue;
        }
        throw new UsageError(`unknown flag: --${name}`);
      }
      if (eq >= 0) set(def, a.slice(eq + 1));
      else if (def.type === 'bool') set(def, 'true');
      else if (i + 1 < argv.length) set(def, argv[++i]);
      else throw new UsageError(`flag needs an argument: --${name}`);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        const def = byShort.get(c);
        if (!def) {
          // pflag keeps -h as a deprecated spelling of --help where a command has no -h of its own.
          if (c === 'h') {
            help = true;
            continue;
          }
          throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        const rest = a.slice(j + 1);
        if (def.type === 'bool') {
          if (rest.startsWith('=')) {
            set(def, rest.slice(1));
            break;
          }
          set(def, 'true');
          continue;
        }
        if (rest.length > 0) set(def, rest.startsWith('=') ? rest.slice(1) : rest);
        else if (i + 1 < argv.length) set(def, argv[++i]);
        else throw new UsageError(`flag needs an argument: '${c}' in ${a}`);
        break;
      }
      continue;
    }
    if (!interspersed) break;
    args.push(a);
  }
  for (; i < argv.length; i++) args.push(argv[i]);
  return { values, changed, args, help };
}

// ---- value parsers, with Go's error texts (docker shows them verbatim) ----

export function parseBool(raw: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  throw new Error(`strconv.ParseBool: parsing ${goQuoteSimple(raw)}: invalid syntax`);
}

/** strconv.ParseInt(raw, 0, bits): accepts 0x/0o/0b prefixes and underscores as Go does. */
export function parseInt64(raw: string, bits = 64): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$/.exec(raw);
  if (!m || /__|_$/.test(m[2])) throw new Error(`strconv.ParseInt: parsing ${goQuoteSimple(raw)}: invalid syntax`);
  const body = m[2].replace(/_/g, '');
  let n: bigint;
  if (/^0[xXoObB]/.test(body)) n = BigInt(body.toLowerCase());
  else if (body.length > 1 && body.startsWith('0')) n = BigInt('0o' + body.slice(1));
  else n = BigInt(body);
  if (m[1] === '-') n = -n;
  const max = (1n << BigInt(bits - 1)) - 1n;
  if (n > max || n < -max - 1n) throw new Error(`strconv.ParseInt: parsing ${goQuoteSimple(raw)}: value out of range`);
  return Number(n);
}

export function parseUint(raw: string, bits = 64): number {
  if (!/^[0-9]+$/.test(raw)) throw new Error(`strconv.ParseUint: parsing ${goQuoteSimple(raw)}: invalid syntax`);
  const n = BigInt(raw);
  if (n >= 1n << BigInt(bits)) throw new Error(`strconv.ParseUint: parsing ${goQuoteSimple(raw)}: value out of range`);
  return Number(n);
}

/** Go's %q for plain ASCII text, enough for echoing a bad value back. */
function goQuoteSimple(s: string): string {
  return JSON.stringify(s);
}
