/**
 * One request whose whole answer is wanted at once, over Bun's own sockets, for the compiled
 * CLI. Why: node:net's sockets are node streams, and loading Node's stream machinery costs a
 * compiled `berth ps` about as much as all the rest of its work. Everything else (streams,
 * hijacked connections, TLS, ssh) goes through node:net and http1.ts.
 */
import { ChunkedDecoder, MAX_HEAD, parseHead } from './http1-parse';

/** The part of Bun's socket API used here (Bun.connect). */
interface BunSocket {
  write(data: string | Uint8Array): number;
  end(): void;
}
interface BunSocketHandlers {
  open?(s: BunSocket): void;
  drain?(s: BunSocket): void;
  data(s: BunSocket, chunk: Uint8Array): void;
  close?(s: BunSocket): void;
  end?(s: BunSocket): void;
  error?(s: BunSocket, e: Error): void;
  connectError?(s: BunSocket, e: Error): void;
}
interface BunConnect {
  connect(opts: ({ unix: string } | { hostname: string; port: number }) & { socket: BunSocketHandlers }): Promise<BunSocket>;
}

export interface BufferedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type PlainEndpoint = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

/** Bun's socket API when running on Bun, else undefined (the caller then uses node:net). */
export function bunSockets(): BunConnect | undefined {
  return (globalThis as { Bun?: BunConnect }).Bun;
}

/**
 * Sends one request (Connection: close) and resolves with the whole answer, framed by its
 * Content-Length, chunked encoding, or the end of the connection. Connection errors reject
 * with Node's codes (ENOENT, ECONNREFUSED), as node:net's do.
 */
export function bufferedRequest(bun: BunConnect, ep: PlainEndpoint, method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<BufferedAnswer> {
  return new Promise((resolve, reject) => {
    const fields = Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'connection');
    const head = Buffer.from(`${[`${method} ${path} HTTP/1.1`, ...fields.map(([k, v]) => `${k}: ${v}`), 'Connection: close'].join('\r\n')}\r\n\r\n`, 'latin1');
    // Bun's write takes what the socket buffer holds and says how much: the rest goes on drain
    let unsent = body !== undefined && body.length > 0 ? Buffer.concat([head, Buffer.from(body)]) : head;
    const flush = (s: BunSocket) => {
      if (unsent.length === 0) return;
      const n = s.write(unsent);
      if (n > 0) unsent = unsent.subarray(n);
    };
    let raw = Buffer.alloc(0);
    let answer: { status: number; headers: Record<string, string> } | undefined;
    let decoder: ChunkedDecoder | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    const fail = (e: Error) => settle(() => reject(e));
    /** the body's length by Content-Length; undefined when chunked or up to the close */
    const wanted = () => (answer && !decoder && answer.headers['content-length'] !== undefined ? Number(answer.headers['content-length']) : undefined);
    const complete = () => (decoder ? decoder.done : wanted() === undefined || received >= wanted()!);
    const finish = (s?: BunSocket) => {
      s?.end();
      settle(() => resolve({ status: answer!.status, headers: answer!.headers, body: Buffer.concat(chunks) }));
    };
    const takeBody = (data: Buffer, s: BunSocket) => {
      if (decoder) {
        for (const part of decoder.feed(data)) chunks.push(part);
      } else {
        const n = wanted();
        const part = n === undefined ? data : data.subarray(0, Math.max(0, n - received));
        chunks.push(part);
        received += part.length;
      }
      if (complete() && (decoder || wanted() !== undefined)) finish(s);
    };
    const handlers: BunSocketHandlers = {
      open: flush,
      drain: flush,
      data(s, chunk) {
        if (settled) return;
        try {
          const data = Buffer.from(chunk);
          if (answer) return takeBody(data, s);
          const from = Math.max(0, raw.length - 3);
          raw = raw.length ? Buffer.concat([raw, data]) : data;
          const end = raw.indexOf('\r\n\r\n', from);
          if (end < 0) {
            if (raw.length > MAX_HEAD) throw new Error(`the daemon's answer has a head over ${MAX_HEAD} bytes`);
            return;
          }
          const parsed = parseHead(raw.subarray(0, end).toString('latin1'));
          const rest = raw.subarray(end + 4);
          // an interim answer (100 Continue, 103 Early Hints) comes before the real one
          if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
            raw = Buffer.alloc(0);
            if (rest.length) handlers.data(s, rest);
            return;
          }
          answer = parsed;
          const noBody = method === 'HEAD' || answer.status === 204 || answer.status === 304 || answer.status === 101;
          if (noBody || wanted() === 0) return finish(s);
          if (/chunked/i.test(answer.headers['transfer-encoding'] ?? '')) decoder = new ChunkedDecoder();
          takeBody(rest, s);
        } catch (e) {
          s.end();
          fail(e as Error);
        }
      },
      close() {
        if (answer && complete()) finish();
        // as node's http: an answer cut short is an aborted connection, not a short body
        else if (answer) fail(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        else fail(Object.assign(new Error('the daemon closed the connection before it answered'), { code: 'ECONNRESET' }));
      },
      error(_s, e) {
        fail(e);
      },
      connectError(_s, e) {
        fail(e);
      },
    };
    const target = ep.kind === 'unix' ? { unix: ep.socketPath } : { hostname: ep.host, port: ep.port };
    bun.connect({ ...target, socket: handlers }).catch((e: Error) => fail(e));
  });
}
