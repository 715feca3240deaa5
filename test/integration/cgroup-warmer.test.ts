/**
 * The daemon's cgroup warmer (src/runtime/cgroup-warmer.ts): a process of its own, berth-idle,
 * in two cgroups under the daemon's cgroup parent, moved while a container or an exec is
 * made; it ends with the daemon however the daemon ends, and its cgroups go at a clean stop.
 */
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon | undefined;
after(async () => {
  await d?.cleanup();
});

const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
const warmDirs = (parent: string) => ['a', 'b'].map((x) => path.join('/sys/fs/cgroup', v2 ? '' : 'pids', parent, `berth-warm-${x}`));
const procsIn = (dirs: string[]) => dirs.flatMap((dir) => (existsSync(dir) ? readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number) : []));
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(check(), what);
}

test('berth-idle sits in the warm cgroups, is moved by runs and execs, and ends with the daemon', { skip: v2 || existsSync('/sys/fs/cgroup/pids') ? false : 'no cgroup hierarchy for it' }, async () => {
  d = await TestDaemon.start();
  const dirs = warmDirs(d.cgroupParent);
  const [idle] = procsIn(dirs);
  assert.equal(procsIn(dirs).length, 1, 'one process in the two cgroups');
  assert.equal(readFileSync(`/proc/${idle}/comm`, 'utf8').trim(), 'berth-idle');
  assert.match(readFileSync(`/proc/${idle}/status`, 'utf8'), new RegExp(`^PPid:\\s+${d.pid}$`, 'm'), "the daemon's child");

  // where it is, seen every few ms while a command runs: moved back and forth, it shows both
  const inA = () => procsIn([dirs[0]]).includes(idle);
  const watch = async (command: Promise<{ code: number; stdout: string; stderr: string }>) => {
    const seen = new Set<boolean>([inA()]);
    let done = false;
    const r = command.finally(() => (done = true));
    while (!done) {
      seen.add(inA());
      await new Promise((res) => setTimeout(res, 2));
    }
    return { r: await r, seen };
  };
  const run = await watch(d.berth(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'ran']));
  assert.equal(run.r.stdout, 'ran\n', run.r.stderr);
  assert.equal(run.seen.size, 2, 'a run moved the warmer\'s process');
  const box = await d.berth(['run', '-d', '--name', 'warm-box', '--network', 'none', 'busybox', 'sleep', '100']);
  assert.equal(box.code, 0, box.stderr);
  await new Promise((res) => setTimeout(res, 100));
  const exec = await watch(d.berth(['exec', 'warm-box', 'true']));
  assert.equal(exec.r.code, 0, exec.r.stderr);
  assert.equal(exec.seen.size, 2, 'an exec moved it');

  // a daemon killed outright takes berth-idle with it (PR_SET_PDEATHSIG)
  await d.stopProcess('SIGKILL');
  await until(() => !alive(idle), 'berth-idle ended with the killed daemon');
  await d.startProcess();
  const [again] = procsIn(dirs);
  assert.ok(again && again !== idle && alive(again), 'a new berth-idle with the new daemon');
  await d.berth(['rm', '-f', 'warm-box']);

  // a clean stop removes its cgroups too
  await d.stopProcess('SIGTERM');
  await until(() => !alive(again), 'berth-idle ended at the stop');
  // removed by the daemon once berth-idle has exited: a moment after the process is gone
  await until(() => dirs.every((dir) => !existsSync(dir)), 'its cgroups are gone');
});
