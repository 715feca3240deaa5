/**
 * berth's entry point: global flags, command dispatch, and the one place where
 * errors become docker's messages and exit statuses.
 */
import { parseFlags, FlagDef, ParsedFlags } from './flags';
import { UsageError, StatusError, ExitError, errorMessage } from './errors';
import { commonCommands, otherCommands, groups, loadSpec, mainHelp, groupHelp, CommandEntry } from './registry';
import type { CommandContext, CommandSpec } from './command';
import type { EngineClient } from '../client/engine';
import { CLI_VERSION, buildTag } from './build-info';
import { FdOutput } from './fd-output';

export const PROG = 'berth';
export { CLI_VERSION } from './build-info';

const globalFlags: FlagDef[] = [
  { name: 'config', type: 'string', help: 'Location of client config files' },
  { name: 'context', short: 'c', type: 'string', help: 'Name of the context to use to connect to the daemon' },
  { name: 'debug', short: 'D', type: 'bool', help: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', help: 'Daemon socket to connect to' },
  { name: 'log-level', short: 'l', type: 'string', help: 'Set the logging level', default: 'info' },
  { name: 'tls', type: 'bool', help: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', type: 'string', help: 'Trust certs signed only by this CA' },
  { name: 'tlscert', type: 'string', help: 'Path to TLS certificate file' },
  { name: 'tlskey', type: 'string', help: 'Path to TLS key file' },
  { name: 'tlsverify', type: 'bool', help: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: 'bool', help: 'Print version information and quit' },
];

/** Finds the command for argv (after global flags): [path words, entry, remaining args]. */
function resolveCommand(args: string[]): { path: string; entry?: CommandEntry; rest: string[]; group?: string } {
  const [first, ...rest] = args;
  if (first in commonCommands) return { path: first, entry: commonCommands[first], rest };
  if (first in otherCommands) return { path: first, entry: otherCommands[first], rest };
  const g = groups[first];
  if (g) {
    const [sub, ...rest2] = rest;
    if (sub === undefined || sub.startsWith('-')) return { path: first, rest, group: first };
    const name = g.aliases[sub] ?? sub;
    const entry = g.subcommands[name];
    return { path: `${first} ${sub}`, entry, rest: rest2, group: first };
  }
  return { path: first, rest };
}

function argCountError(prog: string, path: string, spec: CommandSpec, n: number): UsageError | undefined {
  const { min, max } = spec.args ?? {};
  const plural = (k: number) => (k === 1 ? 'argument' : 'arguments');
  const name = `'${prog} ${path}'`;
  if (min !== undefined && max !== undefined && min === max && n !== min) return new UsageError(`${name} requires ${min} ${plural(min)}`, 'args');
  if (max === 0 && n > 0) return new UsageError(`${name} accepts no arguments`, 'args');
  if (min !== undefined && max !== undefined && min !== max && (n < min || n > max)) {
    return new UsageError(`${name} requires at least ${min} and at most ${max} ${plural(max)}`, 'args');
  }
  if (min !== undefined && max === undefined && n < min) return new UsageError(`${name} requires at least ${min} ${plural(min)}`, 'args');
  if (max !== undefined && min === undefined && n > max) return new UsageError(`${name} requires at most ${max} ${plural(max)}`, 'args');
  return undefined;
}

export interface MainIO {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /** how text is printed, when not by stdout.write / stderr.write */
  print?: { out: (s: string | Uint8Array) => void; err: (s: string | Uint8Array) => void };
}

/** Runs the CLI on argv (without node and script); resolves with the exit status. */
// process.stdin is made on first use, and making it costs start-up time (a stream over fd 0):
// only the commands that read their input touch it
let stdinStream: NodeJS.ReadStream | undefined;
// so are stdout and stderr (fd-output.ts): text is written to the descriptors until a command
// needs a stream
const stdoutFd = new FdOutput(1, () => process.stdout);
const stderrFd = new FdOutput(2, () => process.stderr);
const processIO: MainIO = {
  get stdin() {
    stdinStream ??= openStdin();
    return stdinStream;
  },
  get stdout() {
    return stdoutFd.streamed;
  },
  get stderr() {
    return stderrFd.streamed;
  },
  env: process.env,
  print: { out: (s) => stdoutFd.write(s), err: (s) => stderrFd.write(s) },
};

/**
 * stdin: the terminal as process.stdin (raw mode, resize); anything else read as a file from
 * fd 0. Bun's process.stdin over a pipe now and then stops short of its end when it is read
 * late and slowly (`berth load < image.tar` hung in about one run of ten under load).
 */
function openStdin(): NodeJS.ReadStream {
  const { isatty } = require('node:tty') as typeof import('node:tty');
  if (isatty(0) || !process.versions.bun) return process.stdin;
  const { createReadStream } = require('node:fs') as typeof import('node:fs');
  return Object.assign(createReadStream('', { fd: 0, autoClose: false, highWaterMark: 256 * 1024 }), { isTTY: false as const, fd: 0 as const }) as unknown as NodeJS.ReadStream;
}

export async function main(argv: string[], io: MainIO = processIO): Promise<number> {
  const out = io.print?.out ?? ((s: string | Uint8Array) => void io.stdout.write(s));
  const err = io.print?.err ?? ((s: string | Uint8Array) => void io.stderr.write(s));
  let global: ParsedFlags;
  try {
    global = parseFlags(argv, globalFlags, { interspersed: false });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\n\nUsage:  ${PROG} [OPTIONS] COMMAND\n\nRun '${PROG} --help' for more information\n`);
      return e.exitCode;
    }
    throw e;
  }
  if (global.values.version) {
    out(`${PROG} version ${CLI_VERSION}, build ${buildTag()}\n`);
    return 0;
  }
  if (global.args.length === 0 || (global.help && global.args.length === 0)) {
    out(mainHelp(PROG));
    return 0;
  }
  if (global.args[0] === 'help') {
    global.args.splice(0, 1);
    global.args.push('--help');
    if (global.args.length === 1) {
      out(mainHelp(PROG));
      return 0;
    }
  }
  const debug = global.values.debug as boolean;
  const hosts = global.values.host as string[];
  const given = (name: string) => (global.changed.has(name) ? (global.values[name] as string | boolean) : undefined);
  const connectionFlags = {
    hosts,
    context: (global.values.context as string | undefined) || undefined,
    tls: given('tls') as boolean | undefined,
    tlsverify: given('tlsverify') as boolean | undefined,
    tlscacert: given('tlscacert') as string | undefined,
    tlscert: given('tlscert') as string | undefined,
    tlskey: given('tlskey') as string | undefined,
  };
  // resolved on first use: `context` commands work even while the current context is broken
  let connection: import('../client/connection').Connection | undefined;
  const connect = () => {
    if (!connection) {
      const { resolveConnection, ConnectionConfigError } = require('../client/connection') as typeof import('../client/connection');
      try {
        connection = resolveConnection(connectionFlags, io.env);
      } catch (e) {
        if (e instanceof ConnectionConfigError) throw new StatusError(e.message, 1);
        throw e;
      }
    }
    return connection;
  };

  const { path, entry, rest, group } = resolveCommand(global.args);
  if (!entry) {
    if (group && path === group) {
      out(groupHelp(PROG, group, groups[group]));
      return 0;
    }
    const hint = group ? `Usage:  ${PROG} ${group}\n\nRun '${PROG} ${group} --help'` : `Run '${PROG} --help'`;
    err(`${PROG}: unknown command: ${PROG} ${path}\n\n${hint} for more information\n`);
    return 1;
  }

  const spec = loadSpec(entry);
  const usageLine = `Usage:  ${PROG} ${path}${spec.usage ? ' ' + spec.usage : ''}`;
  let client: EngineClient | undefined;
  const ctx: CommandContext = {
    prog: PROG,
    path,
    get address() {
      return connect().address;
    },
    get contextName() {
      return connect().contextName;
    },
    connectionFlags,
    configDir: (global.values.config as string | undefined) || undefined,
    client: () => {
      if (!client) {
        const { EngineClient: Client } = require('../client/engine') as typeof import('../client/engine');
        const c = connect();
        client = new Client(c.address, { tls: c.tls });
      }
      return client;
    },
    get stdin() {
      return io.stdin;
    },
    get stdout() {
      return io.stdout;
    },
    get stderr() {
      return io.stderr;
    },
    env: io.env,
    out,
    err,
  };

  try {
    const parsed = parseFlags(rest, spec.flags, { interspersed: spec.interspersed ?? true });
    if (parsed.help) {
      const { commandHelp } = require('./usage') as typeof import('./usage');
      out(commandHelp(PROG, path, spec));
      return 0;
    }
    const countErr = argCountError(PROG, path, spec, parsed.args.length);
    if (countErr) throw countErr;
    return await spec.run(ctx, parsed);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.kind === 'args') err(`${PROG}: ${e.message}\n\n${usageLine}\n\nSee '${PROG} ${path} --help' for more information\n`);
      else err(`${e.message}\n\n${usageLine}\n\nRun '${PROG} ${path} --help' for more information\n`);
      return e.exitCode;
    }
    if (e instanceof ExitError) return e.exitCode;
    if (e instanceof StatusError) {
      if (e.prefixed) err(`${PROG}: ${e.message}\n\nRun '${PROG} ${path} --help' for more information\n`);
      else err(`${e.message}\n`);
      return e.exitCode;
    }
    const { EngineError, DaemonUnreachableError } = require('../client/engine') as typeof import('../client/engine');
    let message = errorMessage(e);
    if (e instanceof EngineError) message = `Error response from daemon: ${e.message}`;
    else if (!(e instanceof DaemonUnreachableError) && debug && e instanceof Error && e.stack) message = e.stack;
    if (spec.errorStyle === 'run') {
      err(`${PROG}: ${message}\n\nRun '${PROG} ${path} --help' for more information\n`);
      return 125;
    }
    err(`${message}\n`);
    return 1;
  }
}

/**
 * Exits once what was written to stdout and stderr has been handed to the OS. Ending the
 * streams, not an empty write: Bun (the compiled CLI) writes to a pipe asynchronously and
 * calls an empty write's callback before the earlier writes are out, so `berth logs | wc -l`
 * lost the end of a long log.
 */
function exitAfterFlush(code: number): void {
  const streams = [stdoutFd.opened, stderrFd.opened].filter((s) => s !== undefined);
  let pending = streams.length;
  if (pending === 0) process.exit(code);
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const s of streams) s.end(done);
}

if (require.main === module || (require.main && /bin[\\/]berth$/.test(require.main.filename))) {
  main(process.argv.slice(2)).then(exitAfterFlush, (e) => {
    stderrFd.write(`${errorMessage(e)}\n`);
    exitAfterFlush(1);
  });
}
