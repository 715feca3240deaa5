import { invalid } from '../../common/errors';
import { expandWord, type Vars } from './expand';
import type { ArgInstruction, Dockerfile, Stage } from './types';

/**
 * Build arguments and their scopes. ARGs before the first FROM form the global scope,
 * seen only by FROM lines, and by a stage that redeclares the name (`ARG NAME`). A stage
 * ARG is in scope from its line to the end of the stage (and in stages built FROM it);
 * a `--build-arg` replaces its default; an ENV of the same name wins over it. The proxy
 * args are passed to RUN without being declared, but stay out of history and cache keys.
 */

/** `--build-arg` values as the API sends them; null or absent means "not given". */
export type BuildArgs = Readonly<Record<string, string | null | undefined>>;

export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
];

/** Args the builder knows without an ARG line, never reported as unconsumed. */
function isBuiltinArg(name: string): boolean {
  return (
    PROXY_ARGS.includes(name) ||
    name.startsWith('BUILDKIT_') ||
    name === 'SOURCE_DATE_EPOCH' ||
    /^(TARGET|BUILD)(PLATFORM|OS|ARCH|VARIANT)$/.test(name)
  );
}

const given = (buildArgs: BuildArgs, name: string): string | undefined => {
  const v = Object.prototype.hasOwnProperty.call(buildArgs, name) ? buildArgs[name] : undefined;
  return v === null ? undefined : v;
};

export interface GlobalArgs {
  /** values of the global ARGs (and the automatic platform args) that have one */
  values: ReadonlyMap<string, string>;
  /** every name declared before the first FROM */
  declared: ReadonlySet<string>;
}

/**
 * The global scope: each ARG before the first FROM takes its build-arg, else its default
 * (expanded with the globals above it), else an automatic value (TARGETPLATFORM ...).
 * `automatic` holds those platform args; they are global without being declared.
 */
export function resolveGlobalArgs(
  globalArgs: readonly ArgInstruction[],
  buildArgs: BuildArgs,
  opts: { automatic?: Readonly<Record<string, string>>; escape?: string } = {},
): GlobalArgs {
  const values = new Map<string, string>(Object.entries(opts.automatic ?? {}));
  const declared = new Set<string>();
  for (const instr of globalArgs) {
    // All defaults on one ARG line see the scope from before the line.
    const before = new Map(values);
    for (const a of instr.args) {
      declared.add(a.name);
      const v = given(buildArgs, a.name) ?? (a.default !== undefined ? expandWord(a.default, before, opts.escape) : undefined);
      if (v !== undefined) values.set(a.name, v);
    }
  }
  return { values, declared };
}

/** A stage's FROM image and platform with the global args expanded. */
export function expandFrom(stage: Stage, globals: GlobalArgs, escape = '\\'): { baseName: string; platform?: string } {
  const baseName = expandWord(stage.baseName, globals.values, escape);
  if (baseName === '') throw invalid(`base name (${stage.baseName}) should not be blank`);
  const out: { baseName: string; platform?: string } = { baseName };
  if (stage.platform !== undefined) out.platform = expandWord(stage.platform, globals.values, escape);
  return out;
}

const splitEnv = (kv: string): [string, string] => {
  const eq = kv.indexOf('=');
  return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
};

/**
 * The variables of one stage as its instructions run: ENV (starting from the base
 * image's Env) and the ARGs declared so far. Create one per stage; a stage built FROM an
 * earlier stage starts from `fork()` of that stage's scope.
 */
export class StageScope {
  private readonly env: Map<string, string>;
  /** declared args in declaration order; undefined value: declared without one */
  private readonly args: Map<string, string | undefined>;

  private constructor(
    private readonly globals: GlobalArgs,
    private readonly buildArgs: BuildArgs,
    private readonly escape: string,
    env: Map<string, string>,
    args: Map<string, string | undefined>,
  ) {
    this.env = env;
    this.args = args;
  }

  /** A stage FROM an image: `imageEnv` is the image config's Env ("K=V" strings). */
  static create(globals: GlobalArgs, buildArgs: BuildArgs, imageEnv: readonly string[] = [], escape = '\\'): StageScope {
    return new StageScope(globals, buildArgs, escape, new Map(imageEnv.map(splitEnv)), new Map());
  }

  /** A stage FROM this stage inherits its ENV and its ARGs. */
  fork(): StageScope {
    return new StageScope(this.globals, this.buildArgs, this.escape, new Map(this.env), new Map(this.args));
  }

  /** Looks a name up as expansion sees it: ENV first, then declared ARGs. */
  get(name: string): string | undefined {
    return this.env.has(name) ? this.env.get(name) : this.args.get(name);
  }

  /** For expandInstruction and expandWord. */
  get vars(): Vars {
    return (name) => this.get(name);
  }

  /**
   * An ARG line: each name takes its build-arg, else its default (expanded in the scope
   * before the line), else the global value of that name, else no value.
   */
  declare(instr: ArgInstruction): void {
    const before = this.vars;
    const values = instr.args.map((a) => {
      const v =
        given(this.buildArgs, a.name) ??
        (a.default !== undefined ? expandWord(a.default, before, this.escape) : this.globals.values.get(a.name));
      return [a.name, v] as const;
    });
    for (const [name, v] of values) {
      // Redeclaring keeps the old value when the new line brings none.
      this.args.set(name, v ?? (this.args.has(name) ? this.args.get(name) : undefined));
    }
  }

  /** An ENV pair, already expanded. */
  setEnv(key: string, value: string): void {
    this.env.set(key, value);
  }

  /** The image's Env as it stands ("K=V"), in the order names were first set. */
  envList(): string[] {
    return [...this.env].map(([k, v]) => `${k}=${v}`);
  }

  /**
   * The declared args that a RUN sees and that belong in its history line and cache key
   * ("K=V", declaration order): those with a value and not hidden by an ENV of that name.
   */
  runArgs(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.args) if (v !== undefined && !this.env.has(k)) out.push(`${k}=${v}`);
    return out;
  }

  /**
   * The whole environment of a RUN: the image Env, the run args, and the proxy build-args
   * that were given but not declared (those last stay out of history and cache keys).
   */
  runEnv(): string[] {
    const out = [...this.envList(), ...this.runArgs()];
    for (const name of PROXY_ARGS) {
      const v = given(this.buildArgs, name);
      if (v !== undefined && !this.env.has(name) && !this.args.has(name)) out.push(`${name}=${v}`);
    }
    return out;
  }

  /** Names declared with ARG in this stage (and the stages it was forked from). */
  declaredArgs(): string[] {
    return [...this.args.keys()];
  }
}

/**
 * The build-args that no ARG of the built stages (or the global scope) declares, sorted,
 * as Docker reports them. Predefined and automatic args are never reported.
 */
export function unconsumedBuildArgs(buildArgs: BuildArgs, df: Dockerfile, stages: readonly Stage[] = df.stages): string[] {
  const declared = new Set<string>();
  for (const g of df.globalArgs) for (const a of g.args) declared.add(a.name);
  for (const st of stages) {
    for (const i of st.instructions) if (i.kind === 'ARG') for (const a of i.args) declared.add(a.name);
  }
  return Object.keys(buildArgs)
    .filter((k) => !declared.has(k) && !isBuiltinArg(k))
    .sort();
}

/** `[Warning] One or more build-args [A B] were not consumed` */
export function unconsumedWarning(names: readonly string[]): string {
  return `[Warning] One or more build-args [${names.join(' ')}] were not consumed`;
}
