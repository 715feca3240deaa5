/**
 * runc's start and delete done in the daemon (src/runtime/runc-direct.ts), against state
 * folders laid out as runc 1.1 lays them, with processes of the test standing in for init.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync, readFileSync } from 'node:fs';
import { spawn, execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { deleteDirect, startDirect } from '../../src/runtime/runc-direct';

/** The start time (clock ticks since boot) of a process, as runc records it. */
function startTime(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

async function stateRoot(): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), 'berth-runc-direct-'));
}

async function writeState(root: string, id: string, state: object): Promise<string> {
  const dir = path.join(root, id);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'state.json'), JSON.stringify(state));
  return dir;
}

const ownPidNs = { namespaces: [{ type: 'NEWNS', path: '' }, { type: 'NEWPID', path: '' }] };

test('delete of a stopped container removes its cgroups (deepest first) and its state', async () => {
  const root = await stateRoot();
  try {
    // folders stand in for cgroups: rmdir of an empty one is what the kernel asks too
    const cg = path.join(root, 'cg');
    await fsp.mkdir(path.join(cg, 'memory', 'c1', 'made-inside'), { recursive: true });
    await fsp.mkdir(path.join(cg, 'pids', 'c1'), { recursive: true });
    const dir = await writeState(root, 'c1', {
      init_process_pid: 2 ** 22 + 1, // above pid_max: never a live process
      init_process_start: 1,
      cgroup_paths: { memory: path.join(cg, 'memory', 'c1'), pids: path.join(cg, 'pids', 'c1') },
      config: ownPidNs,
    });
    assert.equal(await deleteDirect(root, 'c1'), true);
    assert.equal(existsSync(dir), false, 'the state folder is gone');
    assert.equal(existsSync(path.join(cg, 'memory', 'c1')), false, 'the cgroup and the one made inside it are gone');
    assert.equal(existsSync(path.join(cg, 'pids', 'c1')), false);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('delete leaves to runc what it does not handle: a live init, a shared PID namespace, hooks, an unknown container', async () => {
  const root = await stateRoot();
  try {
    const live = { init_process_pid: process.pid, init_process_start: startTime(process.pid), config: ownPidNs };
    const dead = { init_process_pid: 2 ** 22 + 1, init_process_start: 1 };
    await writeState(root, 'live', live);
    await writeState(root, 'shared', { ...dead, config: { namespaces: [{ type: 'NEWPID', path: '/proc/1/ns/pid' }] } });
    await writeState(root, 'nopid', { ...dead, config: { namespaces: [{ type: 'NEWNS', path: '' }] } });
    await writeState(root, 'hooks', { ...dead, config: { ...ownPidNs, Hooks: { poststop: [{ path: '/bin/true' }] } } });
    for (const id of ['live', 'shared', 'nopid', 'hooks']) {
      assert.equal(await deleteDirect(root, id), false, id);
      assert.ok(existsSync(path.join(root, id, 'state.json')), `${id}: nothing was changed`);
    }
    assert.equal(await deleteDirect(root, 'unknown'), false);
    // a pid reused by another process (other start time) is a dead init
    await writeState(root, 'reused', { ...live, init_process_start: live.init_process_start + 1 });
    assert.equal(await deleteDirect(root, 'reused'), true);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('start reads the exec fifo that init writes, and removes it', async () => {
  const root = await stateRoot();
  try {
    const dir = path.join(root, 'c2');
    await fsp.mkdir(dir);
    const fifo = path.join(dir, 'exec.fifo');
    execFileSync('mkfifo', [fifo]);
    // as runc init: open the fifo for writing (blocks until read), write one byte, go on
    const init = spawn('sh', ['-c', `printf 0 > '${fifo}'; exec sleep 30`], { stdio: 'ignore' });
    try {
      await writeState(root, 'c2', { init_process_pid: init.pid, init_process_start: startTime(init.pid!), config: ownPidNs });
      assert.equal(await startDirect(root, 'c2'), true);
      assert.equal(existsSync(fifo), false, 'the fifo is gone, as after runc start');
    } finally {
      init.kill('SIGKILL');
    }
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('start of a container whose init died says so instead of waiting for ever', async () => {
  const root = await stateRoot();
  try {
    const dir = path.join(root, 'c3');
    await fsp.mkdir(dir);
    execFileSync('mkfifo', [path.join(dir, 'exec.fifo')]);
    await writeState(root, 'c3', { init_process_pid: 2 ** 22 + 1, init_process_start: 1, config: ownPidNs });
    await assert.rejects(startDirect(root, 'c3'), /already dead/);
    // without a fifo the runc command is left to say what is wrong
    await fsp.rm(path.join(dir, 'exec.fifo'));
    assert.equal(await startDirect(root, 'c3'), false);
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});

test('start leaves a container with hooks to runc, its fifo untouched', async () => {
  const root = await stateRoot();
  try {
    const dir = path.join(root, 'c4');
    await fsp.mkdir(dir);
    execFileSync('mkfifo', [path.join(dir, 'exec.fifo')]);
    await writeState(root, 'c4', { init_process_pid: 2 ** 22 + 1, init_process_start: 1, config: { ...ownPidNs, Hooks: { poststart: [{ path: '/bin/true' }] } } });
    assert.equal(await startDirect(root, 'c4'), false);
    assert.ok(existsSync(path.join(dir, 'exec.fifo')));
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});
