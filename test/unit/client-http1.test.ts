import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ChunkedDecoder, parseHead, sendRequest } from '../../src/client/http1';
import { EngineClient, EngineError } from '../../src/client/engine';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-http1-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/**
 * A server on a unix socket that answers each connection with `answer(request bytes)` once the
 * request (head and any body up to `until`) is in; it writes the answer in pieces of `piece`
 * bytes, and closes the connection only when told to (keep-alive otherwise).
 */
async function server(o: { answer: (req: string) => Buffer | string; until?: (req: string) => boolean; piece?: number; close?: boolean }): Promise<{ socket: string; requests: string[]; stop: () => Promise<void> }> {
  const socket = path.join(dir, `s${++n}.sock`);
  const requests: string[] = [];
  const conns = new Set<net.Socket>();
  const srv = net.createServer({ allowHalfOpen: true }, (c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    let buf = '';
    let answered = false;
    c.on('data', async (d: Buffer) => {
      buf += d.toString('latin1');
      if (answered || !buf.includes('\r\n\r\n') || (o.until && !o.until(buf))) return;
      answered = true;
      requests.push(buf);
      const out = Buffer.from(o.answer(buf) as string);
      const step = o.piece ?? out.length;
      for (let i = 0; i < out.length; i += step) {
        c.write(out.subarray(i, i + step));
        await new Promise((r) => setImmediate(r));
      }
      if (o.close) c.end();
    });
  });
  await new Promise<void>((r) => srv.listen(socket, r));
  return {
    socket,
    requests,
    stop: () =>
      new Promise((r) => {
        for (const c of conns) c.destroy();
        srv.close(() => r());
      }),
  };
}

const text = (s: Readable) =>
  new Promise<string>((resolve, reject) => {
    let t = '';
    s.on('data', (d: Buffer) => (t += d.toString()));
    s.on('end', () => resolve(t));
    s.on('error', reject);
  });

test('parseHead: status, reason, lower-case names, repeated headers joined', () => {
  const h = parseHead('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-A: 1\r\nx-a: 2');
  assert.equal(h.status, 404);
  assert.equal(h.statusMessage, 'Not Found');
  assert.deepEqual(h.headers, { 'content-type': 'application/json', 'x-a': '1, 2' });
  assert.throws(() => parseHead('SSH-2.0-OpenSSH'), /malformed HTTP status line/);
});

test('ChunkedDecoder: chunks split anywhere, extensions, trailers, the end', () => {
  const wire = Buffer.from('5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n');
  // every split point, byte by byte too
  for (let cut = 0; cut <= wire.length; cut++) {
    const d = new ChunkedDecoder();
    const out = [...d.feed(wire.subarray(0, cut)), ...d.feed(wire.subarray(cut))];
    assert.equal(Buffer.concat(out).toString(), 'hello, world', `cut at ${cut}`);
    assert.equal(d.done, true);
  }
  const d = new ChunkedDecoder();
  const bytes: Buffer[] = [];
  for (const b of wire) bytes.push(...d.feed(Buffer.from([b])));
  assert.equal(Buffer.concat(bytes).toString(), 'hello, world');
  assert.equal(d.done, true);
  assert.throws(() => new ChunkedDecoder().feed(Buffer.from('zz\r\n')), /malformed chunked/);
});

test('a Content-Length body ends at its length on a kept-alive connection', async () => {
  const s = await server({ answer: () => 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: keep-alive\r\n\r\nhello there', piece: 3 });
  try {
    const res = await sendRequest(net.connect(s.socket), { method: 'GET', path: '/x?a=1', headers: { Host: 'berth' } });
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'hello there');
    assert.match(s.requests[0], /^GET \/x\?a=1 HTTP\/1\.1\r\nHost: berth\r\nConnection: close\r\n\r\n$/);
  } finally {
    await s.stop();
  }
});

test('a chunked body on a kept-alive connection, in small pieces', async () => {
  const s = await server({ answer: () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n', piece: 2 });
  try {
    const res = await sendRequest(net.connect(s.socket), { method: 'GET', path: '/', headers: {} });
    assert.equal(await text(res.body), '{"a":1}');
  } finally {
    await s.stop();
  }
});

test('a body without framing lasts until the server closes; an early close of a framed one is an error', async () => {
  const open = await server({ answer: () => 'HTTP/1.1 200 OK\r\n\r\nuntil the end', close: true });
  const cut = await server({ answer: () => 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort', close: true });
  try {
    assert.equal(await text((await sendRequest(net.connect(open.socket), { method: 'GET', path: '/', headers: {} })).body), 'until the end');
    const res = await sendRequest(net.connect(cut.socket), { method: 'GET', path: '/', headers: {} });
    await assert.rejects(text(res.body), /aborted/);
  } finally {
    await open.stop();
    await cut.stop();
  }
});

test('request bodies: a Buffer with its length, a stream chunked', async () => {
  const s = await server({ answer: (req) => `HTTP/1.1 200 OK\r\nContent-Length: ${req.length}\r\n\r\n${req}`, until: (req) => req.endsWith('hi') || req.endsWith('0\r\n\r\n') });
  try {
    const plain = await text((await sendRequest(net.connect(s.socket), { method: 'POST', path: '/a', headers: {}, body: 'hi' })).body);
    assert.match(plain, /\r\nContent-Length: 2\r\n/);
    const streamed = await text((await sendRequest(net.connect(s.socket), { method: 'POST', path: '/b', headers: {}, body: Readable.from([Buffer.from('abc'), Buffer.from('defgh')]) })).body);
    assert.match(streamed, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.ok(streamed.endsWith('\r\n\r\n3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n'), JSON.stringify(streamed));
  } finally {
    await s.stop();
  }
});

test('an interim 100 Continue is skipped; 204 has no body', async () => {
  const s = await server({ answer: () => 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n', piece: 5 });
  try {
    const res = await sendRequest(net.connect(s.socket), { method: 'DELETE', path: '/', headers: {} });
    assert.equal(res.status, 204);
    assert.equal(await text(res.body), '');
  } finally {
    await s.stop();
  }
});

test('an aborted signal rejects before the answer and closes the body after it', async () => {
  const silent = await server({ answer: () => '' });
  const slow = await server({ answer: () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n' });
  try {
    const a = new AbortController();
    const pending = sendRequest(net.connect(silent.socket), { method: 'POST', path: '/wait', headers: {}, signal: a.signal });
    setTimeout(() => a.abort(), 20);
    await assert.rejects(pending, { name: 'AbortError' });

    const b = new AbortController();
    const res = await sendRequest(net.connect(slow.socket), { method: 'GET', path: '/logs', headers: {}, signal: b.signal });
    const closed = new Promise((r) => res.body.once('close', r));
    res.body.resume();
    b.abort();
    await closed;
  } finally {
    await silent.stop();
    await slow.stop();
  }
});

test('EngineClient over it: JSON, daemon errors, an unreachable socket, hijack with bytes after the head', async () => {
  const s = await server({
    answer: (req) => {
      if (req.startsWith('GET /v1.50/containers/json?all=1 ')) return 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n';
      if (req.startsWith('POST /v1.50/containers/x/attach')) return 'HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nraw bytes';
      if (req.startsWith('POST /v1.50/containers/stopped/attach')) return 'HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{"message":"con\r\n14\r\ntainer is stopped"}\n\r\n0\r\n\r\n';
      return 'HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{"message":"No such object"}\n';
    },
  });
  try {
    const c = new EngineClient(`unix://${s.socket}`);
    assert.deepEqual(await c.call('GET', '/containers/json', { query: { all: true } }), []);
    await assert.rejects(c.call('GET', '/containers/nope/json'), (e: unknown) => e instanceof EngineError && e.status === 404 && e.message === 'No such object');
    const conn = await c.hijack('POST', '/containers/x/attach', { query: { stream: true } });
    assert.equal(conn.status, 101);
    conn.socket.resume();
    assert.equal((await new Promise<Buffer>((r) => conn.socket.once('data', r))).toString(), 'raw bytes');
    conn.socket.destroy();
    // an answer that is no upgrade is the daemon's error, read with its framing
    await assert.rejects(c.hijack('POST', '/containers/stopped/attach'), (e: unknown) => e instanceof EngineError && e.status === 409 && e.message === 'container is stopped');
    await assert.rejects(new EngineClient(`unix://${path.join(dir, 'nothing.sock')}`).call('GET', '/_ping'), /Cannot connect to the berth daemon/);
  } finally {
    await s.stop();
  }
});
