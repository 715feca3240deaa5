import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { BERTH, TestDaemon, runCommand } from '../helpers/daemon';
import { NetnsRegistry } from '../helpers/registry';
import { signJwt } from '../../src/registry/auth/jwt';
import { loadPrivateKey } from '../../src/registry/auth/keys';

// The image store end to end: berth-registry serve --store inside the daemon's network
// namespace; a vendor (alice) publishes, a buyer (bob) is refused, buys by invoice, is let in
// once the vendor marks it paid, runs the image, upgrades to a new version (and is rolled back
// from a broken one); the subscription lapses; the docker CLI meets the same rules.
let d: TestDaemon;
let reg: NetnsRegistry;
let work: string;
const HOST = '127.0.0.1:5000';
const V1 = `${HOST}/acme/ledger:1.0`;
const USERS = { root: 'root-pw', alice: 'alice-pw', bob: 'bob-pw' };
type User = keyof typeof USERS;

const configOf = (u: User) => path.join(work, `config-${u}`);
/** berth as a user: their own client config; inside the namespace, where the store is. */
const as = (u: User, args: string[]) =>
  runCommand('nsenter', [`--net=/run/netns/${d.netns}`, BERTH, '-H', d.host, ...args], { env: { ...process.env, BERTH_CONFIG: configOf(u) }, timeoutMs: 120_000 });
const ok = async (u: User, args: string[]) => {
  const r = await as(u, args);
  assert.equal(r.code, 0, `${u}: berth ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
};
const setClock = (iso: string) => fsp.writeFile(path.join(work, 'clock'), iso);

async function build(tag: string, version: string, cmd = '["sh", "-c", "cat /version; exec sleep 1000"]'): Promise<void> {
  const ctx = path.join(work, `ctx-${version}`);
  await fsp.mkdir(ctx, { recursive: true });
  await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM busybox\nENV LEDGER_VERSION=${version}\nRUN echo ${version} > /version\nVOLUME /data\nCMD ${cmd}\n`);
  await ok('alice', ['build', '-q', '-t', tag, ctx]);
}

before(async () => {
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-store-'));
  await fsp.writeFile(path.join(work, 'htpasswd'), Object.entries(USERS).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n') + '\n');
  await setClock('');
  d = await TestDaemon.start();
  // the registry inherits this environment: its clock is the file, moved by the test
  process.env.BERTH_STORE_CLOCK_FILE = path.join(work, 'clock');
  reg = await NetnsRegistry.berth(d.netns, 5000, ['--htpasswd', path.join(work, 'htpasswd'), '--store', '--store-admin', 'root']);
  for (const u of Object.keys(USERS) as User[]) await ok(u, ['login', HOST, '-u', u, '-p', USERS[u]]);
});

after(async () => {
  // the swarm test leaves its swarm itself; if it failed half-way, its etcd member goes here
  await d?.api('POST', '/swarm/leave?force=1').catch(() => undefined);
  await reg?.stop();
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

test('a vendor publishes; a buyer is refused, buys, is let in once paid, runs, upgrades; a lapse stops new pulls', async () => {
  // only an admin creates vendors here
  const self = await as('alice', ['store', 'vendor', 'create', 'acme']);
  assert.equal(self.code, 1);
  assert.match(self.stderr, /only an administrator may create vendors/);
  assert.match(await ok('root', ['store', 'vendor', 'create', 'acme', '--display-name', 'Acme Corp', '--owner', 'alice']), /acme \(Acme Corp\): alice \(owner\)/);

  await build(V1, '1.0');
  const unpublished = await as('alice', ['store', 'publish', `${HOST}/acme/ledger`, '--title', 'Ledger', '--price', '20/month']);
  assert.match(unpublished.stderr, /acme\/ledger has no published image: push one first/);
  await ok('alice', ['push', V1]);
  // bob may not push into acme's namespace
  await ok('bob', ['tag', V1, `${HOST}/acme/ledger:bobs`]);
  const bobPush = await as('bob', ['push', `${HOST}/acme/ledger:bobs`]);
  assert.notEqual(bobPush.code, 0);
  assert.match(bobPush.stderr + bobPush.stdout, /denied/);

  await fsp.writeFile(path.join(work, 'LICENSE.txt'), 'Ledger license: use it well.\n');
  const badPrice = await as('alice', ['store', 'publish', `${HOST}/acme/ledger`, '--title', 'Ledger', '--price', 'twenty/month']);
  assert.equal(badPrice.code, 1);
  assert.match(badPrice.stderr, /price "twenty\/month" is not an amount/);
  assert.match(await ok('alice', ['store', 'publish', `${HOST}/acme/ledger`, '--title', 'Ledger', '--price', '20/month', '--price', '150/once', '--license', path.join(work, 'LICENSE.txt')]),
    /Published acme\/ledger \(Ledger\): month: 20\.00 USD\/month, once: 150\.00 USD; 1 version/);

  assert.match(await ok('bob', ['store', 'search', 'ledger']), /acme\/ledger\s+Ledger\s+Acme Corp\s+month: 20\.00 USD\/month, once: 150\.00 USD\s+1\.0/);
  const shown = await ok('bob', ['store', 'show', 'acme/ledger']);
  assert.match(shown, /Vendor:\s+Acme Corp \(acme\)/);
  assert.match(shown, /Ledger license: use it well\./);

  // bob has no purchase: refused, with the reason
  await ok('alice', ['rmi', V1, `${HOST}/acme/ledger:bobs`]);
  const refused = await as('bob', ['pull', V1]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /denied: no active purchase of acme\/ledger/);

  const unknownPlan = await as('bob', ['store', 'buy', 'acme/ledger', '--plan', 'weekly']);
  assert.match(unknownPlan.stderr, /acme\/ledger has no plan "weekly": its plans are month, once/);
  const bought = await ok('bob', ['store', 'buy', 'acme/ledger', '--plan', 'month']);
  const id = /Purchase (\d+): acme\/ledger \(month, 20\.00 USD\), waiting for payment of invoice INV-/.exec(bought)?.[1];
  assert.ok(id, bought);
  const twice = await as('bob', ['store', 'buy', 'acme/ledger', '--plan', 'once']);
  assert.match(twice.stderr, /already has purchase \d+ of acme\/ledger waiting for payment/);
  assert.match((await as('bob', ['pull', V1])).stderr, /no active purchase of acme\/ledger/, 'an unpaid invoice does not let bob in');
  const notTheVendor = await as('bob', ['store', 'mark-paid', id]);
  assert.match(notTheVendor.stderr, /bob is not a member of vendor acme/);

  assert.match(await ok('alice', ['store', 'mark-paid', id]), new RegExp(`Purchase ${id} \\(bob, acme/ledger\\): paid until \\d{4}-`));
  await ok('bob', ['pull', V1]);
  await ok('bob', ['run', '-d', '--name', 'ledger', '-e', 'MODE=prod', '--label', 'owner=bob', V1]);
  await ok('bob', ['exec', 'ledger', 'sh', '-c', 'echo kept > /data/books']);
  assert.match((await as('bob', ['store', 'sales', '--vendor', 'acme'])).stderr, /bob is not a member of vendor acme/);
  const sales = await ok('alice', ['store', 'sales', '--vendor', 'acme']);
  assert.match(sales, new RegExp(`${id}\\s+bob\\s+acme/ledger\\s+month\\s+20\\.00 USD\\s+paid`));
  assert.match(sales, /Revenue: 20\.00 USD/);
  // the API pages the vendor's events: the page's size, where the next starts, refusals at the door
  const salesUrl = `http://${HOST}/store/v1/vendors/acme/sales`;
  const first = JSON.parse((await reg.curl(['-u', 'alice:alice-pw', `${salesUrl}?limit=1`])).stdout) as { events: { id: number }[]; nextEventsSince: number | null };
  assert.equal(first.events.length, 1);
  assert.equal(first.nextEventsSince, first.events[0].id);
  const next = JSON.parse((await reg.curl(['-u', 'alice:alice-pw', `${salesUrl}?since=${first.nextEventsSince}&limit=1`])).stdout) as { events: { id: number }[] };
  assert.ok(next.events[0].id > first.events[0].id, JSON.stringify(next));
  assert.match((await reg.curl(['-u', 'alice:alice-pw', `${salesUrl}?limit=5000`])).stdout, /limit must be a whole number from 1 to 1000/);

  // a new version: bob sees it, and upgrade re-creates his container on it, keeping its settings
  const V2 = `${HOST}/acme/ledger:2.0`;
  await build(V2, '2.0');
  await ok('alice', ['push', V2]);
  await ok('alice', ['rmi', V2]);
  assert.match(await ok('bob', ['store', 'purchases']), new RegExp(`${id}\\s+acme/ledger\\s+month\\s+20\\.00 USD\\s+paid\\s+\\d{4}-\\d\\d-\\d\\d\\s+2\\.0\\s+berth store upgrade acme/ledger`));
  const events = await ok('bob', ['store', 'events', 'acme/ledger']);
  assert.match(events, new RegExp(`purchase\\s+purchase ${id} by bob: plan month, 20\\.00 USD\n.*paid\\s+purchase ${id} paid, until \\d{4}-\\d\\d-\\d\\d\n.*version\\s+2\\.0 is [0-9a-f]{12} \\(new\\)`));
  const upgraded = await ok('bob', ['store', 'upgrade', 'acme/ledger']);
  assert.match(upgraded, /acme\/ledger: newest is 2\.0 \(sha256:[0-9a-f]{64}\)\n  ledger: [0-9a-f]{12} -> [0-9a-f]{12}\n/);
  assert.match(upgraded, /ledger: re-created on 2\.0/);
  const after2 = JSON.parse(await ok('bob', ['inspect', 'ledger']))[0];
  assert.equal(after2.Config.Image, V2);
  assert.equal(after2.State.Running, true);
  assert.ok(after2.Config.Env.includes('MODE=prod'), after2.Config.Env.join(' '));
  assert.ok(after2.Config.Env.includes('LEDGER_VERSION=2.0'), 'the new image\'s own env, not the old one\'s');
  assert.equal(after2.Config.Labels.owner, 'bob');
  assert.equal((await ok('bob', ['exec', 'ledger', 'cat', '/version'])).trim(), '2.0');
  assert.equal((await ok('bob', ['exec', 'ledger', 'cat', '/data/books'])).trim(), 'kept', 'the anonymous volume came along');
  assert.equal((await ok('bob', ['ps', '-a', '-q', '--filter', 'name=pre-upgrade'])).trim(), '', 'the old container is gone');
  assert.match(await ok('bob', ['store', 'purchases', '--format', '{{.Product}} {{.Update}}']), /^acme\/ledger up to date$/m);

  // a version that does not start: the old container comes back, running
  const V3 = `${HOST}/acme/ledger:3.0`;
  await build(V3, '3.0', '["sh", "-c", "exit 3"]');
  await ok('alice', ['push', V3]);
  const broken = await as('bob', ['store', 'upgrade', 'acme/ledger']);
  assert.equal(broken.code, 1, broken.stdout + broken.stderr);
  assert.match(broken.stderr, /ledger: the new version did not start \(it exited with code 3\); kept the old container/);
  const kept = JSON.parse(await ok('bob', ['inspect', 'ledger']))[0];
  assert.equal(kept.Id, after2.Id);
  assert.equal(kept.State.Running, true);

  // a month on, the subscription has lapsed: no new pulls, the running container keeps running
  await setClock(new Date(Date.now() + 32 * 86400_000).toISOString());
  await ok('bob', ['rmi', V1]);
  const lapsed = await as('bob', ['pull', V1]);
  assert.notEqual(lapsed.code, 0);
  assert.match(lapsed.stderr, /denied: no active purchase of acme\/ledger/);
  assert.match(await ok('bob', ['store', 'purchases']), /lapsed/);
  assert.equal(JSON.parse(await ok('bob', ['inspect', 'ledger']))[0].State.Running, true);

  // the docker CLI, through berthd, meets the same rules
  const wrong = await d.docker(['login', HOST, '-u', 'bob', '-p', 'nope']);
  assert.notEqual(wrong.code, 0);
  assert.equal((await d.docker(['login', HOST, '-u', 'bob', '-p', 'bob-pw'])).code, 0);
  const dockerLapsed = await d.docker(['pull', V1]);
  assert.notEqual(dockerLapsed.code, 0);
  assert.match(dockerLapsed.stderr, /denied: no active purchase of acme\/ledger/);
  await setClock('');
  const dockerPull = await d.docker(['pull', V1]);
  assert.equal(dockerPull.code, 0, dockerPull.stderr);

  // a refund ends it at once
  assert.match(await ok('alice', ['store', 'refund', id]), /refunded, no longer entitled/);
  await ok('bob', ['rmi', V1]);
  assert.match((await as('bob', ['pull', V1])).stderr, /denied: no active purchase of acme\/ledger/);
  await ok('bob', ['rm', '-f', 'ledger']);
});

test('the store API refuses forged and expired tokens and bad bodies, and records nothing for them', async () => {
  const url = `http://${HOST}/store/v1/purchases`;
  const tokenRes = await reg.curl(['-u', 'bob:bob-pw', `http://${HOST}/token?service=berth-registry&scope=repository:acme/ledger:pull`]);
  const token = JSON.parse(tokenRes.stdout).token as string;
  assert.equal((await reg.curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `Authorization: Bearer ${token}`, url])).stdout, '200');
  const [h, , s] = token.split('.');
  const forgedClaims = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()), sub: 'alice' })).toString('base64url');
  const forged = await reg.curl(['-H', `Authorization: Bearer ${h}.${forgedClaims}.${s}`, `http://${HOST}/store/v1/vendors/acme/sales`]);
  assert.match(forged.stdout, /"code":"UNAUTHORIZED","message":"token refused: token signature is invalid"/);
  // signed with the registry's own key, but long expired
  const key = loadPrivateKey(await fsp.readFile(path.join(reg.root, 'data', 'store', 'token.key'), 'utf8'));
  const old = Math.floor(Date.now() / 1000) - 3600;
  const expiredToken = signJwt({ iss: 'berth-registry', aud: 'berth-registry', sub: 'bob', iat: old - 300, exp: old }, key);
  const expired = await reg.curl(['-H', `Authorization: Bearer ${expiredToken}`, url]);
  assert.match(expired.stdout, /"code":"UNAUTHORIZED","message":"token refused: token has expired"/);
  const pullExpired = await reg.curl(['-i', '-H', `Authorization: Bearer ${expiredToken}`, `http://${HOST}/v2/acme/ledger/manifests/1.0`]);
  assert.match(pullExpired.stdout, /^HTTP\/1\.1 401/);
  assert.match(pullExpired.stdout, /error="invalid_token"/);
  const before = (await reg.curl(['-u', 'bob:bob-pw', url])).stdout;
  const bad = await reg.curl(['-u', 'bob:bob-pw', '-X', 'POST', '-H', 'Content-Type: application/json', '-d', '{"product": "acme/ledger", "plan": 5}', url]);
  assert.match(bad.stdout, /"code":"INVALID","message":"plan must be a string"/);
  assert.equal((await reg.curl(['-u', 'bob:bob-pw', url])).stdout, before);
});

test('upgrade moves a swarm service of the product to the newest version, pinned by digest', async () => {
  // bob owns it again (the first test ended with a refund), and runs it as a service
  const bought = await ok('bob', ['store', 'buy', 'acme/ledger', '--plan', 'once']);
  const id = /Purchase (\d+)/.exec(bought)![1];
  await ok('alice', ['store', 'mark-paid', id]);
  await ok('bob', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  const V4 = `${HOST}/acme/ledger:4.0`;
  await ok('bob', ['pull', `${HOST}/acme/ledger:2.0`]);
  await ok('bob', ['service', 'create', '--detach', '--name', 'ledger-svc', '--env', 'MODE=prod', `${HOST}/acme/ledger:2.0`]);
  await build(V4, '4.0');
  await ok('alice', ['push', V4]);
  await ok('alice', ['rmi', V4]);

  const up = await ok('bob', ['store', 'upgrade', 'acme/ledger']);
  assert.match(up, /acme\/ledger: newest is 4\.0 \(sha256:[0-9a-f]{64}\)/);
  assert.match(up, new RegExp(`service ledger-svc: ${HOST.replace(/\./g, '\\.')}/acme/ledger:2\\.0 -> [0-9a-f]{12}`));
  assert.match(up, /service ledger-svc: updated to 4\.0/);
  const svc = JSON.parse(await ok('bob', ['service', 'inspect', 'ledger-svc']))[0];
  assert.match(svc.Spec.TaskTemplate.ContainerSpec.Image, new RegExp(`^${HOST.replace(/\./g, '\\.')}/acme/ledger:4\\.0@sha256:[0-9a-f]{64}$`));
  assert.deepEqual(svc.Spec.TaskTemplate.ContainerSpec.Env, ['MODE=prod']);
  assert.equal(svc.Spec.UpdateConfig.FailureAction, 'rollback');
  assert.match(await ok('bob', ['store', 'upgrade', 'acme/ledger']), /service ledger-svc: already on [0-9a-f]{12}/);
  await ok('bob', ['service', 'rm', 'ledger-svc']);
  await ok('bob', ['swarm', 'leave', '--force']);
});
