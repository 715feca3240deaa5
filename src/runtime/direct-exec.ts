import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { BerthError } from '../common/errors';
import { span } from '../common/timing';
import type { ExecHandle, ExecStdio } from './conmon-exec';
import { inRuncWords } from './runtime-errors';

export interface DirectExecOptions {
  containerId: string;
  execId: string;
  /** the exec's own folder: process.json, the pid file, the runtime's log */
  bundle: string;
  processSpecPath: string;
  runtimePath: string;
  runtimeEnv?: NodeJS.ProcessEnv;
  runtimeRoot: string;
  /** the client sends stdin: the process gets a pipe, else /dev/null */
  stdin: boolean;
  argv0?: string;
}

/** BERTH_DIRECT_EXEC=0 sends every exec through conmon. */
export const directExecEnabled = process.env.BERTH_DIRECT_EXEC !== '0';

/** How long output still held in the pipes is read once the process has exited. */
const DRAIN_AFTER_EXIT_MS = 100;

/** Output held until the route listens, and up to this much: past it the pipe waits. */
const HOLD_LIMIT = 1024 * 1024;

/**
 * One output pipe of the process, read from the start. What arrives before anyone listens is
 * held (Node resumes an unread pipe of a child that exited, which would drop it), and handed
 * on, in order, to the first listener.
 */
class OutputPipe {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private sink?: (d: Buffer) => void;

  constructor(readonly stream: NodeJS.ReadableStream & { readableEnded: boolean }) {
    stream.on('data', (d: Buffer) => {
      if (this.sink) return this.sink(d);
      this.held.push(d);
      this.heldBytes += d.length;
      if (this.heldBytes > HOLD_LIMIT) stream.pause();
    });
  }

  /** What arrived so far, taken out (crun's own error, when it fails before the process runs). */
  takeHeld(): Buffer {
    const all = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return all;
  }

  /** From now on data goes to `sink`, after what was held. */
  drainTo(sink: (d: Buffer) => void): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const d of held) sink(d);
    this.sink = sink;
    this.stream.resume();
  }

  ended(): Promise<void> {
    return new Promise((r) => (this.stream.readableEnded ? r() : this.stream.once('end', r).once('close', r)));
  }
}

/**
 * The stdio of a process that `crun exec` runs in the foreground, with the surface the exec
 * route uses of conmon's attach socket (attach-socket.ts): 'stdout', 'stderr', 'drain' and
 * 'close' events, writeStdin, closeStdin, close. Output flows once its event has a listener.
 * Unlike conmon's socket, a pipe given up by the client is drained, not closed, so the
 * process does not die of a broken pipe.
 */
class PipeStdio extends EventEmitter implements ExecStdio {
  private closed = false;
  private watching = false;

  constructor(
    private readonly exited: Promise<number>,
    private readonly stdin: NodeJS.WritableStream & { destroyed: boolean; writableEnded: boolean } | null,
    private readonly out: OutputPipe,
    private readonly err: OutputPipe,
  ) {
    super();
    this.on('newListener', (event: string) => {
      const pipe = event === 'stdout' ? out : event === 'stderr' ? err : undefined;
      // after the listener is in place
      if (pipe) process.nextTick(() => pipe.drainTo((d) => this.closed || this.emit(event, d)));
      // the end is watched for once someone waits for it, so what was held reaches the
      // output listeners (made before) first
      if (event === 'close' && !this.watching) {
        this.watching = true;
        process.nextTick(() => this.closeWhenDone());
      }
    });
    stdin?.on('drain', () => this.emit('drain'));
    stdin?.on('error', () => undefined); // a process that stopped reading its stdin
  }

  /** Closes once the output is complete: the pipes ended, or the process exited and what was left has been read. */
  private closeWhenDone(): void {
    const bothEnded = Promise.all([this.out.ended(), this.err.ended()]);
    // a background child of the process may hold the pipes open: as with conmon, the stream
    // ends shortly after the process itself
    // (the timer, then one more turn of the loop: output already in the pipe is read first)
    const drained = this.exited.then(() => new Promise<void>((r) => setTimeout(() => setImmediate(r), DRAIN_AFTER_EXIT_MS).unref()));
    void Promise.race([bothEnded, drained]).then(() => this.close());
  }

  writeStdin(data: Buffer): boolean {
    const stdin = this.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) return true;
    return stdin.write(data);
  }

  closeStdin(): void {
    this.stdin?.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stdin?.end();
    // read on and dropped: the process goes on without blocking on a full pipe
    this.out.drainTo(() => undefined);
    this.err.drainTo(() => undefined);
    this.emit('close');
  }
}

/** Wakes a waiter each time the watched folder's `name` changes; a change with no waiter is kept. */
class FileSignal {
  private pending = false;
  private waiter?: () => void;
  /** none where inotify refused a watch (its limits): the reader then looks every few ms */
  private readonly watcher?: FSWatcher;

  constructor(dir: string, name: string) {
    try {
      this.watcher = watch(dir, (_event, changed) => {
        if (changed !== name) return;
        if (this.waiter) this.waiter();
        else this.pending = true;
      });
      this.watcher.on('error', () => undefined);
    } catch {
      this.watcher = undefined;
    }
  }

  next(): Promise<void> {
    if (!this.watcher) return new Promise((resolve) => setTimeout(resolve, 2));
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => (this.waiter = () => ((this.waiter = undefined), resolve())));
  }

  close(): void {
    this.watcher?.close();
  }
}

/**
 * Runs an exec without conmon: `crun exec` in the foreground, as the daemon's child, with
 * pipes for stdio; crun exits with the process's code (128+N for a signal). Used for an
 * attached exec without a terminal (the common `docker exec c cmd`, and the probes of
 * compose and testcontainers): conmon's set-up and its two start-pipe round trips cost more
 * than the exec itself. A terminal or a detached exec keeps conmon, which holds the pty and
 * outlives the daemon.
 *
 * crun writes its pid file just before it executes the command, and not at all when it
 * fails before that (unknown command, bad user): until the pid is there, stderr may carry
 * crun's own error, so it is held back, and becomes the error if crun then fails.
 */
export async function directExec(o: DirectExecOptions): Promise<ExecHandle> {
  const pidFile = path.join(o.bundle, 'pid');
  const logFile = path.join(o.bundle, 'runtime.log');
  const ran = span('exec runtime exec', o.execId);
  const pidChanged = new FileSignal(o.bundle, 'pid');
  const args = ['--root', o.runtimeRoot, '--log', `file:${logFile}`, '--log-format', 'json', 'exec', '--process', o.processSpecPath, '--pid-file', pidFile, o.containerId];
  const child = spawn(o.runtimePath, args, { stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: o.runtimeEnv ?? process.env, cwd: o.bundle });
  const out = new OutputPipe(child.stdout!);
  const err = new OutputPipe(child.stderr!);
  let spawnError: Error | undefined;
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 9) : 9)));
    child.once('error', (e) => {
      spawnError = e;
      resolve(127);
    });
  });
  let crunExited = false;
  void exited.then(() => (crunExited = true));
  try {
    // The pid file is made, then written: a reader can see it empty, and a quick process may
    // have run and ended, and crun with it, by the next look. So the file is read until it
    // holds the pid, and once more after crun has exited, when it is as crun left it.
    let pid = 0;
    for (;;) {
      const crunWasGone = crunExited;
      pid = await readPid(pidFile);
      if (pid > 0 || crunWasGone) break;
      await Promise.race([pidChanged.next(), exited]);
    }
    if (pid === 0) {
      const message = (await runtimeError(logFile)) ?? (err.takeHeld().toString().trim() || spawnError?.message);
      throw new BerthError('INVALID_PARAMETER', `OCI runtime exec failed: ${inRuncWords(message || 'the exec process did not start', o.argv0, true)}: unknown`);
    }
    ran();
    const stdio = new PipeStdio(exited, child.stdin, out, err);
    return { pid, socket: stdio, exited };
  } finally {
    pidChanged.close();
  }
}

async function readPid(file: string): Promise<number> {
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 0;
}

/** The message of the last error crun logged (JSON lines: {"msg", "level", "time"}). */
async function runtimeError(logFile: string): Promise<string | undefined> {
  const text = await fsp.readFile(logFile, 'utf8').catch(() => '');
  let message: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { msg?: unknown; level?: unknown };
      if (entry.level === 'error' && typeof entry.msg === 'string') message = entry.msg;
    } catch {
      // not a JSON line
    }
  }
  return message;
}
