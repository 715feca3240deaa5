import { invalid } from '../../common/errors';

/**
 * Splitting an instruction's text the ways the Dockerfile grammar needs: the leading
 * `--flag` words, whitespace-separated words that respect quotes (ENV, LABEL, ARG), plain
 * whitespace words (COPY, EXPOSE ...), and the JSON array form.
 */

const isSpace = (c: string) => /\s/.test(c);

/** `NAME rest`: the instruction word and what follows it. */
export function splitInstruction(text: string): { name: string; rest: string } {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text.trim());
  return m ? { name: m[1], rest: m[2] } : { name: '', rest: '' };
}

/**
 * Takes the `--name[=value]` words off the front of an instruction's arguments. Quotes
 * inside a flag word are removed and `\` escapes the next character; a bare `--` ends the
 * flags. Everything from the first word not starting with `--` is returned untouched.
 */
export function extractFlags(args: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let i = 0;
  for (;;) {
    while (i < args.length && isSpace(args[i])) i++;
    if (!args.startsWith('--', i)) return { flags, rest: args.slice(i) };
    let word = '';
    let quote = '';
    for (; i < args.length; i++) {
      const c = args[i];
      if (!quote && isSpace(c)) break;
      if (c === '\\' && i + 1 < args.length) {
        word += args[++i];
      } else if (quote) {
        if (c === quote) quote = '';
        else word += c;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c !== '\\') {
        word += c;
      }
    }
    if (word === '--') return { flags, rest: args.slice(i).trimStart() };
    flags.push(word);
  }
}

export type FlagType = 'bool' | 'string' | 'strings';
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Checks flag words against what an instruction accepts, with BuildKit's messages. */
export function parseFlags(words: string[], spec: Record<string, FlagType>): FlagValues {
  const out: FlagValues = {};
  for (const w of words) {
    const body = w.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const value = eq >= 0 ? body.slice(eq + 1) : undefined;
    const type = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (!type) throw invalid(`unknown flag: ${name}`);
    if (type !== 'strings' && name in out) throw invalid(`duplicate flag specified: ${name}`);
    if (type === 'bool') {
      if (eq >= 0 && value === '') throw invalid(`missing a value on flag: ${name}`);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw invalid(`expecting boolean value for flag ${name}, not: ${value}`);
      out[name] = v === 'true';
    } else {
      if (value === undefined) throw invalid(`missing a value on flag: ${name}`);
      if (type === 'string') out[name] = value;
      else out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    }
  }
  return out;
}

/**
 * Words separated by whitespace outside quotes, as ENV, LABEL and ARG read them. Quotes
 * and escapes are kept in the words: expansion removes them later. The escape character
 * joins the next character to the word (a `'` quote escapes nothing).
 */
export function quotedWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (!quote && isSpace(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === escape && quote !== "'") {
      if (i + 1 < text.length) word += c + text[++i];
      continue;
    }
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    }
    word += c;
  }
  if (inWord) words.push(word);
  return words;
}

/** Plain whitespace-separated words (COPY sources, EXPOSE ports, FROM ...). */
export function fields(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * The exec (JSON array) form, or undefined when the text is not a JSON array and so is
 * the shell form. A JSON array of non-strings is an error rather than shell form.
 */
export function jsonArray(text: string): string[] | undefined {
  const t = text.trimStart();
  if (!t.startsWith('[')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((v) => typeof v === 'string')) throw invalid(NOT_STRINGS);
  return parsed as string[];
}
