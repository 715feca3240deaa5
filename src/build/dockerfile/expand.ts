import { invalid } from '../../common/errors';
import { parseMount } from './mounts';
import type { Heredoc, Instruction, KeyValue } from './types';

/**
 * The builder's own variable substitution, the subset of the shell the reference
 * describes: `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`,
 * `${VAR:?msg}`, the pattern forms `#`, `##`, `%`, `%%`, `/`, `//`, quotes (single quotes
 * stop expansion and are removed, double quotes are removed) and the escape character.
 * It runs on the instructions the reference lists (ADD COPY ENV EXPOSE FROM LABEL
 * STOPSIGNAL USER VOLUME WORKDIR); RUN, CMD and ENTRYPOINT are left to the shell.
 */

/** Where names are looked up: a map or a function; undefined means unset. */
export type Vars = ReadonlyMap<string, string> | ((name: string) => string | undefined);

export const EXPANDING_KINDS: ReadonlySet<string> = new Set([
  'ADD', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR', 'ARG',
]);

const SPECIAL = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const badSubst = () => invalid('syntax error: bad substitution');
const missingBrace = () => invalid("syntax error: missing '}'");

/**
 * One pass over a word. `heredoc` mode treats quotes as text and lets the escape
 * character escape only `$` and itself, as in a here-document body.
 */
class Lexer {
  pos = 0;
  constructor(
    private readonly s: string,
    private readonly get: (name: string) => string | undefined,
    private readonly esc: string,
    private readonly heredoc: boolean,
  ) {}

  /** Processes up to `stop` (consumed) or the end; `found` tells whether `stop` was seen. */
  run(stop?: string): { text: string; found: boolean } {
    let out = '';
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (stop !== undefined && c === stop) {
        this.pos++;
        return { text: out, found: true };
      }
      if (c === '$') out += this.dollar();
      else if (!this.heredoc && c === "'") out += this.single();
      else if (!this.heredoc && c === '"') out += this.double();
      else if (c === this.esc) {
        this.pos++;
        if (this.pos >= s.length) break; // a lone escape at the end is dropped
        const n = s[this.pos];
        if (this.heredoc && n !== '$' && n !== this.esc) out += c;
        out += n;
        this.pos++;
      } else {
        out += c;
        this.pos++;
      }
    }
    return { text: out, found: false };
  }

  private single(): string {
    const end = this.s.indexOf("'", this.pos + 1);
    if (end < 0) throw invalid('unexpected end of statement while looking for matching single-quote');
    const text = this.s.slice(this.pos + 1, end);
    this.pos = end + 1;
    return text;
  }

  private double(): string {
    let out = '';
    this.pos++;
    for (;;) {
      if (this.pos >= this.s.length) throw invalid('unexpected end of statement while looking for matching double-quote');
      const c = this.s[this.pos];
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '$') {
        out += this.dollar();
        continue;
      }
      this.pos++;
      if (c === this.esc) {
        const n = this.s[this.pos];
        if (n === undefined) continue;
        // Inside double quotes only `"`, `$` and the escape itself are escaped.
        if (n === '"' || n === '$' || n === this.esc) {
          out += n;
          this.pos++;
          continue;
        }
      }
      out += c;
    }
  }

  private name(): string {
    const s = this.s;
    const start = this.pos;
    if (/\d/.test(s[start] ?? '')) {
      while (/\d/.test(s[this.pos] ?? '')) this.pos++;
    } else if (SPECIAL.has(s[start] ?? '')) {
      this.pos++;
    } else {
      while (/[\p{L}\p{Nd}_]/u.test(s[this.pos] ?? '')) this.pos++;
    }
    return s.slice(start, this.pos);
  }

  private dollar(): string {
    this.pos++; // the $
    if (this.s[this.pos] !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.get(name) ?? '');
    }
    this.pos++; // the {
    const first = this.s[this.pos];
    if (first === undefined) throw missingBrace();
    if (first === '{' || first === '}' || first === ':') throw badSubst();
    const name = this.name();
    const op = this.s[this.pos++];
    if (op === undefined) throw missingBrace();
    if (op === '}') return this.get(name) ?? '';
    const value = this.get(name);
    if (op === ':' || op === '-' || op === '+' || op === '?') {
      const nullIsUnset = op === ':';
      const mod = nullIsUnset ? this.s[this.pos++] : op;
      if (mod !== '-' && mod !== '+' && mod !== '?') throw invalid(`unsupported modifier (${op}${mod ?? ''}) in substitution`);
      const word = this.word();
      const unset = value === undefined || (nullIsUnset && value === '');
      if (mod === '-') return unset ? word : value!;
      if (mod === '+') return unset ? '' : word;
      if (value === undefined) throw invalid(`${name}: ${word || 'is not allowed to be unset'}`);
      if (unset) throw invalid(`${name}: ${word || 'is not allowed to be empty'}`);
      return value;
    }
    if (op === '#' || op === '%') {
      const longest = this.s[this.pos] === op;
      if (longest) this.pos++;
      const pattern = this.word(true);
      return trimPattern(value ?? '', pattern, op === '#', longest);
    }
    if (op === '/') {
      const all = this.s[this.pos] === '/';
      if (all) this.pos++;
      const sub = new Lexer(this.s, this.get, this.esc, false);
      sub.pos = this.pos;
      const pat = sub.runRaw(['/', '}']);
      this.pos = sub.pos;
      const replacement = pat.stoppedAt === '/' ? this.word() : '';
      if (pat.stoppedAt === undefined) throw missingBrace();
      return replacePattern(value ?? '', pat.text, replacement, all);
    }
    throw invalid(`unsupported modifier (${op}) in substitution`);
  }

  /** The word of a `${name<op>word}` up to its closing brace. */
  private word(raw = false): string {
    if (raw) {
      const r = this.runRaw(['}']);
      if (r.stoppedAt === undefined) throw missingBrace();
      return r.text;
    }
    const r = this.run('}');
    if (!r.found) throw missingBrace();
    return r.text;
  }

  /** A pattern: variables expanded, escapes kept (they quote glob characters). */
  runRaw(stops: string[]): { text: string; stoppedAt?: string } {
    let out = '';
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (stops.includes(c)) {
        this.pos++;
        return { text: out, stoppedAt: c };
      }
      if (c === '$') out += this.dollar();
      else if (c === this.esc && this.pos + 1 < this.s.length) {
        out += `\\${this.s[this.pos + 1]}`;
        this.pos += 2;
      } else {
        out += c;
        this.pos++;
      }
    }
    return { text: out };
  }
}

/** A shell glob (`*`, `?`, `\x`) as an anchored-by-caller regular expression body. */
function globRegex(pattern: string): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]);
    else re += escapeRe(c);
  }
  return re;
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function trimPattern(value: string, pattern: string, prefix: boolean, longest: boolean): string {
  const re = new RegExp(`^(?:${globRegex(pattern)})$`);
  const n = value.length;
  for (let k = 0; k <= n; k++) {
    const len = longest ? n - k : k;
    const part = prefix ? value.slice(0, len) : value.slice(n - len);
    if (re.test(part)) return prefix ? value.slice(len) : value.slice(0, n - len);
  }
  return value;
}

function replacePattern(value: string, pattern: string, replacement: string, all: boolean): string {
  if (pattern === '') return value;
  const re = new RegExp(globRegex(pattern), all ? 'g' : '');
  return value.replace(re, () => replacement);
}

function getter(vars: Vars): (name: string) => string | undefined {
  return typeof vars === 'function' ? vars : (name) => vars.get(name);
}

/** Expands one word: quotes removed, variables replaced, no splitting. */
export function expandWord(word: string, vars: Vars, escape = '\\'): string {
  return new Lexer(word, getter(vars), escape, false).run().text;
}

/** Expands a here-document body: quotes are text, `$` and the escape char can be escaped. */
export function expandHeredoc(content: string, vars: Vars, escape = '\\'): string {
  return new Lexer(content, getter(vars), escape, true).run().text;
}

/** The body of a heredoc as the builder writes it: expanded unless its delimiter was quoted. */
export function heredocContent(h: Heredoc, vars: Vars, escape = '\\'): string {
  return h.expand ? expandHeredoc(h.content, vars, escape) : h.content;
}

/**
 * A copy of the instruction with its variables expanded, for the kinds the reference
 * lists; other kinds come back unchanged. All words see the same variables, so in
 * `ENV a=1 b=$a` the `$a` is the value from before the instruction.
 */
export function expandInstruction<T extends Instruction>(instr: T, vars: Vars, escape = '\\'): T {
  const w = (s: string) => expandWord(s, vars, escape);
  const opt = (s: string | undefined) => (s === undefined ? undefined : w(s));
  const kv = (p: KeyValue) => ({ key: w(p.key), value: w(p.value) });
  const i = instr as Instruction;
  let out: Instruction;
  switch (i.kind) {
    case 'ENV':
    case 'LABEL':
      out = { ...i, pairs: i.pairs.map(kv) };
      break;
    case 'ARG':
      out = { ...i, args: i.args.map((a) => (a.default === undefined ? a : { ...a, default: w(a.default) })) };
      break;
    case 'EXPOSE':
      out = { ...i, ports: i.ports.flatMap((p) => w(p).split(/\s+/).filter(Boolean)) };
      break;
    case 'VOLUME': {
      const paths = i.paths.map(w);
      if (paths.some((p) => p.trim() === '')) throw invalid('VOLUME specified can not be an empty string');
      out = { ...i, paths };
      break;
    }
    case 'USER':
      out = { ...i, user: w(i.user) };
      break;
    case 'WORKDIR':
      out = { ...i, path: w(i.path) };
      break;
    case 'STOPSIGNAL':
      out = { ...i, signal: w(i.signal) };
      break;
    case 'RUN':
      out = { ...i, mounts: i.mounts.map((m) => parseMount(w(m.raw))) };
      break;
    case 'COPY':
    case 'ADD': {
      const common = {
        sources: i.sources.map(w),
        dest: w(i.dest),
        exclude: i.exclude.map(w),
        heredocs: i.heredocs.map((h) => ({ ...h, content: heredocContent(h, vars, escape), expand: false })),
        chown: opt(i.chown),
        chmod: opt(i.chmod),
      };
      out = i.kind === 'COPY' ? { ...i, ...common, from: opt(i.from) } : { ...i, ...common, checksum: opt(i.checksum) };
      for (const k of ['chown', 'chmod', 'from', 'checksum'] as const) {
        if ((out as unknown as Record<string, unknown>)[k] === undefined) delete (out as unknown as Record<string, unknown>)[k];
      }
      break;
    }
    default:
      out = i;
  }
  return out as T;
}
