/**
 * Manager autolock with the real docker CLI (and berth's for `unlock`), on one node: `swarm init --autolock` prints the
 * key, the node's private files are kept sealed on disk, a daemon restart leaves the node
 * locked (info says so, the cluster's calls answer Docker's 503) until `swarm unlock` is
 * given the key (a wrong one refused), `unlock-key --rotate` replaces the key, and
 * `swarm update --autolock=false` makes the node start unlocked again; with two managers, the
 * one that joins seals its files too and follows a rotation.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { labJson, SwarmLab } from '../helpers/swarm-lab';
import { until } from '../helpers/wait';
import { parseUnlockKey, unseal } from '../../src/swarm/autolock';

let d: TestDaemon;

const LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

async function docker(args: string[], input?: string): Promise<string> {
  const r = await d.docker(args, { input });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const nodeState = async () => (await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();

async function restart(): Promise<void> {
  await d.stopProcess();
  await d.startProcess();
}

before(async () => {
  d = await TestDaemon.start();
});

after(async () => {
  await d?.api('POST', '/swarm/leave?force=1').catch(() => undefined);
  await d?.cleanup();
});

test('init --autolock prints the unlock key; the node\'s private files are sealed on disk', async () => {
  const out = await docker(['swarm', 'init', '--autolock', '--advertise-addr', '127.0.0.1']);
  const key = /^\s+(SWMKEY-1-\S+)$/m.exec(out)?.[1];
  assert.ok(key, `no unlock key in:\n${out}`);
  assert.equal((await docker(['swarm', 'unlock-key', '-q'])).trim(), key);
  assert.equal((await docker(['info', '--format', '{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}'])).trim(), 'true');
  const certs = path.join(d.dataRoot, 'swarm', 'certs');
  const files = readdirSync(certs);
  assert.ok(files.includes('node.key.sealed'), files.join(' '));
  assert.ok(!files.includes('node.key'), `a plain node key on disk: ${files.join(' ')}`);
  assert.ok(!files.some((f) => f === 'etcd.password' || f === 'ca.key' || f === 'etcd-client.key'), files.join(' '));
});

test('after a restart the node is locked until unlocked with the key; a wrong key is refused', async () => {
  const key = (await docker(['swarm', 'unlock-key', '-q'])).trim();
  await docker(['service', 'create', '--name', 'keep', '--detach', 'busybox', 'sleep', '1000']);
  await restart();
  assert.equal(await nodeState(), 'locked');
  const info = JSON.parse(await docker(['info', '--format', '{{json .Swarm}}']));
  assert.equal(info.Error, LOCKED);
  assert.equal(info.NodeID, '');
  const ls = await d.docker(['node', 'ls']);
  assert.equal(ls.code, 1);
  assert.match(ls.stderr, new RegExp(LOCKED.replace(/[.*+?^${}()|[\]\\"]/g, '\\$&')));
  const api = await d.api('GET', '/swarm');
  assert.equal(api.status, 503, api.body);

  const wrong = await d.docker(['swarm', 'unlock'], { input: `SWMKEY-1-${'A'.repeat(43)}\n` });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /swarm could not be unlocked: invalid key provided/);
  const garbled = await d.api('POST', '/swarm/unlock', { UnlockKey: 'not-a-key' });
  assert.equal(garbled.status, 400, garbled.body);
  assert.match(garbled.body, /invalid key string/);
  assert.equal(await nodeState(), 'locked');

  await docker(['swarm', 'unlock'], `${key}\n`);
  assert.equal(await nodeState(), 'active');
  assert.match(await docker(['service', 'ls', '--format', '{{.Name}}']), /^keep$/m);
  const again = await d.docker(['swarm', 'unlock'], { input: `${key}\n` });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /swarm is not locked/);
  const apiAgain = await d.api('POST', '/swarm/unlock', { UnlockKey: key });
  assert.equal(apiAgain.status, 409, apiAgain.body);
});

test('unlock-key --rotate: a new key; after a restart only the new key unlocks', async () => {
  const old = (await docker(['swarm', 'unlock-key', '-q'])).trim();
  const rotated = await docker(['swarm', 'unlock-key', '--rotate']);
  assert.match(rotated, /Successfully rotated manager unlock key/);
  const key = (await docker(['swarm', 'unlock-key', '-q'])).trim();
  assert.notEqual(key, old);
  assert.ok(rotated.includes(key), rotated);
  await restart();
  assert.equal(await nodeState(), 'locked');
  const stale = await d.docker(['swarm', 'unlock'], { input: `${old}\n` });
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /invalid key provided/);
  // berth's own CLI unlocks as docker's does
  const berthUnlock = await d.berth(['swarm', 'unlock'], { input: `${key}\n` });
  assert.equal(berthUnlock.code, 0, berthUnlock.stderr);
  assert.equal(await nodeState(), 'active');
  assert.equal((await d.berth(['swarm', 'unlock-key', '-q'])).stdout.trim(), key);
});

test('swarm update --autolock=false: no key any more, the files are plain, a restart leaves the node active', async () => {
  await docker(['swarm', 'update', '--autolock=false']);
  const none = await d.docker(['swarm', 'unlock-key']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no unlock key is set/);
  const certs = path.join(d.dataRoot, 'swarm', 'certs');
  assert.ok(existsSync(path.join(certs, 'node.key')));
  assert.ok(!existsSync(path.join(certs, 'node.key.sealed')));
  await restart();
  assert.equal(await nodeState(), 'active');
  assert.match(await docker(['service', 'ls', '--format', '{{.Name}}']), /^keep$/m);
  // and on again: a key is printed, and the next restart locks
  const on = await docker(['swarm', 'update', '--autolock=true']);
  const key = /^\s+(SWMKEY-1-\S+)$/m.exec(on)?.[1];
  assert.ok(key, on);
  await restart();
  assert.equal(await nodeState(), 'locked');
  const leave = await d.docker(['swarm', 'leave']);
  assert.equal(leave.code, 1);
  assert.match(leave.stderr, /Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message./);
  await docker(['swarm', 'leave', '--force']);
  assert.equal(await nodeState(), 'inactive');
});

test('with two managers: a manager that joins an autolocked swarm seals its files; a rotation reaches it; it unlocks with the new key', async () => {
  const lab = await SwarmLab.start(2);
  try {
    const [n1, n2] = lab.nodes;
    await labJson(n1, 'POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: n1.addr, Spec: { EncryptionConfig: { AutoLockManagers: true } } });
    const swarm = await labJson(n1, 'GET', '/swarm');
    await labJson(n2, 'POST', '/swarm/join', { RemoteAddrs: [`${n1.addr}:2377`], JoinToken: swarm.JoinTokens.Manager, AdvertiseAddr: n2.addr, ListenAddr: '0.0.0.0:2377' });
    const certs2 = path.join(n2.d.dataRoot, 'swarm', 'certs');
    await until('the joined manager\'s files sealed', async () => (existsSync(path.join(certs2, 'node.key.sealed')) && !existsSync(path.join(certs2, 'node.key')) ? true : undefined), 15_000);

    const first = (await labJson(n1, 'GET', '/swarm/unlockkey')).UnlockKey as string;
    const version = (await labJson(n1, 'GET', '/swarm')).Version.Index as number;
    await labJson(n1, 'POST', `/swarm/update?version=${version}&rotateManagerUnlockKey=true`, (await labJson(n1, 'GET', '/swarm')).Spec);
    const rotated = (await labJson(n2, 'GET', '/swarm/unlockkey')).UnlockKey as string;
    assert.notEqual(rotated, first);
    // the other manager seals again with the new key within its role check: only then can it be restarted
    const opensWith = (key: string) => {
      try {
        unseal(parseUnlockKey(key), readFileSync(path.join(certs2, 'node.key.sealed')));
        return true;
      } catch {
        return undefined;
      }
    };
    await until('the joined manager\'s files sealed with the new key', async () => opensWith(rotated), 15_000);
    assert.equal(opensWith(first), undefined);

    await n2.d.stopProcess();
    await n2.d.startProcess();
    assert.equal((await labJson(n2, 'GET', '/info')).Swarm.LocalNodeState, 'locked');
    const stale = await n2.d.api('POST', '/swarm/unlock', { UnlockKey: first });
    assert.equal(stale.status, 401, stale.body);
    await labJson(n2, 'POST', '/swarm/unlock', { UnlockKey: rotated });
    assert.equal((await labJson(n2, 'GET', '/info')).Swarm.LocalNodeState, 'active');
    const nodes = await until('both managers ready', async () => {
      const list = (await labJson(n2, 'GET', '/nodes')) as { Status: { State: string } }[];
      return list.length === 2 && list.every((x) => x.Status.State === 'ready') ? list : undefined;
    }, 30_000);
    assert.equal(nodes.length, 2);
  } finally {
    for (const n of lab.nodes) await n.d.api('POST', '/swarm/leave?force=1').catch(() => undefined);
    await lab.cleanup();
  }
});
