/**
 * A subset of Go's text/template, enough for docker's `--format` strings:
 * fields and chains (`.State.Status`, `$v.Name`, `(index .X 0).Y`), methods with
 * arguments (`.Label "k"`), pipelines (`.X | json`), variables (`$x := ...`),
 * `if`/`else if`/`else`, `range` (with `$i, $v :=`), `with`, comments, the
 * `{{-`/`-}}` trim markers, Go's built-in functions (and, or, not, len, index,
 * slice, print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery) and
 * docker's (json, join, split, title, lower, upper, pad, truncate).
 *
 * Data is JSON-like: plain objects are Go maps (missing keys print "<no value>",
 * or fail with `missingKey: 'error'`); class instances are Go structs, whose
 * methods are callable fields and whose missing fields are errors.
 */
import { goQuote } from './format/strings';

export type TemplateFunc = (...args: unknown[]) => unknown;

export interface ExecuteOptions {
  /** 'error': a missing map key fails, as `missingkey=error` (docker inspect). */
  missingKey?: 'default' | 'error';
  /** Replaces functions by name (docker's header rendering makes the formatting functions pass-throughs). */
  funcs?: Record<string, TemplateFunc>;
}

export class TemplateError extends Error {
  /** 'parse' for syntax errors, 'exec' for errors while executing. */
  readonly phase: 'parse' | 'exec';
  constructor(phase: 'parse' | 'exec', message: string) {
    super(message);
    this.phase = phase;
    this.name = 'TemplateError';
  }
}

// ---------------------------------------------------------------- lexing

type Tok =
  | { k: 'field'; name: string; adj: boolean }
  | { k: 'dot'; adj: boolean }
  | { k: 'var'; name: string; adj: boolean }
  | { k: 'ident'; name: string; adj: boolean }
  | { k: 'lit'; value: unknown; adj: boolean }
  | { k: 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma'; adj: boolean };

interface Pos {
  line: number;
  col: number;
}

type Piece = { kind: 'text'; text: string } | { kind: 'action'; toks: Tok[]; src: string; pos: Pos };

function parseError(line: number, msg: string): TemplateError {
  return new TemplateError('parse', `template: :${line}: ${msg}`);
}

function lineOf(src: string, offset: number): Pos {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < offset; i++) {
    if (src.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { line, col: offset - lastNl - 1 };
}

function split(src: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) pieces.push({ kind: 'text', text });
      break;
    }
    let start = open + 2;
    if (src.startsWith('- ', start) || src.startsWith('-\t', start) || src.startsWith('-\n', start) || src.startsWith('-\r', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    if (text) pieces.push({ kind: 'text', text });
    const pos = lineOf(src, start);
    // Comments: {{/* ... */}}
    const afterWs = src.slice(start).match(/^\s*/)![0].length + start;
    if (src.startsWith('/*', afterWs)) {
      const endC = src.indexOf('*/', afterWs + 2);
      if (endC < 0) throw parseError(pos.line, 'unclosed comment');
      let j = endC + 2;
      const m = /^\s*(-?)\}\}/.exec(src.slice(j));
      if (!m) throw parseError(pos.line, 'comment ends before closing delimiter');
      if (m[1] === '-') trimNext = true;
      i = j + m[0].length;
      continue;
    }
    const { toks, end, next, trim } = lexAction(src, start, pos.line);
    pieces.push({ kind: 'action', toks, src: src.slice(start, end).trim(), pos });
    trimNext = trim;
    i = next;
  }
  return pieces;
}

const identStart = /[A-Za-z_]/;
const identChar = /[A-Za-z0-9_]/;

function lexAction(src: string, i: number, line: number): { toks: Tok[]; end: number; next: number; trim: boolean } {
  const toks: Tok[] = [];
  let adj = false;
  let parens = 0;
  for (;;) {
    if (i >= src.length) throw parseError(line, 'unclosed action');
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      // " -}}" trims the text that follows.
      if (src.startsWith('-}}', i + 1) && parens === 0) return { toks, end: i, next: i + 4, trim: true };
      i++;
      adj = false;
      continue;
    }
    if (src.startsWith('}}', i)) {
      if (parens > 0) throw parseError(line, 'unclosed left paren');
      return { toks, end: i, next: i + 2, trim: false };
    }
    const push = (t: Tok) => {
      toks.push(t);
      adj = true;
    };
    if (c === '.') {
      let j = i + 1;
      if (j < src.length && identStart.test(src[j])) {
        while (j < src.length && identChar.test(src[j])) j++;
        push({ k: 'field', name: src.slice(i + 1, j), adj });
        i = j;
        continue;
      }
      if (/[0-9]/.test(src[j] ?? '')) {
        const m = /^\.[0-9]+([eE][+-]?[0-9]+)?/.exec(src.slice(i))!;
        push({ k: 'lit', value: Number(m[0]), adj });
        i += m[0].length;
        continue;
      }
      push({ k: 'dot', adj });
      i++;
      continue;
    }
    if (c === '$') {
      let j = i + 1;
      while (j < src.length && identChar.test(src[j])) j++;
      push({ k: 'var', name: src.slice(i, j), adj });
      i = j;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') j++;
        if (src[j] === '\n') throw parseError(line, 'unterminated quoted string');
        j++;
      }
      if (j >= src.length) throw parseError(line, 'unterminated quoted string');
      push({ k: 'lit', value: unquoteGo(src.slice(i, j + 1), line), adj });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw parseError(line, 'unterminated raw quoted string');
      push({ k: 'lit', value: src.slice(i + 1, j), adj });
      i = j + 1;
      continue;
    }
    if (c === "'") {
      const m = /^'(\\.|[^'\\])'/u.exec(src.slice(i));
      if (!m) throw parseError(line, 'unterminated character constant');
      const ch = m[1].startsWith('\\') ? (unquoteGo(`"${m[1]}"`, line) as string) : m[1];
      push({ k: 'lit', value: ch.codePointAt(0), adj });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9.]/.test(src[i + 1] ?? ''))) {
      const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?)/.exec(src.slice(i));
      if (!m) throw parseError(line, `bad number syntax: "${src.slice(i, i + 5)}"`);
      const text = m[0].replace(/_/g, '');
      const value = /^[+-]?0[xXbBoO]/.test(text) ? Number(text.replace(/^([+-]?)0[oO]/, '$10o')) : Number(text);
      push({ k: 'lit', value, adj });
      i += m[0].length;
      continue;
    }
    if (identStart.test(c)) {
      let j = i;
      while (j < src.length && identChar.test(src[j])) j++;
      const word = src.slice(i, j);
      if (word === 'true' || word === 'false') push({ k: 'lit', value: word === 'true', adj });
      else if (word === 'nil') push({ k: 'lit', value: null, adj });
      else push({ k: 'ident', name: word, adj });
      i = j;
      continue;
    }
    if (c === '|') {
      push({ k: 'pipe', adj });
      i++;
      continue;
    }
    if (c === '(') {
      parens++;
      push({ k: 'lparen', adj });
      i++;
      continue;
    }
    if (c === ')') {
      parens--;
      if (parens < 0) throw parseError(line, 'unexpected right paren');
      push({ k: 'rparen', adj });
      i++;
      continue;
    }
    if (src.startsWith(':=', i)) {
      push({ k: 'declare', adj });
      i += 2;
      continue;
    }
    if (c === '=') {
      push({ k: 'assign', adj });
      i++;
      continue;
    }
    if (c === ',') {
      push({ k: 'comma', adj });
      i++;
      continue;
    }
    throw parseError(line, `unexpected ${JSON.stringify(c)} in command`);
  }
}

function unquoteGo(q: string, line: number): string {
  let out = '';
  for (let i = 1; i < q.length - 1; i++) {
    const c = q[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = q[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (n in simple) out += simple[n];
    else if (n === 'x' || n === 'u' || n === 'U') {
      const len = n === 'x' ? 2 : n === 'u' ? 4 : 8;
      out += String.fromCodePoint(parseInt(q.slice(i + 1, i + 1 + len), 16));
      i += len;
    } else if (/[0-7]/.test(n)) {
      out += String.fromCharCode(parseInt(q.slice(i, i + 3), 8));
      i += 2;
    } else throw parseError(line, `invalid syntax`);
  }
  return out;
}

// ---------------------------------------------------------------- parsing

type Arg =
  | { t: 'field'; chain: string[] }
  | { t: 'dot' }
  | { t: 'var'; name: string; chain: string[] }
  | { t: 'ident'; name: string }
  | { t: 'lit'; value: unknown }
  | { t: 'sub'; pipe: Pipe; chain: string[] };

interface Cmd {
  args: Arg[];
}

interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  src: string;
  pos: Pos;
}

interface ControlNode {
  t: 'if' | 'with' | 'range';
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

type Node = { t: 'text'; text: string } | { t: 'action'; pipe: Pipe } | ControlNode | { t: 'break' | 'continue' };

const builtinNames = new Set([
  'and', 'or', 'not', 'len', 'index', 'slice', 'print', 'printf', 'println', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'html', 'js', 'urlquery', 'call',
  'json', 'join', 'split', 'title', 'lower', 'upper', 'pad', 'truncate',
]);

class Parser {
  private i = 0;
  constructor(private readonly pieces: Piece[], private readonly extraFuncs: Set<string>) {}

  parseAll(): Node[] {
    const { list, stop } = this.parseList();
    if (stop) throw parseError(stop.pos.line, `unexpected {{${stop.toks[0] && stop.toks[0].k === 'ident' ? stop.toks[0].name : '?'}}}`);
    return list;
  }

  /** Parses nodes until {{end}} or {{else ...}}, which is returned (not consumed further). */
  private parseList(): { list: Node[]; stop?: Extract<Piece, { kind: 'action' }> } {
    const list: Node[] = [];
    while (this.i < this.pieces.length) {
      const p = this.pieces[this.i++];
      if (p.kind === 'text') {
        list.push({ t: 'text', text: p.text });
        continue;
      }
      const first = p.toks[0];
      if (!first) throw parseError(p.pos.line, 'missing value for command');
      if (first.k === 'ident') {
        switch (first.name) {
          case 'end':
          case 'else':
            return { list, stop: p };
          case 'if':
          case 'with':
          case 'range':
            list.push(this.parseControl(first.name, p, p.toks.slice(1)));
            continue;
          case 'break':
          case 'continue':
            list.push({ t: first.name });
            continue;
          case 'define':
          case 'template':
          case 'block':
            throw parseError(p.pos.line, `{{${first.name}}} is not supported`);
        }
      }
      list.push({ t: 'action', pipe: this.parsePipe(p.toks, p, false) });
    }
    return { list };
  }

  private parseControl(kind: 'if' | 'with' | 'range', p: Extract<Piece, { kind: 'action' }>, toks: Tok[]): Node {
    const pipe = this.parsePipe(toks, p, kind === 'range');
    const { list, stop } = this.parseList();
    if (!stop) throw parseError(p.pos.line, `unexpected EOF`);
    const word = (stop.toks[0] as { name: string }).name;
    if (word === 'end') return { t: kind, pipe, list };
    // {{else}} or {{else if ...}} / {{else with ...}}
    const rest = stop.toks.slice(1);
    if (rest.length > 0 && rest[0].k === 'ident' && (rest[0].name === 'if' || rest[0].name === 'with')) {
      // "else if" chains are a nested control whose {{end}} closes the outer one too.
      const nested = this.parseControl(rest[0].name, stop, rest.slice(1));
      return { t: kind, pipe, list, elseList: [nested] };
    }
    const { list: elseList, stop: stop2 } = this.parseList();
    if (!stop2 || (stop2.toks[0] as { name: string }).name !== 'end') throw parseError(stop.pos.line, 'expected end; found ' + (stop2 ? '{{else}}' : 'EOF'));
    return { t: kind, pipe, list, elseList };
  }

  private parsePipe(toks: Tok[], p: Extract<Piece, { kind: 'action' }>, allowTwoVars: boolean): Pipe {
    let decl: string[] = [];
    let assign = false;
    let idx = 0;
    // Variable declarations: $x := ..., $i, $v := ..., $x = ...
    const declEnd = toks.findIndex((t) => t.k === 'declare' || t.k === 'assign');
    if (declEnd > 0 && toks.slice(0, declEnd).every((t) => t.k === 'var' || t.k === 'comma')) {
      decl = toks.slice(0, declEnd).filter((t) => t.k === 'var').map((t) => (t as { name: string }).name);
      if (decl.length > (allowTwoVars ? 2 : 1)) throw parseError(p.pos.line, 'too many declarations in command');
      assign = toks[declEnd].k === 'assign';
      idx = declEnd + 1;
    }
    const { pipe, next } = this.parseCmds(toks, idx, p, false);
    if (next !== toks.length) throw parseError(p.pos.line, 'unexpected ")" in operand');
    if (pipe.length === 0) throw parseError(p.pos.line, 'missing value for command');
    return { decl, assign, cmds: pipe, src: p.src, pos: p.pos };
  }

  private parseCmds(toks: Tok[], i: number, p: Extract<Piece, { kind: 'action' }>, inParen: boolean): { pipe: Cmd[]; next: number } {
    const cmds: Cmd[] = [];
    let args: Arg[] = [];
    for (;;) {
      const t = toks[i];
      if (!t || t.k === 'rparen') {
        if (!t && inParen) throw parseError(p.pos.line, 'unclosed left paren');
        if (args.length === 0 && cmds.length > 0) throw parseError(p.pos.line, 'missing command');
        if (args.length) cmds.push({ args });
        return { pipe: cmds, next: i };
      }
      if (t.k === 'pipe') {
        if (args.length === 0) throw parseError(p.pos.line, 'missing command');
        cmds.push({ args });
        args = [];
        i++;
        continue;
      }
      // A field right after an operand (no space) extends that operand's chain.
      if (t.k === 'field' && t.adj && args.length > 0) {
        const last = args[args.length - 1];
        if (last.t === 'field' || last.t === 'var' || last.t === 'sub') {
          last.chain.push(t.name);
          i++;
          continue;
        }
      }
      switch (t.k) {
        case 'field':
          args.push({ t: 'field', chain: [t.name] });
          i++;
          break;
        case 'dot':
          args.push({ t: 'dot' });
          i++;
          break;
        case 'var':
          args.push({ t: 'var', name: t.name, chain: [] });
          i++;
          break;
        case 'ident':
          if (!builtinNames.has(t.name) && !this.extraFuncs.has(t.name)) throw parseError(p.pos.line, `function ${JSON.stringify(t.name)} not defined`);
          args.push({ t: 'ident', name: t.name });
          i++;
          break;
        case 'lit':
          args.push({ t: 'lit', value: t.value });
          i++;
          break;
        case 'lparen': {
          const sub = this.parseCmds(toks, i + 1, p, true);
          if (toks[sub.next]?.k !== 'rparen') throw parseError(p.pos.line, 'unclosed left paren');
          args.push({ t: 'sub', pipe: { decl: [], assign: false, cmds: sub.pipe, src: p.src, pos: p.pos }, chain: [] });
          i = sub.next + 1;
          break;
        }
        default:
          throw parseError(p.pos.line, `unexpected ${JSON.stringify(t.k === 'declare' ? ':=' : t.k === 'assign' ? '=' : ',')} in operand`);
      }
    }
  }
}

// ---------------------------------------------------------------- values

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

const isStruct = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v) && !isMap(v);

function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v)) return 'map[string]interface {}';
  if (typeof v === 'object') {
    const named = (v as { templateTypeName?: string }).templateTypeName;
    return named ?? `*${v.constructor.name}`;
  }
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  return typeof v;
}

/** fmt's %v for the values templates handle. */
export function formatValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return '[' + v.map((x) => (x === undefined ? '<nil>' : formatValue(x))).join(' ') + ']';
  if (isMap(v)) return 'map[' + Object.keys(v).sort().map((k) => `${k}:${v[k] === undefined ? '<nil>' : formatValue(v[k])}`).join(' ') + ']';
  const s = (v as { toString(): string }).toString();
  return s === '[object Object]' ? '{' + Object.values(v).map(formatValue).join(' ') + '}' : s;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  // Go writes exponents with at least two digits and an explicit sign.
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

// ---------------------------------------------------------------- functions

function goTitle(s: string): string {
  let prevSep = true;
  let out = '';
  for (const ch of s) {
    out += prevSep ? ch.toUpperCase() : ch;
    prevSep = !/[\p{L}\p{N}_]/u.test(ch) && (ch.charCodeAt(0) < 0x80 || /\s/u.test(ch));
  }
  return out;
}

function asString(v: unknown, fn: string): string {
  if (typeof v === 'string') return v;
  throw new Error(`error calling ${fn}: wrong type for value; expected string; got ${goTypeName(v)}`);
}

function compare(fn: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`error calling ${fn}: incompatible types for comparison`);
}

function equal(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  if ((typeof a === 'object' && a !== null) || (typeof b === 'object' && b !== null)) {
    if (a === null || b === null) return a === b;
    throw new Error('error calling eq: non-comparable types');
  }
  if (typeof a !== typeof b) throw new Error('error calling eq: incompatible types for comparison');
  return a === b;
}

function indexValue(item: unknown, keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof k !== 'number') throw new Error(`error calling index: cannot index slice/array with type ${goTypeName(k)}`);
      if (k < 0 || k >= v.length) throw new Error(`error calling index: index out of range: ${k}`);
      v = typeof v === 'string' ? v.charCodeAt(k) : v[k];
    } else if (isMap(v)) {
      // A missing key gives the element type's zero value; string maps (labels) are the common case.
      v = Object.prototype.hasOwnProperty.call(v, String(k)) ? v[String(k)] : '';
    } else if (v === null || v === undefined) {
      v = '';
    } else throw new Error(`error calling index: can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

/** fmt.Sprintf for the verbs templates use: %v %s %d %q %t %x %X %f %e %g %c %%. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (!m) {
      out += '%!(NOVERB)';
      continue;
    }
    i += m[0].length;
    const [, flags, widthStr, precStr, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const a = args[argi++];
    const prec = precStr === undefined ? undefined : Number(precStr);
    let s: string;
    switch (verb) {
      case 'v':
        s = formatValue(a);
        break;
      case 's':
        s = formatValue(a);
        if (prec !== undefined) s = [...s].slice(0, prec).join('');
        break;
      case 'q':
        s = typeof a === 'number' ? `'${String.fromCodePoint(a)}'` : goQuote(formatValue(a));
        break;
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${goTypeName(a)}=${formatValue(a)})`;
        if (flags.includes('+') && typeof a === 'number' && a >= 0) s = '+' + s;
        break;
      case 't':
        s = typeof a === 'boolean' ? String(a) : `%!t(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'x':
      case 'X': {
        s = typeof a === 'number' ? Math.trunc(a).toString(16) : Buffer.from(formatValue(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'f':
      case 'F':
        s = typeof a === 'number' ? a.toFixed(prec ?? 6) : `%!f(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'e':
        s = typeof a === 'number' ? a.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2') : `%!e(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'g':
        s = typeof a === 'number' ? formatNumber(prec === undefined ? a : Number(a.toPrecision(prec))) : `%!g(${goTypeName(a)}=${formatValue(a)})`;
        break;
      case 'c':
        s = typeof a === 'number' ? String.fromCodePoint(a) : `%!c(${goTypeName(a)}=${formatValue(a)})`;
        break;
      default:
        s = `%!${verb}(${goTypeName(a)}=${formatValue(a)})`;
    }
    const width = widthStr === undefined ? 0 : Number(widthStr);
    const len = [...s].length;
    if (len < width) {
      const pad = width - len;
      if (flags.includes('-')) s += ' '.repeat(pad);
      else if (flags.includes('0') && /[dfFeEgxX]/.test(verb)) s = s.startsWith('-') ? '-' + '0'.repeat(pad) + s.slice(1) : '0'.repeat(pad) + s;
      else s = ' '.repeat(pad) + s;
    }
    out += s;
  }
  if (argi < args.length) out += '%!(EXTRA ' + args.slice(argi).map((a) => `${goTypeName(a)}=${formatValue(a)}`).join(', ') + ')';
  return out;
}

function sprint(args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    // fmt.Sprint puts a space between operands when neither is a string.
    if (i > 0 && typeof args[i] !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(args[i]);
  }
  return out;
}

/**
 * docker's `json` function: JSON without HTML escaping, except for formatter
 * contexts (objects with toJSON), which docker marshals with Go's default
 * escaping of <, > and &.
 */
function toJson(v: unknown): string {
  if (v === undefined) return 'null';
  const s = JSON.stringify(v) ?? 'null';
  if (!isStruct(v) || typeof (v as { toJSON?: unknown }).toJSON !== 'function') return s;
  return s.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

const builtins: Record<string, TemplateFunc> = {
  json: (v) => toJson(v),
  join: (list, sep) => {
    if (!Array.isArray(list)) throw new Error(`error calling join: wrong type for value; expected []string; got ${goTypeName(list)}`);
    return list.map((x) => formatValue(x)).join(asString(sep, 'join'));
  },
  split: (s, sep) => asString(s, 'split').split(asString(sep, 'split')),
  title: (s) => goTitle(asString(s, 'title')),
  lower: (s) => asString(s, 'lower').toLowerCase(),
  upper: (s) => asString(s, 'upper').toUpperCase(),
  pad: (s, before, after) => ' '.repeat(Number(before)) + asString(s, 'pad') + ' '.repeat(Number(after)),
  truncate: (s, n) => {
    const chars = [...asString(s, 'truncate')];
    return chars.length > Number(n) ? chars.slice(0, Number(n)).join('') : chars.join('');
  },
  // and/or are evaluated lazily in ExecState.evalCmd; these serve `call`-less lookups only.
  and: (...args) => args.find((a) => !truth(a)) ?? args[args.length - 1],
  or: (...args) => args.find((a) => truth(a)) ?? args[args.length - 1],
  not: (v) => !truth(v),
  len: (v) => {
    if (typeof v === 'string') return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (isMap(v)) return Object.keys(v).length;
    if (v === null || v === undefined) return 0;
    throw new Error(`error calling len: len of type ${goTypeName(v)}`);
  },
  index: (item, ...keys) => indexValue(item, keys),
  slice: (item, ...idx) => {
    if (typeof item !== 'string' && !Array.isArray(item)) throw new Error(`error calling slice: can't slice item of type ${goTypeName(item)}`);
    const [a, b] = [Number(idx[0] ?? 0), idx[1] === undefined ? item.length : Number(idx[1])];
    if (a < 0 || b > item.length || a > b) throw new Error(`error calling slice: index out of range: ${b}`);
    return item.slice(a, b);
  },
  print: (...args) => sprint(args),
  printf: (fmt, ...args) => sprintf(asString(fmt, 'printf'), args),
  println: (...args) => args.map((a) => formatValue(a)).join(' ') + '\n',
  eq: (a, ...bs) => {
    if (bs.length === 0) throw new Error('wrong number of args for eq: want at least 1 got 0');
    return bs.some((b) => equal(a, b));
  },
  ne: (a, b) => !equal(a, b),
  lt: (a, b) => compare('lt', a, b) < 0,
  le: (a, b) => compare('le', a, b) <= 0,
  gt: (a, b) => compare('gt', a, b) > 0,
  ge: (a, b) => compare('ge', a, b) >= 0,
  html: (...args) => sprint(args).replace(/[&'<>"\0]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\0': '\uFFFD' })[c]!),
  js: (...args) => sprint(args).replace(/[\\'"<>&=\n\r\t]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')),
  urlquery: (...args) => encodeURIComponent(sprint(args)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()),
  call: (fn, ...args) => {
    if (typeof fn !== 'function') throw new Error(`error calling call: non-function of type ${goTypeName(fn)}`);
    return (fn as TemplateFunc)(...args);
  },
};

/**
 * docker renders a table's header by executing the same template on a map of
 * column titles with the formatting functions turned into pass-throughs, so
 * `{{.Names | upper}}` still gets the header "NAMES".
 */
export const headerFuncs: Record<string, TemplateFunc> = Object.fromEntries(
  ['json', 'join', 'split', 'title', 'lower', 'upper', 'pad', 'truncate'].map((n) => [n, (v: unknown) => (v === undefined ? '' : v)]),
);

// ---------------------------------------------------------------- execution

class BreakSignal {}
class ContinueSignal {}

class ExecState {
  private vars: { name: string; value: unknown }[];
  private readonly funcs: Record<string, TemplateFunc>;
  private readonly missingKey: 'default' | 'error';
  out = '';

  constructor(root: unknown, opts: ExecuteOptions) {
    this.vars = [{ name: '$', value: root }];
    this.funcs = { ...builtins, ...(opts.funcs ?? {}) };
    this.missingKey = opts.missingKey ?? 'default';
  }

  walk(dot: unknown, nodes: Node[]): void {
    for (const n of nodes) {
      switch (n.t) {
        case 'text':
          this.out += n.text;
          break;
        case 'action': {
          const v = this.evalPipe(dot, n.pipe);
          if (n.pipe.decl.length === 0) this.out += formatValue(v);
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.evalPipe(dot, n.pipe);
          if (truth(v)) this.walk(n.t === 'with' ? v : dot, n.list);
          else if (n.elseList) this.walk(dot, n.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.walkRange(dot, n);
          break;
        case 'break':
          throw new BreakSignal();
        case 'continue':
          throw new ContinueSignal();
      }
    }
  }

  private walkRange(dot: unknown, n: ControlNode): void {
    const mark = this.vars.length;
    const pipe = { ...n.pipe, decl: [] as string[] };
    const v = this.evalPipe(dot, pipe);
    let entries: [unknown, unknown][];
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (isMap(v)) entries = Object.keys(v).sort().map((k) => [k, v[k]]);
    else if (v === null || v === undefined) entries = [];
    else if (typeof v === 'number' && Number.isInteger(v)) entries = Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
    else throw this.execError(n.pipe, `range can't iterate over ${formatValue(v)}`);
    if (entries.length === 0) {
      if (n.elseList) this.walk(dot, n.elseList);
      this.vars.length = mark;
      return;
    }
    for (const [k, x] of entries) {
      const iterMark = this.vars.length;
      if (n.pipe.decl.length === 1) this.vars.push({ name: n.pipe.decl[0], value: x });
      else if (n.pipe.decl.length === 2) this.vars.push({ name: n.pipe.decl[0], value: k }, { name: n.pipe.decl[1], value: x });
      try {
        this.walk(x, n.list);
      } catch (e) {
        if (e instanceof BreakSignal) {
          this.vars.length = iterMark;
          break;
        }
        if (!(e instanceof ContinueSignal)) throw e;
      }
      this.vars.length = iterMark;
    }
    this.vars.length = mark;
  }

  private execError(pipe: Pipe, msg: string): TemplateError {
    return new TemplateError('exec', `template: :${pipe.pos.line}:${pipe.pos.col}: executing "" at <${pipe.src}>: ${msg}`);
  }

  private lookupVar(pipe: Pipe, name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    throw new TemplateError('parse', `template: :${pipe.pos.line}: undefined variable "${name}"`);
  }

  evalPipe(dot: unknown, pipe: Pipe): unknown {
    let value: unknown;
    let hasFinal = false;
    for (const cmd of pipe.cmds) {
      value = this.evalCmd(dot, pipe, cmd, hasFinal, value);
      hasFinal = true;
    }
    if (pipe.decl.length > 0) {
      const name = pipe.decl[0];
      if (pipe.assign) {
        let found = false;
        for (let i = this.vars.length - 1; i >= 0; i--) {
          if (this.vars[i].name === name) {
            this.vars[i].value = value;
            found = true;
            break;
          }
        }
        if (!found) throw new TemplateError('parse', `template: :${pipe.pos.line}: undefined variable "${name}"`);
      } else this.vars.push({ name, value });
    }
    return value;
  }

  private evalCmd(dot: unknown, pipe: Pipe, cmd: Cmd, hasFinal: boolean, final: unknown): unknown {
    const [first, ...rest] = cmd.args;
    const argValues = () => {
      const vals = rest.map((a) => this.evalArg(dot, pipe, a));
      if (hasFinal) vals.push(final);
      return vals;
    };
    try {
      switch (first.t) {
        case 'field':
          return this.evalChain(pipe, dot, first.chain, argValues());
        case 'var': {
          const base = this.lookupVar(pipe, first.name);
          if (first.chain.length === 0) {
            if (rest.length || hasFinal) throw new Error(`can't give argument to non-function ${first.name}`);
            return base;
          }
          return this.evalChain(pipe, base, first.chain, argValues());
        }
        case 'sub': {
          const base = this.evalPipe(dot, first.pipe);
          if (first.chain.length === 0) {
            if (rest.length || hasFinal) throw new Error(`can't give argument to non-function ${formatValue(base)}`);
            return base;
          }
          return this.evalChain(pipe, base, first.chain, argValues());
        }
        case 'ident': {
          const fn = this.funcs[first.name];
          if (!fn) throw new Error(`function "${first.name}" not defined`);
          // and/or stop at the first operand that decides the result, as Go 1.18+ does.
          if (first.name === 'and' || first.name === 'or') {
            let v: unknown;
            const vals = rest.map((a) => () => this.evalArg(dot, pipe, a));
            if (hasFinal) vals.push(() => final);
            if (vals.length === 0) throw new Error(`wrong number of args for ${first.name}: want at least 1 got 0`);
            for (const get of vals) {
              v = get();
              if (truth(v) === (first.name === 'or')) return v;
            }
            return v;
          }
          return fn(...argValues());
        }
        case 'dot':
        case 'lit': {
          if (rest.length || hasFinal) throw new Error(`can't give argument to non-function ${first.t === 'dot' ? '.' : formatValue(first.value)}`);
          return first.t === 'dot' ? dot : first.value;
        }
      }
    } catch (e) {
      if (e instanceof TemplateError || e instanceof BreakSignal || e instanceof ContinueSignal) throw e;
      throw this.execError(pipe, (e as Error).message);
    }
  }

  private evalArg(dot: unknown, pipe: Pipe, a: Arg): unknown {
    switch (a.t) {
      case 'field':
        return this.evalChain(pipe, dot, a.chain, []);
      case 'dot':
        return dot;
      case 'lit':
        return a.value;
      case 'var': {
        const base = this.lookupVar(pipe, a.name);
        return a.chain.length ? this.evalChain(pipe, base, a.chain, []) : base;
      }
      case 'sub': {
        const base = this.evalPipe(dot, a.pipe);
        return a.chain.length ? this.evalChain(pipe, base, a.chain, []) : base;
      }
      case 'ident': {
        const fn = this.funcs[a.name];
        return fn();
      }
    }
  }

  private evalChain(pipe: Pipe, receiver: unknown, chain: string[], args: unknown[]): unknown {
    let v = receiver;
    for (let i = 0; i < chain.length; i++) {
      const last = i === chain.length - 1;
      v = this.field(v, chain[i], last ? args : []);
    }
    return v;
  }

  private field(receiver: unknown, name: string, args: unknown[]): unknown {
    if (receiver === undefined || receiver === null) {
      if (this.missingKey === 'error') throw new Error(`nil data; no entry for key "${name}"`);
      if (receiver === null) throw new Error(`nil pointer evaluating interface {}.${name}`);
      return undefined;
    }
    if (isMap(receiver)) {
      if (args.length) throw new Error(`${name} is not a method but has arguments`);
      if (Object.prototype.hasOwnProperty.call(receiver, name)) return receiver[name];
      if (this.missingKey === 'error') throw new Error(`map has no entry for key "${name}"`);
      return undefined;
    }
    if (isStruct(receiver)) {
      const member = (receiver as Record<string, unknown>)[name];
      if (typeof member === 'function' && !name.startsWith('_')) return (member as TemplateFunc).apply(receiver, args);
      if (member !== undefined && Object.prototype.hasOwnProperty.call(receiver, name) && !name.startsWith('_')) {
        if (args.length) throw new Error(`${name} has arguments but cannot be invoked as function`);
        return member;
      }
    }
    throw new Error(`can't evaluate field ${name} in type ${goTypeName(receiver)}`);
  }
}

/** A parsed template; parse once, execute per item. */
export class Template {
  private readonly nodes: Node[];
  constructor(readonly source: string, extraFuncNames: string[] = []) {
    this.nodes = new Parser(split(source), new Set(extraFuncNames)).parseAll();
  }

  execute(data: unknown, opts: ExecuteOptions = {}): string {
    const st = new ExecState(data, opts);
    try {
      st.walk(data, this.nodes);
    } catch (e) {
      if (e instanceof BreakSignal || e instanceof ContinueSignal) throw new TemplateError('parse', 'template: :1: {{break}} outside {{range}}');
      throw e;
    }
    return st.out;
  }
}

export function parseTemplate(source: string): Template {
  return new Template(source);
}

/** Parses and executes in one step. */
export function renderTemplate(source: string, data: unknown, opts: ExecuteOptions = {}): string {
  return new Template(source).execute(data, opts);
}
