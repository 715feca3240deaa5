import type { HealthConfig } from '../../api/types';

/**
 * The parsed form of a Dockerfile, before any variable is expanded. Values that the
 * reference says are expanded (ENV, LABEL, COPY paths, WORKDIR ...) are kept as the raw
 * words of the file, quotes included, so the builder can expand them with the variables in
 * scope at that step (`expandInstruction` in expand.ts) — quotes are shell syntax, and a
 * single-quoted `$X` must survive until then.
 */

/** Parser directives from the top of the file (`# escape=`, `# syntax=`, `# check=`). */
export interface Directives {
  /** the escape character: `\` unless `# escape=` says `` ` `` */
  escape: string;
  syntax?: string;
  check?: string;
}

/** RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD: a JSON array, or a string for the shell. */
export type CommandForm = { form: 'exec'; args: string[] } | { form: 'shell'; command: string };

/** A here-document: `<<NAME` on the instruction line, its body on the lines that follow. */
export interface Heredoc {
  /** the delimiter word, quotes removed */
  name: string;
  /** the body, each line ending in "\n"; leading tabs already stripped when `chomp` */
  content: string;
  /** false when any part of the delimiter was quoted: the body is taken literally */
  expand: boolean;
  /** `<<-NAME`: leading tabs stripped from the body and the closing line */
  chomp: boolean;
}

/** One `key=value` of ENV or LABEL (or the legacy `ENV key value`), both as written. */
export interface KeyValue {
  key: string;
  value: string;
}

/** One name of an ARG line, with its default as written (undefined: no `=`). */
export interface ArgDecl {
  name: string;
  default?: string;
}

/** A `RUN --mount=...`, its options as written (they are expanded at dispatch). */
export interface RunMount {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  target?: string;
  source?: string;
  from?: string;
  id?: string;
  /** bind: `rw`; cache/others: not `ro` */
  readonly: boolean;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: string;
  uid?: string;
  gid?: string;
  size?: string;
  env?: string;
  required: boolean;
  /** the option string as written, for cache keys and history */
  raw: string;
}

interface Base {
  /** 1-based line of the instruction's first line */
  line: number;
  /** last line, heredoc bodies included */
  endLine: number;
  /** the instruction as written, continuation lines joined (heredoc bodies not included) */
  original: string;
}

export interface RunInstruction extends Base {
  kind: 'RUN';
  cmd: CommandForm;
  mounts: RunMount[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
  devices: string[];
  heredocs: Heredoc[];
}
export interface CmdInstruction extends Base {
  kind: 'CMD';
  cmd: CommandForm;
}
export interface EntrypointInstruction extends Base {
  kind: 'ENTRYPOINT';
  cmd: CommandForm;
}
export interface EnvInstruction extends Base {
  kind: 'ENV';
  pairs: KeyValue[];
  /** written `ENV key value` (deprecated form, one pair) */
  legacy: boolean;
}
export interface LabelInstruction extends Base {
  kind: 'LABEL';
  pairs: KeyValue[];
  legacy: boolean;
}
export interface ArgInstruction extends Base {
  kind: 'ARG';
  args: ArgDecl[];
}
export interface MaintainerInstruction extends Base {
  kind: 'MAINTAINER';
  name: string;
}
export interface ExposeInstruction extends Base {
  kind: 'EXPOSE';
  ports: string[];
}
export interface VolumeInstruction extends Base {
  kind: 'VOLUME';
  paths: string[];
  json: boolean;
}
export interface UserInstruction extends Base {
  kind: 'USER';
  user: string;
}
export interface WorkdirInstruction extends Base {
  kind: 'WORKDIR';
  path: string;
}
export interface StopsignalInstruction extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}
export interface HealthcheckInstruction extends Base {
  kind: 'HEALTHCHECK';
  /** Docker's HealthConfig: Test is ["NONE"], ["CMD", ...] or ["CMD-SHELL", cmd]; durations in ns */
  health: HealthConfig & { Test: string[] };
  /** the command of HEALTHCHECK CMD (absent for NONE) */
  cmd?: CommandForm;
}
export interface OnbuildInstruction extends Base {
  kind: 'ONBUILD';
  /** the trigger as written after ONBUILD, stored in the image's OnBuild list */
  expression: string;
  /** the trigger parsed, for checking now and running in a downstream build */
  instruction: Instruction;
}
export interface CopyInstruction extends Base {
  kind: 'COPY';
  /** context (or --from) paths as written; heredoc sources are in `heredocs` */
  sources: string[];
  dest: string;
  /** written as a JSON array */
  json: boolean;
  /** `COPY <<EOF dest`: each heredoc is a file named after its delimiter */
  heredocs: Heredoc[];
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
}
export interface AddInstruction extends Base {
  kind: 'ADD';
  sources: string[];
  dest: string;
  json: boolean;
  heredocs: Heredoc[];
  chown?: string;
  chmod?: string;
  link: boolean;
  keepGitDir: boolean;
  checksum?: string;
  /** --unpack: undefined when not given (local archives unpack, URLs don't) */
  unpack?: boolean;
  exclude: string[];
}
export interface ShellInstruction extends Base {
  kind: 'SHELL';
  args: string[];
}

export type Instruction =
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | MaintainerInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | CopyInstruction
  | AddInstruction
  | ShellInstruction;

export type InstructionKind = Instruction['kind'];

/** One `FROM` and the instructions up to the next one. */
export interface Stage {
  /** `AS name`, lowercased as BuildKit does */
  name?: string;
  /** position among the stages, from 0 */
  index: number;
  /** the image or stage named by FROM, unexpanded */
  baseName: string;
  /** `--platform=`, unexpanded */
  platform?: string;
  instructions: Instruction[];
  /** line of the FROM */
  line: number;
  original: string;
}

export interface ParseWarning {
  line: number;
  message: string;
}

export interface Dockerfile {
  directives: Directives;
  stages: Stage[];
  /** ARGs before the first FROM: usable in FROM lines, and in stages that redeclare them */
  globalArgs: ArgInstruction[];
  warnings: ParseWarning[];
}
