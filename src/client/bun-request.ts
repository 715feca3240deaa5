/**
 * One request whose whole answer is wanted at once, over Bun's own sockets, for the compiled
 * CLI. Why: node:net's sockets are node streams, and loading Node's stream machinery costs a
 * compiled `berth ps` about as much as all the rest of its work. Everything else (streams,
 * hijacked connections, TLS, ssh) goes through node:net and http1.ts.
 */
import { ChunkedDecoder, parseHead } from './http1-parse';

/** The part of Bun's socket API used here (Bun.connect). */
interface BunSocket {
  write(data: string | Uint8Array): number;
  end(): void;
}
interface BunSocketHandlers {
  open?(s: BunSocket): void;
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
    let raw = Buffer.alloc(0);
    let head: { status: number; headers: Record<string, string> } | undefined;
    let bodyStart = 0;
    let decoder: ChunkedDecoder | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    const wanted = () => (head && !decoder && head.headers['content-length'] !== undefined ? Number(head.headers['content-length']) : undefined);
    const noBody = () => method === 'HEAD' || (head !== undefined && (head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)));
    const finish = (s?: BunSocket) => {
      s?.end();
      settle(() => resolve({ status: head!.status, headers: head!.headers, body: Buffer.concat(chunks) }));
    };
    const takeBody = (data: Buffer, s: BunSocket) => {
      if (decoder) {
        for (const part of decoder.feed(data)) chunks.push(part);
        if (decoder.done) finish(s);
        return;
      }
      chunks.push(data);
      received += data.length;
      const n = wanted();
      if (n !== undefined && received >= n) finish(s);
    };
    const handlers: BunSocketHandlers = {
      open(s) {
        const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries({ ...headers, Connection: 'close' }).map(([k, v]) => `${k}: ${v}`)];
        s.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (body !== undefined && body.length > 0) s.write(typeof body === 'string' ? Buffer.from(body) : body);
      },
      data(s, chunk) {
        try {
          const data = Buffer.from(chunk);
          if (head) return takeBody(data, s);
          raw = raw.length ? Buffer.concat([raw, data]) : data;
          const end = raw.indexOf('\r\n\r\n');
          if (end < 0) return;
          head = parseHead(raw.subarray(0, end).toString('latin1'));
          bodyStart = end + 4;
          if (noBody()) return finish(s);
          if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) decoder = new ChunkedDecoder();
          if (wanted() === 0) return finish(s);
          takeBody(raw.subarray(bodyStart), s);
        } catch (e) {
          s.end();
          settle(() => reject(e));
        }
      },
      close() {
        if (head) finish();
        else settle(() => reject(Object.assign(new Error('the daemon closed the connection before it answered'), { code: 'ECONNRESET' })));
      },
      error(_s, e) {
        settle(() => reject(e));
      },
      connectError(_s, e) {
        settle(() => reject(e));
      },
    };
    const target = ep.kind === 'unix' ? { unix: ep.socketPath } : { hostname: ep.host, port: ep.port };
    bun.connect({ ...target, socket: handlers }).catch((e: Error) => settle(() => reject(e)));
  });
}
