import * as path from 'node:path';
import type { HealthConfig } from '../api/types';
import { invalid } from '../common/errors';
import type { Excluded } from './context';
import { parseDockerignore, isExcluded } from './dockerignore';
import { parseDockerfile } from './dockerfile/parse';
import type { Dockerfile, Instruction, Stage } from './dockerfile/types';
import { resolveGlobalArgs, type BuildArgs, type GlobalArgs, type StageScope } from './dockerfile/args';
import { buildOrder } from './dockerfile/stages';
import { EXPANDING_KINDS, expandInstruction, heredocContent } from './dockerfile/expand';
import { runScript } from './dockerfile/heredoc';

/**
 * The bridge between the Dockerfile front end and the builder: which stages to build, in
 * what order, what the context excludes, and each instruction turned into a Step with its
 * variables expanded in the stage's scope at the moment it runs.
 */
export type Step =
  | { kind: 'ENV' | 'LABEL'; text: string; pairs: [string, string][] }
  | { kind: 'CMD' | 'ENTRYPOINT'; text: string; args: string[]; keepCmd?: boolean }
  | { kind: 'EXPOSE'; text: string; ports: string[] }
  | { kind: 'VOLUME'; text: string; paths: string[] }
  | { kind: 'USER'; text: string; user: string }
  | { kind: 'STOPSIGNAL'; text: string; signal: string }
  | { kind: 'SHELL'; text: string; args: string[] }
  | { kind: 'HEALTHCHECK'; text: string; health: HealthConfig }
  | { kind: 'ONBUILD'; text: string; trigger: string }
  | { kind: 'MAINTAINER'; text: string; name: string }
  | { kind: 'ARG'; text: string }
  | { kind: 'WORKDIR'; text: string; path: string }
  | { kind: 'RUN'; text: string; exec?: string[]; command?: string; usedArgs: [string, string][]; env: string[] }
  | { kind: 'COPY' | 'ADD'; text: string; sources: string[]; dest: string; from?: string; chown?: string; chmod?: string; inline: { name: string; content: string }[] };

export interface BuildPlan {
  df: Dockerfile;
  order: Stage[];
  globals: GlobalArgs;
  excluded: Excluded;
  escape: string;
}

export async function planBuild(read: (rel: string) => string | undefined, o: { dockerfile: string; target?: string; buildArgs: BuildArgs }): Promise<BuildPlan> {
  const rel = path.posix.normalize(o.dockerfile);
  if (rel.startsWith('../') || path.isAbsolute(rel)) throw invalid(`the Dockerfile (${o.dockerfile}) must be within the build context`);
  const text = read(rel);
  if (text === undefined) throw invalid(`Cannot locate specified Dockerfile: ${o.dockerfile}`);
  const ignoreText = read('.dockerignore') ?? '';
  const patterns = parseDockerignore(ignoreText);
  if (isExcluded(rel, patterns)) {
    // the docker CLI sends the Dockerfile regardless; it is still not copied by COPY .
  }
  const df = parseDockerfile(text);
  const globals = resolveGlobalArgs(df.globalArgs, o.buildArgs, { automatic: { TARGETPLATFORM: 'linux/amd64', TARGETOS: 'linux', TARGETARCH: 'amd64', BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64' }, escape: df.directives.escape });
  const order = buildOrder(df, o.target, globals);
  // the Dockerfile and .dockerignore are never part of what COPY takes, as Docker does
  const excluded: Excluded = (p) => isExcluded(p, patterns) || (p === '.dockerignore' && ignoreText !== '');
  return { df, order, globals, excluded, escape: df.directives.escape };
}

const split = (kv: string): [string, string] => {
  const i = kv.indexOf('=');
  return [kv.slice(0, i), kv.slice(i + 1)];
};

/** Expands an instruction in the stage's scope, updates the scope (ARG, ENV), and gives its Step. */
export function toStep(raw: Instruction, scope: StageScope, escape: string, shell: string[]): Step {
  const instr = EXPANDING_KINDS.has(raw.kind) ? expandInstruction(raw, scope.vars, escape) : raw;
  const text = raw.original;
  const commandArgs = (cmd: { form: 'exec'; args: string[] } | { form: 'shell'; command: string }) => (cmd.form === 'exec' ? cmd.args : [...shell, cmd.command]);
  switch (instr.kind) {
    case 'ENV':
      for (const p of instr.pairs) scope.setEnv(p.key, p.value);
      return { kind: 'ENV', text, pairs: instr.pairs.map((p) => [p.key, p.value]) };
    case 'LABEL':
      return { kind: 'LABEL', text, pairs: instr.pairs.map((p) => [p.key, p.value]) };
    case 'ARG':
      scope.declare(instr);
      return { kind: 'ARG', text: instr.args.map((a) => (a.default !== undefined ? `${a.name}=${a.default}` : a.name)).join(' ') };
    case 'CMD':
      return { kind: 'CMD', text, args: commandArgs(instr.cmd) };
    case 'ENTRYPOINT':
      return { kind: 'ENTRYPOINT', text, args: commandArgs(instr.cmd) };
    case 'SHELL':
      return { kind: 'SHELL', text, args: instr.args };
    case 'EXPOSE':
      for (const p of instr.ports) if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) throw invalid(`invalid containerPort: ${p}`);
      return { kind: 'EXPOSE', text, ports: instr.ports.map((p) => p.toLowerCase()) };
    case 'VOLUME':
      return { kind: 'VOLUME', text, paths: instr.paths };
    case 'USER':
      return { kind: 'USER', text, user: instr.user };
    case 'WORKDIR':
      return { kind: 'WORKDIR', text, path: instr.path };
    case 'STOPSIGNAL':
      return { kind: 'STOPSIGNAL', text, signal: instr.signal };
    case 'HEALTHCHECK':
      return { kind: 'HEALTHCHECK', text, health: instr.health };
    case 'ONBUILD':
      return { kind: 'ONBUILD', text, trigger: instr.expression };
    case 'MAINTAINER':
      return { kind: 'MAINTAINER', text, name: instr.name };
    case 'RUN': {
      const script = runScript(instr);
      const env = scope.runEnv();
      const usedArgs = scope.runArgs().map(split);
      if (script) return { kind: 'RUN', text, command: script.kind === 'shell' ? script.command : script.content, usedArgs, env };
      return instr.cmd.form === 'exec' ? { kind: 'RUN', text, exec: instr.cmd.args, usedArgs, env } : { kind: 'RUN', text, command: instr.cmd.command, usedArgs, env };
    }
    case 'COPY':
    case 'ADD': {
      const inline = instr.heredocs.map((h) => ({ name: h.name, content: heredocContent(h, scope.vars, escape) }));
      return { kind: instr.kind, text, sources: instr.sources, dest: instr.dest, from: instr.kind === 'COPY' ? instr.from : undefined, chown: instr.chown, chmod: instr.chmod, inline };
    }
  }
}
