import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { BerthError } from '../common/errors';
import { inRuncWords } from './runtime-errors';
import { AttachSocket } from './attach-socket';
import { span, timed } from '../common/timing';

export interface ConmonExecOptions {
  containerId: string;
  execId: string;
  name: string;
  /** the exec's own folder: process.json, pidfile, ctl FIFO, attach socket */
  bundle: string;
  processSpecPath: string;
  socketDir: string;
  runtimePath: string;
  /** the environment the runtime needs (conmon passes its own on); process.env if none */
  runtimeEnv?: NodeJS.ProcessEnv;
  runtimeRoot: string;
  terminal: boolean;
  stdin: boolean;
  /** connect to the attach socket before the process starts (false for `exec -d`) */
  attach: boolean;
  /** the process's first argument, for the runtime's error messages (runtime-errors.ts) */
  argv0?: string;
}

/** What the exec route uses of an exec's stdio: conmon's attach socket, or pipes (direct-exec.ts). */
export interface ExecStdio {
  on(event: 'stdout' | 'stderr', listener: (data: Buffer) => void): unknown;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  /** false: stop sending until 'drain' */
  writeStdin(data: Buffer): boolean;
  closeStdin(): void;
  /** stops the output; the process goes on */
  close(): void;
}

export interface ExecHandle {
  pid: number;
  /** stdio of the process; undefined when not attached */
  socket?: ExecStdio;
  /** the exit code, when the process has ended */
  exited: Promise<number>;
}

/** Reads conmon's `{"data": N, "message": "..."}` lines from one of its pipes, one at a time. */
class PipeReader {
  private buf = '';
  private waiting: ((line: string | undefined) => void)[] = [];
  private lines: string[] = [];
  private ended = false;

  constructor(stream: Readable) {
    stream.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.flush();
    });
    const end = () => {
      this.ended = true;
      this.flush();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  private flush(): void {
    while (this.waiting.length && (this.lines.length || this.ended)) this.waiting.shift()!(this.lines.shift());
  }

  async next(): Promise<{ data: number; message?: string } | undefined> {
    const line = await new Promise<string | undefined>((resolve) => {
      this.waiting.push(resolve);
      this.flush();
    });
    if (line === undefined) return undefined;
    try {
      return JSON.parse(line) as { data: number; message?: string };
    } catch {
      return { data: -1, message: line };
    }
  }
}

/**
 * Runs a process in a running container through conmon's exec mode. conmon waits on the
 * start pipe before it runs anything; with --exec-attach it then makes the attach socket,
 * says so on the attach pipe, and waits on the start pipe again, so the caller connects
 * before the process can write. The sync pipe then carries the pid, and later the exit code.
 */
export async function conmonExec(o: ConmonExecOptions): Promise<ExecHandle> {
  const args = [
    '--api-version', '1',
    '-c', o.containerId,
    '-u', o.execId,
    '-n', o.name,
    '-r', o.runtimePath,
    '-b', o.bundle,
    '-p', path.join(o.bundle, 'pid'),
    '-l', `k8s-file:${path.join(o.bundle, 'exec.log')}`,
    '--exit-dir', path.join(o.bundle, 'exits'),
    '--socket-dir-path', o.socketDir,
    '--runtime-arg', `--root=${o.runtimeRoot}`,
    '--log-level', 'error',
    '-e', '--exec-attach', '--exec-process-spec', o.processSpecPath,
  ];
  if (o.terminal) args.push('-t');
  if (o.stdin) args.push('-i');
  const ready = span('exec conmon ready', o.execId);
  const child = spawn(process.env.BERTH_CONMON ?? 'conmon', args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    env: { ...(o.runtimeEnv ?? process.env), _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' },
    cwd: o.bundle,
    detached: true,
  });
  child.unref();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const sync = new PipeReader(child.stdio[3] as Readable);
  const stdio = child.stdio as unknown as (Readable | Writable | null)[];
  const attachPipe = new PipeReader(stdio[5] as Readable);
  const start = child.stdio[4] as Writable;
  const release = () => {
    for (const i of [2, 3, 4, 5]) stdio[i]?.destroy();
  };
  try {
    start.write(Buffer.from([0]));
    const set = await attachPipe.next();
    ready();
    if (!set || set.data < 0) throw execError(set?.message ?? (stderr || 'conmon did not set up the exec session'), o.argv0);
    const socket = o.attach ? await timed('exec attach connect', o.execId, () => AttachSocket.connect(path.join(o.bundle, 'attach'))) : undefined;
    const runtimeExec = span('exec runtime exec', o.execId);
    start.write(Buffer.from([0]));
    const started = await sync.next();
    runtimeExec();
    if (!started || started.data <= 0) {
      socket?.close();
      throw execError(started?.message ?? (stderr || 'the exec process did not start'), o.argv0);
    }
    const exited = sync.next().then((m) => {
      release();
      return m && m.data >= 0 ? m.data : 137;
    });
    return { pid: started.data, socket, exited };
  } catch (e) {
    release();
    throw e;
  }
}

function execError(message: string, argv0: string | undefined): BerthError {
  const text = inRuncWords(message.trim().replace(/^.*?msg="(.*)"$/s, '$1').replace(/\\"/g, '"'), argv0, true);
  return new BerthError('INVALID_PARAMETER', `OCI runtime exec failed: ${text}: unknown`);
}
