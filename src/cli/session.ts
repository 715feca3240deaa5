/**
 * Runs an attached container session the way docker's `run` and `start -a` do:
 * attach (hijacked connection) → wait (condition next-exit, or removed for
 * --rm) → start → pump streams until the output ends → the exit status from the
 * wait. Also: TTY raw mode and resizes, and forwarding of signals to the
 * container when there is no TTY (--sig-proxy).
 */
import type { EngineClient, EngineResponse } from '../client/engine';
import { EngineError, errorMessageFromBody } from '../client/engine';
import { pumpStreams, Sink } from './attach';
import { forwardSignals } from './signals';
import { enterRawMode, watchTerminalSize, TerminalOutput } from './terminal';
import type { CommandContext } from './command';

export interface SessionIO {
  stdin: NodeJS.ReadStream;
  stdout: Sink & TerminalOutput;
  stderr: Sink;
}

/**
 * A session's stdio from a command's context, each made only when the session uses it:
 * without a terminal the output is printed as text is (ctx.out: straight to the descriptor),
 * and stdin is opened only for -i.
 */
export function sessionIO(ctx: Pick<CommandContext, 'stdin' | 'stdout' | 'stderr' | 'out' | 'err'>, tty: boolean): SessionIO {
  return {
    get stdin() {
      return ctx.stdin;
    },
    stdout: tty ? ctx.stdout : { write: (b: Buffer | string) => ctx.out(b) },
    stderr: tty ? ctx.stderr : { write: (b: Buffer | string) => ctx.err(b) },
  };
}

export interface SessionOptions {
  id: string;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  /** Wait for removal instead of exit (AutoRemove containers). */
  autoRemove: boolean;
  detachKeys?: string;
  detachKeyBytes?: Buffer;
  sigProxy: boolean;
  /** Starts the container; a rejection aborts the session and is rethrown. */
  start: () => Promise<void>;
}

export type SessionResult = { kind: 'exited'; status: number } | { kind: 'detached' } | { kind: 'wait-error'; message: string };

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export async function runSession(client: EngineClient, io: SessionIO, o: SessionOptions): Promise<SessionResult> {
  const conn = await client.hijack('POST', `/containers/${o.id}/attach`, {
    query: { stream: true, stdin: o.attachStdin, stdout: o.attachStdout, stderr: o.attachStderr, detachKeys: o.detachKeys || undefined },
  });

  // The wait must be registered before the start, or a quick container could exit unseen.
  // dockerd answers the wait's headers at once; don't hang on a daemon that delays them.
  const waitAbort = new AbortController();
  const waitRes: Promise<EngineResponse> = client.request('POST', `/containers/${o.id}/wait`, {
    query: { condition: o.autoRemove ? 'removed' : 'next-exit' },
    signal: waitAbort.signal,
  });
  waitRes.catch(() => undefined);
  await Promise.race([waitRes, delay(250)]);

  const pump = pumpStreams(conn.socket, {
    tty: o.tty,
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: o.attachStdin ? io.stdin : undefined,
    detachKeys: o.detachKeyBytes,
  });
  const restore = o.tty && o.attachStdin ? enterRawMode(io.stdin) : () => undefined;
  // before the start, as docker's: the container's first output may come before the start's
  // answer, and a user (or script) that reacts to it with a signal must reach the container
  const stopForwarding = !o.tty && o.sigProxy ? forwardSignals(client, o.id) : () => undefined;

  try {
    await o.start();
  } catch (e) {
    pump.stop();
    restore();
    stopForwarding();
    // A container that never started is removed by the daemon (AutoRemove): let that finish first.
    if (o.autoRemove) await waitRes.then((r) => r.buffer()).catch(() => undefined);
    waitAbort.abort();
    throw e;
  }

  const cleanups: (() => void)[] = [restore, stopForwarding];
  if (o.tty) {
    // docker sends ConsoleSize with the create, and this resize once the process runs
    cleanups.push(
      watchTerminalSize(io.stdout, (h, w) => {
        client.request('POST', `/containers/${o.id}/resize`, { query: { h, w } }).then((r) => r.buffer(), () => undefined);
      }),
    );
  }

  try {
    const { detached } = await pump.done;
    if (detached) {
      waitAbort.abort();
      return { kind: 'detached' };
    }
    const res = await waitRes;
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) return { kind: 'wait-error', message: errorMessageFromBody(res.status, text) };
    const body = JSON.parse(text || '{}') as { StatusCode?: number; Error?: { Message?: string } | null };
    if (body.Error?.Message) return { kind: 'wait-error', message: body.Error.Message };
    return { kind: 'exited', status: body.StatusCode ?? 0 };
  } catch (e) {
    if (e instanceof EngineError) return { kind: 'wait-error', message: e.message };
    throw e;
  } finally {
    for (const c of cleanups) c();
  }
}
