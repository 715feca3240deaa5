/**
 * The compiled CLI's buffered request over Bun's socket API (src/client/bun-request.ts),
 * driven here through a stand-in for Bun.connect that plays the daemon's side: the framing of
 * the answer, answers cut short, partial writes, and the limits a hostile daemon meets.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { bufferedRequest, type PlainEndpoint } from '../../src/client/bun-request';

type Handlers = Parameters<Parameters<typeof bufferedRequest>[0]['connect']>[0]['socket'];

interface Script {
  /** bytes the socket takes per write (the rest waits for a drain); all when undefined */
  takes?: number;
  /** called once the request is whole, with what to send back */
  answer: (request: string, send: (data: string | Buffer) => void, close: () => void) => void;
  connectError?: Error & { code?: string };
}

/** A stand-in for Bun.connect whose peer follows `script`. */
function fakeBun(script: Script) {
  return {
    connect(opts: { socket: Handlers }) {
      const h = opts.socket;
      if (script.connectError) {
        h.connectError?.({} as never, script.connectError);
        return Promise.reject(script.connectError);
      }
      let got = Buffer.alloc(0);
      let closed = false;
      let answered = false;
      const close = () => {
        if (closed) return;
        closed = true;
        h.close?.(socket);
      };
      const socket = {
        write(data: string | Uint8Array) {
          const buf = Buffer.from(data);
          const n = Math.min(buf.length, script.takes ?? buf.length);
          got = Buffer.concat([got, buf.subarray(0, n)]);
          const text = got.toString('latin1');
          const headEnd = text.indexOf('\r\n\r\n');
          const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
          if (!answered && headEnd >= 0 && got.length >= headEnd + 4 + length) {
            answered = true;
            setImmediate(() => script.answer(text, (d) => h.data(socket, Buffer.from(d)), close));
          } else if (n < buf.length) setImmediate(() => h.drain?.(socket));
          return n;
        },
        end() {
          setImmediate(close);
        },
      };
      setImmediate(() => h.open?.(socket));
      return Promise.resolve(socket);
    },
  };
}

const ep: PlainEndpoint = { kind: 'unix', socketPath: '/nowhere.sock' };
const get = (script: Script, method = 'GET', body?: string) =>
  bufferedRequest(fakeBun(script), ep, method, '/v1.50/x', { Host: 'berth', connection: 'keep-alive', ...(body !== undefined ? { 'Content-Length': String(body.length) } : {}) }, body);

test('Content-Length frames the body: more bytes after it are not part of it', async () => {
  let request = '';
  const r = await get({
    answer: (req, send) => {
      request = req;
      send('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}EXTRA');
    },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.body.toString(), '{"a":1}');
  assert.match(request, /^GET \/v1\.50\/x HTTP\/1\.1\r\n/);
  assert.equal((request.match(/connection:/gi) ?? []).length, 1, 'one Connection header, ours');
  assert.match(request, /Connection: close/);
});

test('chunked, and up to the close, across many small packets; an interim 100 is skipped', async () => {
  const chunked = await get({
    answer: (_req, send) => {
      const wire = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
      for (const c of wire) send(c);
    },
  });
  assert.equal(chunked.status, 200);
  assert.equal(chunked.body.toString(), 'hello world');
  const untilClose = await get({
    answer: (_req, send, close) => {
      send('HTTP/1.1 200 OK\r\n\r\npart one, ');
      send('part two');
      close();
    },
  });
  assert.equal(untilClose.body.toString(), 'part one, part two');
});

test('HEAD and 204 have no body', async () => {
  const head = await get({ answer: (_req, send) => send('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n') }, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  const none = await get({ answer: (_req, send) => send('HTTP/1.1 204 No Content\r\n\r\n') }, 'POST', '');
  assert.equal(none.status, 204);
});

test('an answer cut short is an aborted connection, not a short body', async () => {
  await assert.rejects(
    get({
      answer: (_req, send, close) => {
        send('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this');
        close();
      },
    }),
    (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET',
  );
  await assert.rejects(
    get({
      answer: (_req, send, close) => {
        send('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel');
        close();
      },
    }),
    (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET',
  );
  await assert.rejects(
    get({ answer: (_req, _send, close) => close() }),
    (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET',
  );
});

test('a body bigger than the socket takes at once is sent whole, on drain', async () => {
  const body = 'x'.repeat(300_000);
  let received = '';
  const r = await get(
    {
      takes: 65_536,
      answer: (req, send) => {
        received = req.slice(req.indexOf('\r\n\r\n') + 4);
        send('HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}');
      },
    },
    'POST',
    body,
  );
  assert.equal(r.status, 201);
  assert.equal(received.length, body.length);
});

test('a hostile daemon: a head without end, a chunk-size line without end, a connect error', async () => {
  await assert.rejects(
    get({ answer: (_req, send) => send(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`) }),
    /head over/,
  );
  await assert.rejects(
    get({ answer: (_req, send) => send(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${'f'.repeat(10_000)}`) }),
    /chunked/,
  );
  const refused = Object.assign(new Error('Failed to connect'), { code: 'ECONNREFUSED' });
  await assert.rejects(get({ connectError: refused, answer: () => undefined }), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
});
