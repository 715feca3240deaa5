import type { Router } from '../router';
import { readJSONBody, queryInt, sendJSON } from '../respond';
import { startRawStream } from '../server';
import { requireAttachSockets } from '../../runtime/attach-socket';
import { frame, writeOrDrop } from '../stream';
import type { ExecCreateBody, ExecManager } from '../../container/exec';
import { DEFAULT_DETACH_KEYS, KeySequenceDetector, parseDetachKeys } from '../../runtime/detach-keys';

export function registerExecRoutes(router: Router, execs: ExecManager): void {
  router.add('POST', '/containers/:id/exec', async ({ req, res, params }) => {
    const body = await readJSONBody<ExecCreateBody>(req);
    if (body.DetachKeys) parseDetachKeys(body.DetachKeys);
    sendJSON(res, 201, { Id: execs.create(params.id, body) });
  });

  router.add('GET', '/exec/:id/json', ({ res, params }) => {
    sendJSON(res, 200, execs.inspect(params.id));
  });

  router.add('POST', '/exec/:id/resize', async ({ res, params, query }) => {
    await execs.resize(params.id, queryInt(query, 'h') ?? 0, queryInt(query, 'w') ?? 0);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end();
  });

  router.add('POST', '/exec/:id/start', async (ctx) => {
    // the API's door read the body off the connection (readUpgradeBody) and decoded it
    const body = await readJSONBody<{ Detach?: boolean; Tty?: boolean; ConsoleSize?: [number, number] | null }>(ctx.req);
    const exec = execs.get(ctx.params.id);
    // the terminal is the exec's (from its create); the start's Tty only chooses the framing,
    // so a TTY exec started without it sends its terminal's output in multiplexed frames
    const tty = body.Tty ?? exec.config.Tty === true;
    const detachKeys = parseDetachKeys(exec.config.DetachKeys || DEFAULT_DETACH_KEYS);
    if (body.Detach) {
      await execs.start(ctx.params.id, { detach: true, consoleSize: body.ConsoleSize });
      ctx.res.writeHead(200, { 'Content-Type': 'application/json' });
      ctx.res.end();
      return;
    }
    requireAttachSockets();
    // As dockerd does: the connection is upgraded first, and a process that cannot be
    // started is reported in the stream; its exit code (126, 127) is in the inspect.
    const out = startRawStream(ctx, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    let started;
    try {
      started = await execs.start(ctx.params.id, { detach: false, consoleSize: body.ConsoleSize });
    } catch (e) {
      const msg = Buffer.from(`${(e as Error).message}\r\n`);
      out.end(tty ? msg : frame(1, msg));
      return;
    }
    const { socket, exited } = started;
    // conmon's socket cannot be paused: a client that falls too far behind is let go
    const write = (s: 1 | 2, data: Buffer) => {
      const wanted = s === 1 ? exec.config.AttachStdout !== false : exec.config.AttachStderr !== false;
      if (wanted && !writeOrDrop(out, tty ? data : frame(s, data))) socket?.close();
    };
    socket?.on('stdout', (d: Buffer) => write(1, d));
    socket?.on('stderr', (d: Buffer) => write(2, d));
    const input = ctx.upgradeSocket;
    let detach = () => undefined as void;
    const detached = new Promise<void>((resolve) => (detach = resolve));
    if (input && exec.config.AttachStdin) {
      // as dockerd: the detach keys are looked for in a terminal's input only; other input
      // (a file piped into `exec -i`) passes as it is
      const filter = exec.config.Tty === true ? new KeySequenceDetector(detachKeys) : undefined;
      socket?.on('drain', () => input.resume());
      input.on('data', (chunk: Buffer) => {
        const { pass: forward, escaped: detached } = filter ? filter.feed(chunk) : { pass: chunk, escaped: false };
        // a process that does not read its stdin holds the client back
        if (socket && !socket.writeStdin(forward)) input.pause();
        if (detached) detach();
      });
      input.on('end', () => socket?.closeStdin());
      input.resume(); // reading the request body paused it
    } else if (input) {
      input.on('data', () => undefined);
      input.resume();
    }
    const clientGone = new Promise<void>((resolve) => (input ?? ctx.res.socket)?.once('close', () => resolve()));
    const socketClosed = new Promise<void>((resolve) => socket?.once('close', () => resolve()));
    // the output is complete once conmon closes the socket after the process ended
    // detaching leaves the process running and ends the client's stream (as dockerd does)
    await Promise.race([Promise.all([exited, socketClosed]), clientGone, detached]);
    socket?.close();
    out.end();
  });
}
