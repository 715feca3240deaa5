/**
 * berthd killed with SIGKILL in the middle of creates, starts and removals, then started
 * again: every container is accounted for, none is duplicated or half made, and nothing
 * (mounts, cgroups, conmon processes, runtime containers) is left behind.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { TestDaemon, runtimeContainerIds } from '../helpers/daemon';
import { sleep, until } from '../helpers/wait';
import { cgroupDir, detectCgroupVersion } from '../../src/container/cgroups';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

interface Summary {
  Id: string;
  Names: string[];
  State: string;
}

async function list(): Promise<Summary[]> {
  const r = await d.api('GET', '/containers/json?all=1');
  assert.equal(r.status, 200, r.body);
  return r.json();
}

/** conmon processes watching this daemon's containers: container ID → pid. */
function conmons(): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv[0]?.endsWith('conmon') || !argv.some((a) => a.startsWith(d.execRoot))) continue;
    const at = argv.findIndex((a) => a === '-c' || a === '--cid');
    out.set(at >= 0 ? argv[at + 1] : `unknown conmon ${p}`, Number(p));
  }
  return out;
}

/** Mount points of this daemon's container root filesystems, by container ID. */
function rootfsMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m) => m?.startsWith(path.join(d.execRoot, 'bundles') + '/'))
    .map((m) => path.relative(path.join(d.execRoot, 'bundles'), m).split('/')[0]);
}

/**
 * Container cgroups under the daemon's cgroup parent, by container ID: in the memory
 * hierarchy on cgroup v1, in the one tree on v2, detected as the daemon detects it.
 */
function cgroups(): string[] {
  const dir = cgroupDir('memory', d.cgroupParent, detectCgroupVersion());
  return existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
}

/** The snapshots the daemon's snapshotter holds, as `kind name` (from each record on disk). */
async function snapshots(): Promise<string[]> {
  const driver = (await d.api('GET', '/info')).json().Driver as string;
  const dir = path.join(d.dataRoot, driver, 'snapshots');
  return readdirSync(dir)
    .map((id) => JSON.parse(readFileSync(path.join(dir, id, 'meta.json'), 'utf8')) as { kind: string; name: string })
    .map((r) => `${r.kind} ${r.name}`)
    .sort();
}

function runtimeContainers(): string[] {
  return runtimeContainerIds(d.execRoot);
}

/** What the kernel and the runtime hold must be exactly what the daemon says runs. */
async function assertConsistent(when: string): Promise<Summary[]> {
  const all = await list();
  const names = all.map((c) => c.Names[0]);
  assert.equal(new Set(names).size, names.length, `${when}: duplicate names ${names}`);
  assert.equal(new Set(all.map((c) => c.Id)).size, all.length, `${when}: duplicate IDs`);
  const running = new Set(all.filter((c) => c.State === 'running').map((c) => c.Id));
  for (const c of all) {
    const r = await d.api('GET', `/containers/${c.Id}/json`);
    assert.equal(r.status, 200, `${when}: ${c.Names[0]} listed but not inspectable`);
    const info = r.json();
    assert.ok(info.Image && info.Config && info.HostConfig, `${when}: ${c.Names[0]} is incomplete`);
    if (c.State === 'running') process.kill(info.State.Pid, 0);
  }
  const sorted = (xs: Iterable<string>) => [...xs].sort();
  assert.deepEqual(sorted(conmons().keys()), sorted(running), `${when}: conmon processes`);
  assert.deepEqual(sorted(new Set(rootfsMounts())), sorted(running), `${when}: root filesystem mounts`);
  assert.deepEqual(sorted(cgroups()), sorted(running), `${when}: cgroups`);
  assert.deepEqual(sorted(runtimeContainers()), sorted(running), `${when}: runtime containers`);
  return all;
}

test('SIGKILL of berthd during creates, starts and removals loses nothing and leaks nothing', async (t) => {
  const imageSnapshots = await snapshots();
  assert.ok(imageSnapshots.length > 0 && imageSnapshots.every((s) => s.startsWith('committed ')), `a fresh daemon holds only its image's layers: ${imageSnapshots}`);
  const policies = [[], ['--restart', 'always'], ['--restart', 'unless-stopped'], ['--restart', 'on-failure:2']];
  const survivors: string[] = [];
  for (let i = 0; i < 20; i++) {
    const name = `steady-${i}`;
    const net = i % 3 === 0 ? ['--network', 'none'] : [];
    const r = await d.berth(['run', '-d', '--name', name, ...policies[i % 4], ...net, 'busybox', 'sleep', '100000']);
    assert.equal(r.code, 0, r.stderr);
    survivors.push(name);
  }
  const pids = new Map<string, number>();
  for (const name of survivors) pids.set(name, Number((await d.berth(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim()));

  const removed = new Set<string>();
  // each round kills the daemon at a different moment of the same burst of work
  for (const [round, killAfterMs] of [80, 250, 600].entries()) {
    const created: string[] = [];
    for (let i = 0; i < 4; i++) {
      const name = `made-${round}-${i}`;
      const r = await d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sleep', '100000'], HostConfig: { RestartPolicy: { Name: i % 2 ? 'always' : 'no' } } });
      assert.equal(r.status, 201, r.body);
      created.push(name);
    }
    const victims = survivors.filter((n) => !removed.has(n)).slice(0, 2);
    for (const v of victims) removed.add(v);
    const burst = [
      ...Array.from({ length: 4 }, (_, i) => d.api('POST', `/containers/create?name=burst-${round}-${i}`, { Image: 'busybox', Cmd: ['sleep', '100000'] })),
      ...created.map((n) => d.api('POST', `/containers/${n}/start`)),
      ...victims.map((n) => d.api('DELETE', `/containers/${n}?force=1`)),
    ].map((p) => p.catch(() => undefined));
    await sleep(killAfterMs);
    await d.stopProcess('SIGKILL');
    await Promise.all(burst);
    await d.startProcess();
    // the restart policies start containers after the daemon is back: wait for that to settle
    const all = await until(`round ${round}: a consistent state`, () => assertConsistent(`round ${round}`));
    const names = new Set(all.map((c) => c.Names[0].slice(1)));
    for (const n of survivors) {
      if (removed.has(n)) continue;
      assert.ok(names.has(n), `round ${round}: ${n} is gone`);
      const info = (await d.api('GET', `/containers/${n}/json`)).json();
      assert.equal(info.State.Status, 'running', `round ${round}: ${n}`);
      assert.equal(info.State.Pid, pids.get(n), `round ${round}: ${n} kept its process`);
    }
    // whatever the crash interrupted is whole: it starts and is removed like any other
    for (const n of [...created, ...Array.from({ length: 4 }, (_, i) => `burst-${round}-${i}`)]) {
      if (!names.has(n)) continue;
      const info = (await d.api('GET', `/containers/${n}/json`)).json();
      if (info.State.Status !== 'running') {
        const s = await d.api('POST', `/containers/${n}/start`);
        assert.equal(s.status, 204, `round ${round}: ${n} does not start: ${s.body}`);
      }
      const rm = await d.api('DELETE', `/containers/${n}?force=1`);
      assert.equal(rm.status, 204, `round ${round}: ${n} cannot be removed: ${rm.body}`);
    }
    await assertConsistent(`round ${round}, after clean-up`);
  }

  // what the restarts had to repair (varies with timing; shown, not asserted)
  for (const what of ['removing incomplete container', 'whose creation did not finish', 'undoing the unfinished start']) {
    t.diagnostic(`${what}: ${d.output.split(what).length - 1}`);
  }
  for (const c of await list()) assert.equal((await d.api('DELETE', `/containers/${c.Id}?force=1`)).status, 204);
  assert.deepEqual(await assertConsistent('at the end'), []);
  assert.deepEqual(conmons().size, 0);
  for (const pid of pids.values()) assert.throws(() => process.kill(pid, 0), 'every container process is gone');
  assert.deepEqual(await snapshots(), imageSnapshots, 'no container snapshot is left: only the image layers the daemon started with');
  assert.equal(readdirSync(path.join(d.dataRoot, 'containers')).length, 0, 'no container folders left');
  // a removal answers before the CNI teardown of its network ends (see teardownSandbox)
  await until('no network namespaces left', async () => (readdirSync(path.join(d.execRoot, 'netns')).length === 0 ? true : undefined), 10_000);
});
