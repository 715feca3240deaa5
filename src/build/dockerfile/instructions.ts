import { invalid } from '../../common/errors';
import { findHeredocs } from './heredoc';
import { parseHealthcheck } from './healthcheck';
import { parseMount } from './mounts';
import type {
  AddInstruction,
  ArgDecl,
  CommandForm,
  CopyInstruction,
  Heredoc,
  Instruction,
  InstructionKind,
  KeyValue,
} from './types';
import { extractFlags, fields, jsonArray, parseFlags, quotedWords, splitInstruction } from './words';

/**
 * One instruction's text (after its name) turned into its typed form. Errors carry
 * BuildKit's wording; parse.ts adds "dockerfile parse error on line N: ".
 */

export const INSTRUCTION_KINDS: ReadonlySet<string> = new Set<InstructionKind>([
  'RUN', 'CMD', 'ENTRYPOINT', 'ENV', 'ARG', 'LABEL', 'MAINTAINER', 'EXPOSE', 'VOLUME',
  'USER', 'WORKDIR', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'COPY', 'ADD', 'SHELL',
]);

/** Where the text came from, and the here-document bodies read after its line. */
export interface InstructionSource {
  line: number;
  endLine: number;
  original: string;
  escape: string;
  heredocs: Heredoc[];
}

const atLeastOne = (kind: string) => invalid(`${kind} requires at least one argument`);
const exactlyOne = (kind: string) => invalid(`${kind} requires exactly one argument`);

function command(rest: string): CommandForm {
  const args = jsonArray(rest);
  return args ? { form: 'exec', args } : { form: 'shell', command: rest };
}

/** ENV and LABEL: `k=v k2=v2`, or the legacy `k v` (everything after the key is the value). */
function keyValues(kind: string, rest: string, escape: string): { pairs: KeyValue[]; legacy: boolean } {
  const words = quotedWords(rest, escape);
  if (words.length === 0) throw atLeastOne(kind);
  if (!words[0].includes('=')) {
    const m = /^(\S+)\s+([\s\S]*\S)/.exec(rest.trim());
    if (!m) throw invalid(`${kind} must have two arguments`);
    return { pairs: [{ key: m[1], value: m[2] }], legacy: true };
  }
  const pairs = words.map((word) => {
    const eq = word.indexOf('=');
    if (eq < 0) throw invalid(`Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`);
    if (eq === 0) throw invalid(`${kind} names can not be blank`);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
  return { pairs, legacy: false };
}

function argDecls(rest: string, escape: string): ArgDecl[] {
  const words = quotedWords(rest, escape);
  if (words.length === 0) throw atLeastOne('ARG');
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq === 0) throw invalid('ARG names can not be blank');
    return eq < 0 ? { name: word } : { name: word.slice(0, eq), default: word.slice(eq + 1) };
  });
}

/** COPY and ADD share the `src... dest` grammar, JSON form included. */
function sourcesAndDest(kind: 'COPY' | 'ADD', rest: string, src: InstructionSource) {
  const json = jsonArray(rest);
  const args = json ?? fields(rest);
  if (args.length < 2) {
    throw invalid(`${kind} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  // The heredoc words were found on these same words; they are sources made of text.
  const heredocWords = new Set(json ? [] : findHeredocs(args.slice(0, -1), src.escape).map((m) => m.word));
  return {
    sources: args.slice(0, -1).filter((w) => !heredocWords.has(w)),
    dest: args[args.length - 1],
    json: json !== undefined,
    heredocs: json ? [] : src.heredocs,
  };
}

function checkChoice(flag: string, value: string | undefined, allowed: string[], what: string): void {
  // Values holding variables are checked after expansion, by the builder.
  if (value !== undefined && !value.includes('$') && !allowed.includes(value)) {
    throw invalid(`unsupported ${what} mode "${value}"`);
  }
}

export function parseInstruction(kind: InstructionKind, args: string, src: InstructionSource): Instruction {
  const base = { line: src.line, endLine: src.endLine, original: src.original };
  const { flags: flagWords, rest } = extractFlags(args);
  const noFlags = () => parseFlags(flagWords, {});
  switch (kind) {
    case 'RUN': {
      const f = parseFlags(flagWords, { mount: 'strings', network: 'string', security: 'string', device: 'strings' });
      const network = f.network as string | undefined;
      const security = f.security as string | undefined;
      checkChoice('network', network, ['default', 'none', 'host'], 'network');
      checkChoice('security', security, ['sandbox', 'insecure'], 'security');
      if (rest === '') throw atLeastOne('RUN');
      const cmd = command(rest);
      return {
        kind, ...base, cmd,
        mounts: ((f.mount as string[] | undefined) ?? []).map(parseMount),
        ...(network !== undefined && { network: network as 'default' }),
        ...(security !== undefined && { security: security as 'sandbox' }),
        devices: (f.device as string[] | undefined) ?? [],
        heredocs: cmd.form === 'shell' ? src.heredocs : [],
      };
    }
    case 'CMD':
    case 'ENTRYPOINT':
      noFlags();
      return { kind, ...base, cmd: command(rest) };
    case 'SHELL': {
      noFlags();
      const shell = jsonArray(rest);
      if (!shell) throw invalid('SHELL requires the arguments to be in JSON form');
      if (shell.length === 0) throw atLeastOne('SHELL');
      return { kind, ...base, args: shell };
    }
    case 'ENV':
    case 'LABEL':
      noFlags();
      return { kind, ...base, ...keyValues(kind, rest, src.escape) };
    case 'ARG':
      noFlags();
      return { kind, ...base, args: argDecls(rest, src.escape) };
    case 'MAINTAINER':
      noFlags();
      if (rest === '') throw exactlyOne(kind);
      return { kind, ...base, name: rest };
    case 'USER':
      noFlags();
      if (rest === '') throw exactlyOne(kind);
      return { kind, ...base, user: rest };
    case 'WORKDIR':
      noFlags();
      if (rest === '') throw exactlyOne(kind);
      return { kind, ...base, path: rest };
    case 'STOPSIGNAL':
      noFlags();
      if (rest === '') throw exactlyOne(kind);
      return { kind, ...base, signal: rest };
    case 'EXPOSE': {
      noFlags();
      const ports = fields(rest);
      if (ports.length === 0) throw atLeastOne(kind);
      return { kind, ...base, ports };
    }
    case 'VOLUME': {
      noFlags();
      const json = jsonArray(rest);
      const paths = json ?? fields(rest);
      if (paths.length === 0) throw atLeastOne(kind);
      if (paths.some((p) => p.trim() === '')) throw invalid('VOLUME specified can not be an empty string');
      return { kind, ...base, paths, json: json !== undefined };
    }
    case 'HEALTHCHECK':
      return { kind, ...base, ...parseHealthcheck(flagWords, rest) };
    case 'ONBUILD': {
      noFlags();
      if (rest === '') throw atLeastOne(kind);
      const inner = splitInstruction(rest);
      const innerKind = inner.name.toUpperCase();
      if (innerKind === 'ONBUILD') throw invalid('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (innerKind === 'FROM' || innerKind === 'MAINTAINER') throw invalid(`${innerKind} isn't allowed as an ONBUILD trigger`);
      if (!INSTRUCTION_KINDS.has(innerKind)) throw invalid(`unknown instruction: ${innerKind}`);
      const instruction = parseInstruction(innerKind as InstructionKind, inner.rest, { ...src, original: rest, heredocs: [] });
      return { kind, ...base, expression: rest, instruction };
    }
    case 'COPY': {
      const f = parseFlags(flagWords, { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' });
      const copy: CopyInstruction = {
        kind, ...base, ...sourcesAndDest(kind, rest, src),
        link: f.link === true,
        parents: f.parents === true,
        exclude: (f.exclude as string[] | undefined) ?? [],
      };
      if (f.from !== undefined) copy.from = f.from as string;
      if (f.chown !== undefined) copy.chown = f.chown as string;
      if (f.chmod !== undefined) copy.chmod = f.chmod as string;
      return copy;
    }
    case 'ADD': {
      const f = parseFlags(flagWords, {
        chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', exclude: 'strings', unpack: 'bool',
      });
      const add: AddInstruction = {
        kind, ...base, ...sourcesAndDest(kind, rest, src),
        link: f.link === true,
        keepGitDir: f['keep-git-dir'] === true,
        exclude: (f.exclude as string[] | undefined) ?? [],
      };
      if (f.chown !== undefined) add.chown = f.chown as string;
      if (f.chmod !== undefined) add.chmod = f.chmod as string;
      if (f.checksum !== undefined) add.checksum = f.checksum as string;
      if (f.unpack !== undefined) add.unpack = f.unpack as boolean;
      return add;
    }
  }
}

export interface FromLine {
  baseName: string;
  name?: string;
  platform?: string;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

export function parseFrom(args: string): FromLine {
  const { flags, rest } = extractFlags(args);
  const f = parseFlags(flags, { platform: 'string' });
  const words = fields(rest);
  const out: FromLine = { baseName: words[0] ?? '' };
  if (words.length === 3 && words[1].toLowerCase() === 'as') {
    const name = words[2].toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw invalid(`invalid name for build stage: ${JSON.stringify(words[2])}, name can't start with a number or contain symbols`);
    }
    out.name = name;
  } else if (words.length !== 1) {
    throw invalid('FROM requires either one or three arguments');
  }
  if (f.platform !== undefined) out.platform = f.platform as string;
  return out;
}
