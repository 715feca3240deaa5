/**
 * A terminal in the browser: a WebSocket joined to an exec's hijacked stream, the path
 * `berth exec -it` takes. The page creates the exec through the Engine API (POST
 * /containers/{id}/exec with Tty), then opens the socket; binary messages are the terminal's
 * bytes both ways, a text message {"resize":[cols,rows]} resizes it.
 */
import type { WebSocket } from 'ws';
import { EngineClient } from '../client/engine';

/** Resizes of an exec that is not running yet are tried this many times, 10 ms more apart each time (about 5 s in all). */
const RESIZE_TRIES = 30;

/** Keys typed before the exec has started are held, up to this much. */
const MAX_QUEUED = 1024 * 1024;

export async function joinExecToWebSocket(ws: WebSocket, engineSocket: string, execId: string, log: (m: string) => void): Promise<void> {
  const client = new EngineClient(`unix://${engineSocket}`);
  const queued: Buffer[] = [];
  let queuedBytes = 0;
  let stream: import('node:net').Socket | undefined;
  // the latest size the page asked for and the daemon has not applied yet: one sent before
  // the exec runs (the page sends its size as soon as the socket opens) is applied once it does
  let wanted: [cols: number, rows: number] | undefined;
  let started = false;
  let applying = false;
  const applySize = async () => {
    if (applying) return;
    applying = true;
    try {
      // the daemon upgrades the stream before the process runs: a resize may come too early,
      // and is tried again for a while, as docker's CLI does
      for (let failures = 0; wanted && failures < RESIZE_TRIES && ws.readyState === ws.OPEN; ) {
        const asked = wanted;
        const ok = await client.request('POST', `/exec/${encodeURIComponent(execId)}/resize`, { query: { h: String(asked[1]), w: String(asked[0]) } }).then(
          async (r) => (await r.buffer(), r.status < 300),
          () => false,
        );
        if (ok) {
          if (wanted === asked) wanted = undefined;
          failures = 0;
        } else await new Promise((r) => setTimeout(r, 10 * ++failures));
      }
    } finally {
      applying = false;
    }
  };
  const resize = (cols: number, rows: number) => {
    if (!(cols > 0 && rows > 0 && cols < 10_000 && rows < 10_000)) return;
    wanted = [Math.floor(cols), Math.floor(rows)];
    if (started) void applySize();
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      try {
        const msg = JSON.parse(data.toString('utf8')) as { resize?: [number, number] };
        if (Array.isArray(msg.resize)) resize(Number(msg.resize[0]), Number(msg.resize[1]));
      } catch {
        /* not a control message: ignored */
      }
      return;
    }
    if (stream) stream.write(data);
    else if ((queuedBytes += data.length) > MAX_QUEUED) ws.close(1009, 'too much input before the terminal started');
    else queued.push(data);
  });
  ws.on('close', () => stream?.destroy());
  // a frame the ws library refuses (too large, bad UTF-8) ends the terminal, not the daemon
  ws.on('error', () => stream?.destroy());
  try {
    // the size the page asks for is applied once the exec runs (applySize): it has had no
    // chance to ask yet, as nothing was awaited since the handlers above were attached
    const conn = await client.hijack('POST', `/exec/${encodeURIComponent(execId)}/start`, { body: { Detach: false, Tty: true } });
    stream = conn.socket;
  } catch (e) {
    log(`dashboard: terminal for exec ${execId}: ${(e as Error).message}`);
    ws.close(1011, (e as Error).message.slice(0, 100));
    return;
  }
  if (ws.readyState !== ws.OPEN) {
    stream.destroy();
    return;
  }
  for (const b of queued.splice(0)) stream.write(b);
  started = true;
  void applySize();
  // a browser that reads slowly holds the process back (as a terminal would), not daemon memory
  stream.on('data', (d: Buffer) => {
    ws.send(d, { binary: true });
    if (ws.bufferedAmount > 1 << 20) {
      stream!.pause();
      const wait = setInterval(() => {
        if (ws.bufferedAmount < 1 << 18 || ws.readyState !== ws.OPEN) {
          clearInterval(wait);
          stream?.resume();
        }
      }, 20);
    }
  });
  stream.resume();
  // the daemon ends its side when the exec's process exits (the socket is half-open)
  const ended = () => {
    if (ws.readyState === ws.OPEN) ws.close(1000, 'exited');
    stream?.destroy();
  };
  stream.on('end', ended);
  stream.on('close', ended);
  stream.on('error', ended);
}
