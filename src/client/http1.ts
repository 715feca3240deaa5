/**
 * A small HTTP/1.1 client on one socket, for the CLI's talk with the daemon. Why not node:http:
 * loading and setting up node:http's client costs a CLI that starts in ~10 ms a few ms more per
 * command (under Bun as under Node), and the Engine API needs little of it: one request per
 * connection, bodies framed by Content-Length, chunked encoding or the end of the connection.
 *
 *   const res = await sendRequest(net.connect({ path }), { method: 'GET', path: '/_ping', headers: { Host: 'berth' } });
 *   res.status; res.headers['api-version']; res.body.pipe(process.stdout);
 *
 * The request body may be a Buffer or string (sent with Content-Length unless a header says
 * otherwise) or a Readable (sent chunked). The answer resolves once its head has arrived; its
 * body is a Readable that ends where the framing says, whether or not the server then closes
 * the connection, and the socket is closed then. Destroying the body closes the connection.
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { ChunkedDecoder, MAX_HEAD, parseHead } from './http1-parse';

export { ChunkedDecoder, parseHead } from './http1-parse';

export interface Http1Request {
  method: string;
  /** path and query */
  path: string;
  headers: Record<string, string>;
  /** a Buffer, a string, or any readable stream (node's or streamx's, as tar-stream makes) */
  body?: Buffer | string | NodeJS.ReadableStream;
  signal?: AbortSignal;
  /** attach and exec start: a 101 (or 2xx) answer hands back the raw connection as `upgraded` */
  upgrade?: boolean;
}

function isStream(v: unknown): v is NodeJS.ReadableStream {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && typeof (v as Readable).pipe === 'function' && typeof (v as Readable).on === 'function';
}

export interface Http1Response {
  status: number;
  statusMessage: string;
  /** lower-case names; repeated headers joined with ", " */
  headers: Record<string, string>;
  /** empty when `upgraded` */
  body: Readable;
  /** with `upgrade`, after a 101 or 2xx head: the connection, paused at the stream's first byte */
  upgraded?: Socket;
}

/** The error an aborted request fails with, as node:http's. */
function abortError(): Error {
  const e = new Error('The operation was aborted') as NodeJS.ErrnoException;
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

/** Sends `req` on `socket` (connected or connecting); resolves with the answer once its head is in. */
export function sendRequest(socket: Socket, req: Http1Request): Promise<Http1Response> {
  return new Promise((resolve, reject) => {
    let settled = false;
    // once the answer is out, errors go to its body
    let bodyFailed: ((e: Error) => void) | undefined;
    const fail = (e: Error) => {
      socket.destroy();
      if (!settled) {
        settled = true;
        reject(e);
      } else bodyFailed?.(e);
    };
    if (req.signal?.aborted) return fail(abortError());
    const onAbort = () => fail(abortError());
    req.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('close', () => req.signal?.removeEventListener('abort', onAbort));
    socket.on('error', (e) => fail(e));

    writeRequest(socket, req, fail);

    let head: Buffer = Buffer.alloc(0);
    const onHeadData = (chunk: Buffer) => {
      const from = Math.max(0, head.length - 3);
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n', from);
      if (end < 0) {
        if (head.length > MAX_HEAD) fail(new Error(`the daemon's answer has a head over ${MAX_HEAD} bytes`));
        return;
      }
      socket.removeListener('data', onHeadData);
      socket.removeListener('end', onEarlyEnd);
      let parsed: ReturnType<typeof parseHead>;
      try {
        parsed = parseHead(head.subarray(0, end).toString('latin1'));
      } catch (e) {
        return fail(e as Error);
      }
      const rest = head.subarray(end + 4);
      if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
        // an interim answer (100 Continue): the real one follows
        head = Buffer.alloc(0);
        socket.on('data', onHeadData);
        socket.on('end', onEarlyEnd);
        if (rest.length) onHeadData(rest);
        return;
      }
      settled = true;
      if (req.upgrade && (parsed.status === 101 || (parsed.status >= 200 && parsed.status < 300))) {
        // the stream is the caller's from here: what came after the head is put back for it
        socket.pause();
        if (rest.length) socket.unshift(rest);
        resolve({ ...parsed, body: Readable.from([]), upgraded: socket });
        return;
      }
      const answer = readBody(socket, req.method, parsed.status, parsed.headers, rest);
      bodyFailed = answer.fail;
      resolve({ ...parsed, body: answer.body });
    };
    const onEarlyEnd = () => fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    socket.on('data', onHeadData);
    socket.on('end', onEarlyEnd);
  });
}

function writeRequest(socket: Socket, req: Http1Request, fail: (e: Error) => void): void {
  const headers = { ...req.headers };
  const has = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  const streamed = isStream(req.body);
  if (streamed && !has('content-length') && !has('transfer-encoding')) headers['Transfer-Encoding'] = 'chunked';
  if (!streamed && req.body !== undefined && !has('content-length')) headers['Content-Length'] = String(Buffer.byteLength(req.body as Buffer | string));
  if (!has('connection')) headers.Connection = 'close';
  const lines = [`${req.method} ${req.path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const headText = lines.join('\r\n') + '\r\n\r\n';
  if (!streamed) {
    socket.write(req.body === undefined ? headText : Buffer.concat([Buffer.from(headText, 'latin1'), Buffer.from(req.body as Buffer | string)]));
    return;
  }
  const source = req.body as Readable;
  const chunked = /chunked/i.test(headers['Transfer-Encoding'] ?? '');
  socket.write(headText);
  source.on('data', (c: Buffer | string) => {
    const data = typeof c === 'string' ? Buffer.from(c) : c;
    if (data.length === 0) return;
    const ok = chunked ? socket.write(Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')])) : socket.write(data);
    if (!ok) {
      source.pause();
      socket.once('drain', () => source.resume());
    }
  });
  source.on('end', () => {
    if (chunked) socket.write('0\r\n\r\n');
  });
  source.on('error', (e) => fail(e));
  socket.once('close', () => {
    if (!source.readableEnded) source.destroy();
  });
}

/** The body of an answer as a Readable, framed by its headers; closes the socket at its end. */
function readBody(socket: Socket, method: string, status: number, headers: Record<string, string>, first: Buffer): { body: Readable; fail: (e: Error) => void } {
  const body = new Readable({
    // 1 MiB ahead: a body relayed to another daemon does not stop the socket every 16 KiB
    highWaterMark: 1 << 20,
    read: () => void socket.resume(),
    destroy: (err, cb) => {
      socket.destroy();
      cb(err);
    },
  });
  const push = (data: Buffer) => {
    if (data.length && !body.push(data)) socket.pause();
  };
  // set once the framing says the body is whole; the socket may still report its end after that
  let complete = false;
  const finish = () => {
    complete = true;
    body.push(null);
    socket.removeListener('data', onData);
    socket.destroy();
  };
  const fail = (e: Error) => {
    socket.destroy();
    if (complete || body.destroyed) return;
    // an error no one listens for would crash the CLI; the consumer then sees the body close
    if (body.listenerCount('error') > 0) body.destroy(e);
    else body.destroy();
  };
  const noBody = method === 'HEAD' || status === 101 || status === 204 || status === 304;
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
  const decoder = /chunked/i.test(headers['transfer-encoding'] ?? '') ? new ChunkedDecoder() : undefined;
  let left = length ?? Infinity;
  const onData = (chunk: Buffer) => {
    if (decoder) {
      let parts: Buffer[];
      try {
        parts = decoder.feed(chunk);
      } catch (e) {
        return fail(e as Error);
      }
      for (const p of parts) push(p);
      if (decoder.done) finish();
      return;
    }
    const take = chunk.subarray(0, Math.min(chunk.length, left));
    left -= take.length;
    push(take);
    if (left === 0) finish();
  };
  if (noBody || length === 0) {
    complete = true;
    body.push(null);
    socket.destroy();
    return { body, fail };
  }
  socket.on('data', onData);
  socket.on('end', () => {
    if (complete || body.destroyed) return;
    // without framing the body is what came until the end; with it, an early end is an error
    if (decoder || length !== undefined) fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    else finish();
  });
  if (first.length) onData(first);
  return { body, fail };
}
