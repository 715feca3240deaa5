/**
 * What a command module provides (CommandSpec) and what it gets to work with
 * (CommandContext). Command modules export specs; main.ts loads only the module
 * of the command being run.
 */
import type { EngineClient } from '../client/engine';
import type { FlagDef, ParsedFlags } from './flags';

export interface CommandContext {
  /** Program name used in messages: "berth". */
  prog: string;
  /** The command as invoked, for messages: "run", "container run". */
  path: string;
  /** The daemon client (created on first use). */
  client(): EngineClient;
  /** The daemon address in use (resolving it may throw: an unknown context). */
  readonly address: string;
  /** The context in use ("default" for -H, DOCKER_HOST or nothing set). */
  readonly contextName: string;
  /** The global flags that choose the daemon (-H, --context, --tls...), for the context commands. */
  connectionFlags: import('../client/connection').ConnectionFlags;
  /** The client config directory given with --config (credentials live there); unset: BERTH_CONFIG or ~/.berth. */
  configDir?: string;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** Writes to stdout / stderr. */
  out(s: string | Uint8Array): void;
  err(s: string | Uint8Array): void;
}

export interface ArgRule {
  min?: number;
  max?: number;
}

export interface CommandSpec {
  /** After the command path in "Usage:": "[OPTIONS] IMAGE [COMMAND] [ARG...]". */
  usage: string;
  summary: string;
  /** Other spellings, shown in help: ["container run", "run"]. */
  aliases?: string[];
  flags: FlagDef[];
  /** false: flags end at the first positional argument (run, create). */
  interspersed?: boolean;
  args?: ArgRule;
  /**
   * How an unreachable daemon (and other client-side failures) are reported:
   * 'run' style is "berth: ...\n\nRun 'berth run --help' ..." with status 125.
   */
  errorStyle?: 'plain' | 'run';
  run(ctx: CommandContext, p: ParsedFlags): Promise<number>;
}

/** The --format flag text docker shows for list commands. */
export const formatFlagHelp =
  "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

/** Docker's filter flag values must look like key=value. */
export function validateFilter(v: string): string {
  if (!v.includes('=')) throw new Error(`bad format of filter (expected name=value)`);
  return v;
}

/** Filters as the API takes them: {"name":["web"],"status":["exited"]}. */
export function filtersJson(filters: readonly string[]): string | undefined {
  if (filters.length === 0) return undefined;
  const m: Record<string, string[]> = {};
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq).trim().toLowerCase();
    const val = f.slice(eq + 1).trim();
    (m[key] ??= []).push(val);
  }
  return JSON.stringify(m);
}
