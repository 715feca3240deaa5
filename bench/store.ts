/**
 * What the store costs the registry: with `serve --store` every registry request is decided by
 * the store (a token check plus a SQLite look-up of the entitlement), and pulls start with a
 * token the store grants. Medians over --requests sequential requests on loopback, each kind
 * against a berth-registry it starts itself on a free port (and stops):
 *
 *   node dist/bench/store.js [--requests 500]
 *
 * - manifest GET, no auth (a plain `serve` on the same storage): the baseline
 * - manifest GET as an entitled buyer, with a token (`serve --store`)
 * - token for that buyer from /token (the store decides, the token is signed)
 * - store API: the buyer's purchases (Basic auth), and a buy + mark-paid + refund cycle
 *   (three write transactions and their checks)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { arg, median } from './lib';

const BIN = path.join(__dirname, '..', '..', 'bin', 'berth-registry');
const requests = Number(arg('--requests', '500'));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-store-'));
const children: ChildProcess[] = [];
const USERS = { root: 'root-pw', alice: 'alice-pw', bob: 'bob-pw' };
const basic = (u: keyof typeof USERS) => `Basic ${Buffer.from(`${u}:${USERS[u]}`).toString('base64')}`;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

function start(args: string[]): Promise<string> {
  const c = spawn(process.execPath, [BIN, 'serve', '--addr', '127.0.0.1:0', '--root', path.join(tmp, 'root'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  return new Promise((resolve, reject) => {
    let out = '';
    c.on('exit', (code) => reject(new Error(`berth-registry exited ${code}`)));
    c.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(`http://${m[1]}`);
    });
  });
}

async function ok(r: Promise<Response>): Promise<Response> {
  const res = await r;
  if (!res.ok) throw new Error(`${res.url}: ${res.status} ${await res.text()}`);
  return res;
}

async function json<T>(r: Promise<Response>): Promise<T> {
  return (await (await ok(r)).json()) as T;
}

async function timed(label: string, fn: () => Promise<void>): Promise<[string, number]> {
  for (let i = 0; i < 20; i++) await fn(); // warm up: bcrypt cache, JIT, connections
  const ms: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return [label, median(ms)];
}

async function main(): Promise<void> {
  writeFileSync(path.join(tmp, 'htpasswd'), Object.entries(USERS).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 10)}`).join('\n') + '\n');
  const store = await start(['--htpasswd', path.join(tmp, 'htpasswd'), '--store', '--store-admin', 'root']);
  const api = (u: keyof typeof USERS, method: string, p: string, body?: unknown) =>
    fetch(`${store}/store/v1/${p}`, { method, headers: { Authorization: basic(u), 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  await ok(api('root', 'POST', 'vendors', { name: 'acme', owner: 'alice' }));
  const pushToken = (await json<{ token: string }>(fetch(`${store}/token?service=berth-registry&scope=repository:acme/ledger:pull,push`, { headers: { Authorization: basic('alice') } }))).token;
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  await ok(fetch(`${store}/v2/acme/ledger/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', body: config, headers: { Authorization: `Bearer ${pushToken}` } }));
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [] });
  await ok(fetch(`${store}/v2/acme/ledger/manifests/1.0`, { method: 'PUT', body: manifest, headers: { Authorization: `Bearer ${pushToken}`, 'Content-Type': MANIFEST_TYPE } }));
  await ok(api('alice', 'POST', 'products', { repository: 'acme/ledger', title: 'Ledger', prices: ['20/month', '150/once'] }));
  const first = await json<{ id: number }>(api('bob', 'POST', 'purchases', { product: 'acme/ledger', plan: 'month' }));
  await ok(api('alice', 'POST', `purchases/${first.id}/paid`));
  const plain = await start([]);

  const tokenUrl = `${store}/token?service=berth-registry&scope=repository:acme/ledger:pull`;
  const pullToken = (await json<{ token: string }>(fetch(tokenUrl, { headers: { Authorization: basic('bob') } }))).token;
  const rows = [
    await timed('manifest GET, no auth (plain serve)', async () => void (await (await ok(fetch(`${plain}/v2/acme/ledger/manifests/1.0`, { headers: { Accept: MANIFEST_TYPE } }))).arrayBuffer())),
    await timed('manifest GET, entitled buyer (--store)', async () => void (await (await ok(fetch(`${store}/v2/acme/ledger/manifests/1.0`, { headers: { Accept: MANIFEST_TYPE, Authorization: `Bearer ${pullToken}` } }))).arrayBuffer())),
    await timed('token for the buyer (/token)', async () => void (await json(fetch(tokenUrl, { headers: { Authorization: basic('bob') } })))),
    await timed('store API: GET purchases', async () => void (await json(api('bob', 'GET', 'purchases')))),
    await timed('store API: buy + mark-paid + refund', async () => {
      const p = await json<{ id: number }>(api('root', 'POST', 'purchases', { product: 'acme/ledger', plan: 'once' }));
      await json(api('alice', 'POST', `purchases/${p.id}/paid`));
      await json(api('alice', 'POST', `purchases/${p.id}/refund`));
    }),
  ];
  const width = Math.max(...rows.map(([l]) => l.length));
  console.log(`| ${'request'.padEnd(width)} | median (ms), ${requests} sequential |`);
  console.log(`| ${'-'.repeat(width)} | --- |`);
  for (const [label, ms] of rows) console.log(`| ${label.padEnd(width)} | ${ms.toFixed(2)} |`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  });
