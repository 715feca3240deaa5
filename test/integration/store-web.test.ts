import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { chromium, type Browser, type Page } from 'playwright-core';

// The store's web pages in a real browser (Debian's chromium, headless, driven by
// playwright-core): browse the catalogue, open a product, buy it, see the purchase; the vendor
// marks the invoice paid on its sales page; the buyer then owns it. berth-registry listens on
// loopback only, and chromium runs with its background networking off.
const BIN = path.resolve(__dirname, '../../../bin/berth-registry');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-store-web-'));
const USERS = { root: 'root-pw', alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' };
type User = keyof typeof USERS;
let child: ChildProcess | undefined;
let browser: Browser | undefined;
let base = '';

const basic = (u: User) => `Basic ${Buffer.from(`${u}:${USERS[u]}`).toString('base64')}`;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function api(u: User, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${base}/store/v1/${p}`, { method, headers: { Authorization: basic(u), 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Pushes a one-blob image the way docker does: a token from /token, then blobs and manifest. */
async function pushTinyImage(u: User, repo: string, tag: string): Promise<void> {
  const t = await fetch(`${base}/token?service=berth-registry&scope=repository:${repo}:pull,push`, { headers: { Authorization: basic(u) } });
  const { token } = (await t.json()) as { token: string };
  const auth = { Authorization: `Bearer ${token}` };
  const layer = Buffer.from('not really a tar, but a blob all the same');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  for (const blob of [layer, config]) {
    const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob, headers: auth });
    assert.equal(r.status, 201, await r.text());
  }
  const manifest = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
  });
  const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { ...auth, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(r.status, 201, await r.text());
}

before(async () => {
  writeFileSync(path.join(tmp, 'htpasswd'), Object.entries(USERS).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n') + '\n');
  const c = spawn(process.execPath, [BIN, 'serve', '--addr', '127.0.0.1:0', '--root', path.join(tmp, 'root'), '--htpasswd', path.join(tmp, 'htpasswd'), '--store', '--store-admin', 'root'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = c;
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`berth-registry did not start: ${err}`)), 10_000);
    c.on('exit', (code) => reject(new Error(`berth-registry exited ${code}: ${err}`)));
    c.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}`);
      }
    });
  });
  await api('root', 'POST', 'vendors', { name: 'acme', displayName: 'Acme Corp', owner: 'alice' });
  await pushTinyImage('alice', 'acme/ledger', '1.0');
  await api('alice', 'POST', 'products', { repository: 'acme/ledger', title: 'Ledger', prices: ['20/month', '150/once'], license: 'Ledger license <use it well>.', description: 'Double-entry bookkeeping.' });
  browser = await chromium.launch({
    executablePath: process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (child?.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** A browser of its own for a user who logged in as a person does: "Log in", the browser's prompt. */
async function pageAs(u: User | undefined): Promise<Page> {
  const context = await browser!.newContext(u ? { httpCredentials: { username: u, password: USERS[u] } } : {});
  const p = await context.newPage();
  if (u) {
    await p.goto(`${base}/store/`);
    await p.click('text=Log in');
    assert.equal(new URL(p.url()).pathname, '/store/');
  }
  return p;
}

/** BERTH_STORE_SCREENSHOTS=DIR keeps a picture of each page, to look at. */
async function shot(p: Page, name: string): Promise<void> {
  if (process.env.BERTH_STORE_SCREENSHOTS) await p.screenshot({ path: path.join(process.env.BERTH_STORE_SCREENSHOTS, `${name}.png`), fullPage: true });
}

test('browse, buy, see the purchase; the vendor marks it paid on its sales page', async () => {
  const bob = await pageAs('bob');
  await bob.goto(`${base}/`);
  assert.equal(await bob.title(), 'Catalogue · berth store');
  assert.match(await bob.textContent('header') ?? '', /bob · My purchases/);
  const row = bob.locator('tbody tr', { hasText: 'acme/ledger' });
  assert.match(await row.textContent() ?? '', /Acme Corp\s*month: 20\.00 USD per month\s*once: 150\.00 USD once\s*1\.0/);
  await shot(bob, 'catalogue');

  await bob.fill('input[name=q]', 'nothing-like-it');
  await bob.click('header button');
  assert.match(await bob.textContent('main') ?? '', /No products match/);

  await bob.goto(`${base}/store/`);
  await bob.click('text=Ledger');
  assert.equal(new URL(bob.url()).pathname, '/store/products/acme/ledger');
  const main = await bob.textContent('main') ?? '';
  assert.match(main, /acme\/ledger by Acme Corp/);
  assert.match(main, new RegExp(`berth pull ${new URL(base).host}/acme/ledger:1\\.0`));
  assert.match(main, /Ledger license <use it well>\./, 'text is shown as text, not markup');
  assert.match(main, /sha256:[0-9a-f]{64}/);
  await shot(bob, 'product');

  await bob.click('button:has-text("Buy month")');
  assert.equal(new URL(bob.url()).pathname, '/store/products/acme/ledger');
  assert.match(await bob.textContent('[role=status]') ?? '', /Purchase (\d+) of acme\/ledger \(month\) is waiting for payment of invoice INV-/);
  assert.equal(await bob.locator('button:has-text("Buy")').count(), 0, 'no second purchase offered while one waits');

  await bob.click('text=My purchases');
  const mine = bob.locator('tbody tr', { hasText: 'acme/ledger' });
  assert.match(await mine.textContent() ?? '', /month\s*20\.00 USD\s*pending/);

  // the vendor's sales page, and its action
  const alice = await pageAs('alice');
  await alice.goto(`${base}/store/`);
  await alice.click('text=acme sales');
  assert.equal(new URL(alice.url()).pathname, '/store/vendors/acme/sales');
  const sale = alice.locator('tbody tr', { hasText: 'bob' });
  assert.match(await sale.textContent() ?? '', /acme\/ledger\s*month\s*20\.00 USD\s*pending/);
  assert.match(await alice.textContent('main') ?? '', /Revenue: 0\.00 USD/);
  await sale.locator('button:has-text("Mark paid")').click();
  assert.match(await alice.textContent('[role=status]') ?? '', /is now paid/);
  assert.match(await alice.textContent('main') ?? '', /Revenue: 20\.00 USD/);
  await shot(alice, 'sales');

  await bob.reload();
  assert.match(await bob.locator('tbody tr', { hasText: 'acme/ledger' }).textContent() ?? '', /paid\s*\d{4}-\d\d-\d\d\s*1\.0/);
  await shot(bob, 'purchases');
  await bob.goto(`${base}/store/products/acme/ledger`);
  assert.match(await bob.textContent('main') ?? '', /You own this until \d{4}-\d\d-\d\d/);

  // bob is no vendor member; anonymous visitors are asked to log in
  const refused = await bob.goto(`${base}/store/vendors/acme/sales`);
  assert.equal(refused?.status(), 403);
  assert.match(await bob.textContent('[role=status]') ?? '', /bob is not a member of vendor acme/);
  const login = await fetch(`${base}/store/purchases`);
  assert.equal(login.status, 401);
  assert.match(login.headers.get('www-authenticate') ?? '', /^Basic realm="berth-registry"/);
  const anon = await pageAs(undefined);
  await anon.goto(`${base}/store/products/acme/ledger`);
  assert.match(await anon.textContent('main') ?? '', /Log in to buy/);
});

test('a form posted from elsewhere does nothing', async () => {
  const r = await fetch(`${base}/store/products/acme/ledger/buy`, {
    method: 'POST', body: 'plan=once', redirect: 'manual',
    headers: { Authorization: basic('root'), 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'http://evil.example' },
  });
  assert.equal(r.status, 403);
  assert.match(await r.text(), /did not come from the store&#39;s own pages/);
  assert.deepEqual(await api('root', 'GET', 'purchases'), []);
});

test('the JSON API takes no change a form from another site could send: a foreign Origin or a non-JSON type', async () => {
  const body = JSON.stringify({ product: 'acme/ledger', plan: 'once' });
  const foreign = await fetch(`${base}/store/v1/purchases`, { method: 'POST', body, headers: { Authorization: basic('root'), 'Content-Type': 'application/json', Origin: 'http://evil.example' } });
  assert.equal(foreign.status, 403, await foreign.text());
  const plain = await fetch(`${base}/store/v1/purchases`, { method: 'POST', body, headers: { Authorization: basic('root'), 'Content-Type': 'text/plain' } });
  assert.equal(plain.status, 400, await plain.text());
  assert.deepEqual(await api('root', 'GET', 'purchases'), []);
});

test('malformed store requests are refused, and the server keeps answering', async () => {
  const cases: [string, RequestInit, number][] = [
    ['/store/v1/products/%FF%FE/x', {}, 404],
    ['/store/products/%FF', {}, 404],
    ['/store/v1/purchases', { method: 'POST', body: 'not json', headers: { Authorization: basic('bob'), 'Content-Type': 'application/json' } }, 400],
    ['/store/v1/purchases', { method: 'POST', body: '[1]', headers: { Authorization: basic('bob'), 'Content-Type': 'application/json' } }, 400],
    ['/store/v1/purchases', { method: 'POST', body: JSON.stringify({ product: 'acme/ledger', plan: 'x'.repeat(2 * 1024 * 1024) }), headers: { Authorization: basic('bob'), 'Content-Type': 'application/json' } }, 400],
    ['/store/v1/purchases/12abc/paid', { method: 'POST', headers: { Authorization: basic('alice'), 'Content-Type': 'application/json' } }, 400],
    ['/store/v1/purchases', { headers: { Authorization: 'Basic !!!' } }, 401],
    ['/store/v1/purchases', { headers: { Authorization: 'Bearer a.b.c' } }, 401],
    ['/store/v1/purchases', { headers: { Authorization: 'Digest x' } }, 401],
    ['/store/v1/vendors', { method: 'POST', body: JSON.stringify({ name: 'Not A Name' }), headers: { Authorization: basic('root'), 'Content-Type': 'application/json' } }, 400],
  ];
  for (const [p, init, status] of cases) {
    const r = await fetch(`${base}${p}`, init).catch((e: Error) => assert.fail(`${init.method ?? 'GET'} ${p}: ${e.message}: ${(e.cause as Error | undefined)?.message}`));
    assert.equal(r.status, status, `${init.method ?? 'GET'} ${p}: ${await r.text()}`);
  }
  assert.equal((await fetch(`${base}/store/v1/products`)).status, 200);
});

test('registry access over HTTP: public free products for anyone, paid ones refused with the reason', async () => {
  await pushTinyImage('alice', 'acme/tools', 'latest');
  await api('alice', 'POST', 'products', { repository: 'acme/tools', title: 'Tools', prices: ['free'], public: true });
  const tokenFor = async (u: User | undefined, scope: string) => {
    const r = await fetch(`${base}/token?service=berth-registry&scope=${scope}`, { headers: u ? { Authorization: basic(u) } : {} });
    assert.equal(r.status, 200);
    return ((await r.json()) as { token: string }).token;
  };
  const manifest = (token: string, repo: string) => fetch(`${base}/v2/${repo}/manifests/${repo === 'acme/tools' ? 'latest' : '1.0'}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.oci.image.manifest.v1+json' } });

  assert.equal((await manifest(await tokenFor(undefined, 'repository:acme/tools:pull'), 'acme/tools')).status, 200, 'anyone pulls a public free product');
  const anonPaid = await manifest(await tokenFor(undefined, 'repository:acme/ledger:pull'), 'acme/ledger');
  assert.equal(anonPaid.status, 401, 'anonymous clients are asked to log in');
  assert.match(anonPaid.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="berth-registry",scope="repository:acme\/ledger:pull"/);
  // carol bought nothing: her token lacks pull, and the registry says why
  const carol = await manifest(await tokenFor('carol', 'repository:acme/ledger:pull'), 'acme/ledger');
  assert.equal(carol.status, 403);
  assert.equal(((await carol.json()) as { errors: { message: string }[] }).errors[0].message, 'no active purchase of acme/ledger');
  const rootToken = await tokenFor('root', 'repository:acme/ledger:pull,push');
  assert.deepEqual(JSON.parse(Buffer.from(rootToken.split('.')[1], 'base64url').toString()).access, [{ type: 'repository', name: 'acme/ledger', actions: ['pull', 'push'] }], 'an admin may do anything');
  const bobToken = await tokenFor('bob', 'repository:acme/tools:pull,push');
  const push = await fetch(`${base}/v2/acme/tools/blobs/uploads/`, { method: 'POST', headers: { Authorization: `Bearer ${bobToken}` } });
  assert.equal(push.status, 403);
  assert.deepEqual(((await push.json()) as { errors: { code: string; message: string }[] }).errors[0], { code: 'DENIED', message: 'only members of vendor acme may push to acme/tools', detail: { type: 'repository', name: 'acme/tools', action: 'push' } });
});
