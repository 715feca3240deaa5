/**
 * What berthd does for crun: its start and delete done in the daemon (src/runtime/crun-direct.ts)
 * against state folders laid out as crun 1.8 lays them, its messages in runc's words
 * (runtime-errors.ts), and its compiled seccomp filters kept per profile (seccomp-cache.ts).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync, readFileSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { deleteCrunDirect, startCrunDirect } from '../../src/runtime/crun-direct';
import { inRuncWords } from '../../src/runtime/runtime-errors';
import { BPF_ANNOTATION, SeccompBpfCache } from '../../src/runtime/seccomp-cache';

function startTime(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

async function tmp(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'berth-crun-'));
}

async function writeState(root: string, id: string, status: object, config: object): Promise<string> {
  const dir = path.join(root, id);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'status'), JSON.stringify(status));
  await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const ownPidNs = { linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }] } };
const deadInit = { pid: 2 ** 22 + 1, 'process-start-time': 1 }; // above pid_max: never a live process

test('crun: delete of a stopped container removes its cgroup in every hierarchy and its state', async () => {
  const root = await tmp();
  try {
    // a v1 layout of folders stands in for the cgroup mounts
    const cg = path.join(root, 'cgroup');
    await fsp.mkdir(path.join(cg, 'memory', 'berth', 'c1', 'made-inside'), { recursive: true });
    await fsp.mkdir(path.join(cg, 'pids', 'berth', 'c1'), { recursive: true });
    await fsp.mkdir(path.join(cg, 'cpu', 'berth', 'other'), { recursive: true });
    const dir = await writeState(root, 'c1', { ...deadInit, 'cgroup-path': '/berth/c1' }, ownPidNs);
    assert.equal(await deleteCrunDirect(root, 'c1', cg), true);
    assert.equal(existsSync(dir), false, 'the state folder is gone');
    assert.equal(existsSync(path.join(cg, 'memory', 'berth', 'c1')), false);
    assert.equal(existsSync(path.join(cg, 'pids', 'berth', 'c1')), false);
    assert.ok(existsSync(path.join(cg, 'cpu', 'berth', 'other')), 'other cgroups stay');
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('crun: delete leaves to crun a live init, a shared PID namespace, hooks, a systemd cgroup, a root cgroup path', async () => {
  const root = await tmp();
  try {
    const cg = path.join(root, 'cgroup');
    await fsp.mkdir(path.join(cg, 'memory'), { recursive: true });
    const live = { pid: process.pid, 'process-start-time': startTime(process.pid), 'cgroup-path': '/berth/live' };
    const dead = { ...deadInit, 'cgroup-path': '/berth/x' };
    await writeState(root, 'live', live, ownPidNs);
    await writeState(root, 'shared', dead, { linux: { namespaces: [{ type: 'pid', path: '/proc/1/ns/pid' }] } });
    await writeState(root, 'nopid', dead, { linux: { namespaces: [{ type: 'mount' }] } });
    await writeState(root, 'hooks', dead, { ...ownPidNs, hooks: { poststop: [{ path: '/bin/true' }] } });
    await writeState(root, 'systemd', { ...dead, 'systemd-cgroup': true }, ownPidNs);
    await writeState(root, 'rootcg', { ...dead, 'cgroup-path': '/' }, ownPidNs);
    for (const id of ['live', 'shared', 'nopid', 'hooks', 'systemd', 'rootcg']) {
      assert.equal(await deleteCrunDirect(root, id, cg), false, id);
      assert.ok(existsSync(path.join(root, id, 'status')), `${id}: nothing was changed`);
    }
    assert.equal(await deleteCrunDirect(root, 'unknown', cg), false);
    // a pid reused by another process (another start time) is a dead init
    await writeState(root, 'reused', { ...live, 'process-start-time': live['process-start-time'] + 1 }, ownPidNs);
    assert.equal(await deleteCrunDirect(root, 'reused', cg), true);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('crun: start writes the byte init waits for on exec.fifo, and removes the fifo', async () => {
  const root = await tmp();
  try {
    const dir = path.join(root, 'c2');
    await fsp.mkdir(dir);
    const fifo = path.join(dir, 'exec.fifo');
    const got = path.join(root, 'got');
    execFileSync('mkfifo', [fifo]);
    // as crun's init: hold the read end, wait for a byte, go on
    const init = spawn('sh', ['-c', `head -c 1 < '${fifo}' | od -An -tx1 > '${got}'; exec sleep 30`], { stdio: 'ignore' });
    try {
      await writeState(root, 'c2', { pid: init.pid, 'process-start-time': startTime(init.pid!) }, ownPidNs);
      let started = false;
      for (let i = 0; i < 200 && !started; i++) {
        started = await startCrunDirect(root, 'c2');
        if (!started) {
          // no reader yet (ENXIO): try again, the fifo must still be there
          assert.ok(existsSync(fifo));
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      assert.equal(started, true);
      assert.equal(existsSync(fifo), false, 'the fifo is gone, as after crun start');
      for (let i = 0; i < 200 && !readFileSync(got, 'utf8').trim(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(readFileSync(got, 'utf8').trim(), '00');
    } finally {
      init.kill('SIGKILL');
    }
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('crun: start leaves to crun a dead init, a started container, hooks', async () => {
  const root = await tmp();
  try {
    const dead = path.join(root, 'dead');
    await writeState(root, 'dead', deadInit, ownPidNs);
    execFileSync('mkfifo', [path.join(dead, 'exec.fifo')]);
    assert.equal(await startCrunDirect(root, 'dead'), false);
    assert.ok(existsSync(path.join(dead, 'exec.fifo')));
    const alive = { pid: process.pid, 'process-start-time': startTime(process.pid) };
    await writeState(root, 'started', alive, ownPidNs); // no fifo: started before
    assert.equal(await startCrunDirect(root, 'started'), false);
    const hooks = await writeState(root, 'hooks', alive, { ...ownPidNs, hooks: { poststart: [{ path: '/bin/true' }] } });
    execFileSync('mkfifo', [path.join(hooks, 'exec.fifo')]);
    assert.equal(await startCrunDirect(root, 'hooks'), false);
    assert.ok(existsSync(path.join(hooks, 'exec.fifo')));
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test("crun's messages in runc's words: what decides the docker CLI's 126 and 127", () => {
  assert.equal(inRuncWords('executable file `nosuch` not found in $PATH: No such file or directory', 'nosuch'), 'unable to start container process: exec: "nosuch": executable file not found in $PATH');
  assert.equal(inRuncWords('executable file `/no/such` not found in $PATH: No such file or directory', '/no/such'), 'unable to start container process: exec: "/no/such": stat /no/such: no such file or directory');
  assert.equal(inRuncWords('open executable: Permission denied', '/etc/passwd', true), 'exec failed: unable to start container process: exec: "/etc/passwd": permission denied');
  assert.equal(inRuncWords('open executable: Operation not permitted', '/etc'), 'unable to start container process: exec: "/etc": permission denied');
  assert.equal(inRuncWords('chdir `/nope`: No such file or directory', 'true', true), 'exec failed: unable to start container process: chdir to cwd ("/nope") set in config.json failed: no such file or directory');
  assert.equal(inRuncWords('cannot set memory limit: Invalid argument', 'x'), 'cannot set memory limit: Invalid argument');
});

test('seccomp filters: the first container of a profile is compiled, its filter kept, the next ones get it', async () => {
  const dir = await tmp();
  try {
    const cache = new SeccompBpfCache(path.join(dir, 'cache'), '/bin/sh');
    const profile = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
    const first: { linux: { seccomp: object }; annotations?: Record<string, string> } = { linux: { seccomp: profile } };
    const keep = await cache.apply(first);
    assert.ok(keep, 'a miss asks to keep the compiled filter');
    assert.equal(first.annotations?.[BPF_ANNOTATION], undefined);
    // crun leaves the filter it loaded in the container's state folder
    const state = path.join(dir, 'state');
    await fsp.mkdir(state);
    await fsp.writeFile(path.join(state, 'seccomp.bpf'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    await keep(state);
    const second: { linux: { seccomp: object }; annotations?: Record<string, string> } = { linux: { seccomp: { ...profile } }, annotations: { a: 'b' } };
    assert.equal(await cache.apply(second), undefined);
    assert.deepEqual(second.annotations, { a: 'b', [BPF_ANNOTATION]: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]).toString('base64') });
    // another profile, or a filter the user gave, is not served from the cache
    const other: { linux: { seccomp: object }; annotations?: Record<string, string> } = { linux: { seccomp: { ...profile, defaultAction: 'SCMP_ACT_KILL' } } };
    assert.ok(await cache.apply(other));
    assert.equal(other.annotations, undefined);
    const own = { linux: { seccomp: profile }, annotations: { [BPF_ANNOTATION]: 'AAAA' } };
    assert.equal(await cache.apply(own), undefined);
    assert.equal(own.annotations[BPF_ANNOTATION], 'AAAA');
    // a new cache over the same folder (a restarted daemon) finds the kept filter on disk
    const again: { linux: { seccomp: object }; annotations?: Record<string, string> } = { linux: { seccomp: profile } };
    assert.equal(await new SeccompBpfCache(path.join(dir, 'cache'), '/bin/sh').apply(again), undefined);
    assert.ok(again.annotations?.[BPF_ANNOTATION]);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
