/**
 * Against an older daemon (Docker 20.10 speaks API 1.41), the client goes down to the
 * daemon's version as the docker CLI does: a "client version ... is too new" refusal is
 * answered by sending the request again at the version the daemon names.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { EngineClient, EngineError } from '../../src/client/engine';

/** A daemon of API 1.41 on a unix socket: every path under a newer version is refused as dockerd does. */
async function olderDaemon(): Promise<{ socket: string; seen: string[]; close: () => Promise<void> }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-negotiation-'));
  const socket = path.join(dir, 'd.sock');
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const v = /^\/v(\d+\.\d+)\//.exec(req.url ?? '')?.[1];
    if (v && Number(v.split('.')[1]) > 41) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: `client version ${v} is too new. Maximum supported API version is 1.41` }));
      return;
    }
    if (req.url?.endsWith('/missing/json')) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'No such container: missing' }));
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ url: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    socket,
    seen,
    close: async () => {
      await new Promise((r) => server.close(r));
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

test('a refused version is negotiated down once, and the request goes through', async () => {
  const d = await olderDaemon();
  try {
    const c = new EngineClient(`unix://${d.socket}`);
    assert.equal(c.apiVersion, '1.50');
    const r = await c.call<{ url: string }>('GET', '/containers/json', { query: { all: true } });
    assert.equal(r.url, '/v1.41/containers/json?all=1');
    assert.equal(c.apiVersion, '1.41');
    // from now on without a refusal first
    await c.call('POST', '/containers/x/start', { body: { a: 1 } });
    assert.deepEqual(d.seen, ['GET /v1.50/containers/json?all=1', 'GET /v1.41/containers/json?all=1', 'POST /v1.41/containers/x/start']);
    // other errors stay errors, and are not retried
    await assert.rejects(c.call('GET', '/containers/missing/json'), (e: unknown) => e instanceof EngineError && e.status === 404);
    assert.equal(d.seen.length, 4);
  } finally {
    await d.close();
  }
});

test('a raw request and a streamed one go down too; a refusal that names no older version is kept', async () => {
  const d = await olderDaemon();
  try {
    const c = new EngineClient(`unix://${d.socket}`);
    const res = await c.request('GET', '/info');
    assert.equal(res.status, 200);
    assert.equal((await res.json<{ url: string }>()).url, '/v1.41/info');
    const fresh = new EngineClient(`unix://${d.socket}`);
    const body = await fresh.stream('GET', '/events');
    const chunks: Buffer[] = [];
    for await (const b of body) chunks.push(b as Buffer);
    assert.equal(JSON.parse(Buffer.concat(chunks).toString()).url, '/v1.41/events');
    const attaching = new EngineClient(`unix://${d.socket}`);
    const conn = await attaching.hijack('POST', '/containers/x/attach', { query: { stream: true } });
    conn.socket.destroy();
    assert.deepEqual(d.seen.filter((l) => l.includes('/attach')), ['POST /v1.50/containers/x/attach?stream=1', 'POST /v1.41/containers/x/attach?stream=1']);
    const unversioned = new EngineClient(`unix://${d.socket}`, { apiVersion: null });
    assert.equal((await unversioned.call<{ url: string }>('GET', '/info')).url, '/info');
  } finally {
    await d.close();
  }
});
