import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

function cgroupFile(controller: string, id: string, file: string): string {
  const base = cgroupV2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${controller}`;
  return readFileSync(`${base}${d.cgroupParent}/${id}/${file}`, 'utf8').trim();
}

test('memory, cpu and pids limits are set in the container cgroup', async () => {
  const r = await d.berth(['run', '-d', '-m', '64m', '--cpus', '0.5', '--pids-limit', '64', '--cpu-shares', '512', 'busybox', 'sleep', '300']);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  try {
    if (cgroupV2) {
      assert.equal(cgroupFile('', id, 'memory.max'), String(64 * 1024 * 1024));
      assert.equal(cgroupFile('', id, 'cpu.max'), '50000 100000');
      assert.equal(cgroupFile('', id, 'pids.max'), '64');
    } else {
      assert.equal(cgroupFile('memory', id, 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      assert.equal(cgroupFile('cpu', id, 'cpu.cfs_quota_us'), '50000');
      assert.equal(cgroupFile('cpu', id, 'cpu.cfs_period_us'), '100000');
      assert.equal(cgroupFile('cpu', id, 'cpu.shares'), '512');
      assert.equal(cgroupFile('pids', id, 'pids.max'), '64');
    }
    const hc = JSON.parse((await d.berth(['inspect', '-f', '{{json .HostConfig}}', id])).stdout);
    assert.equal(hc.Memory, 64 * 1024 * 1024);
    assert.equal(hc.NanoCpus, 500_000_000);
    assert.equal(hc.PidsLimit, 64);
  } finally {
    await d.berth(['rm', '-f', id]);
  }
});

test('a process past -m is killed: OOMKilled and exit code 137', async () => {
  // conmon notes an OOM kill in a file named `oom` in its working folder: the bundle's, not
  // the folder berthd was started in
  const stray = path.join(d.cwd, 'oom');
  const r = await d.berth(['run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', 'busybox', 'tail', '/dev/zero'], { timeoutMs: 60_000 });
  assert.equal(r.code, 137, r.stderr);
  const state = (await d.berth(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oom'])).stdout.trim();
  assert.equal(state, 'true 137');
  await d.berth(['rm', 'oom']);
  assert.equal(existsSync(stray), false, 'no oom file where berthd was started');
});

test('--pids-limit stops a fork bomb', async () => {
  // the shell forks until the limit refuses, then gives up with busybox's "can't fork"
  const r = await d.berth(['run', '--rm', '--pids-limit', '10', 'busybox', 'sh', '-c', 'for i in $(seq 1 30); do sleep 3 & done; echo all-started'], { timeoutMs: 60_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /can't fork/);
  assert.doesNotMatch(r.stdout, /all-started/);
  const unlimited = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'for i in $(seq 1 30); do sleep 1 & done; echo all-started'], { timeoutMs: 60_000 });
  assert.match(unlimited.stdout, /all-started/);
});

function statusField(out: string, field: string): string {
  return new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(out)?.[1] ?? '';
}

test('default security: Docker capability set, seccomp filter, masked and read-only /proc paths', async () => {
  const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'cat /proc/self/status; echo ---; cat /proc/timer_list 2>&1 | head -c 50; ls /proc/acpi; echo; touch /proc/sys/kernel/hostname 2>&1; echo ---; ls /dev']);
  assert.equal(r.code, 0, r.stderr);
  const [status, procChecks, dev] = r.stdout.split('---\n');
  // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
  assert.equal(statusField(status, 'CapEff'), '00000000a80425fb');
  assert.equal(statusField(status, 'CapBnd'), '00000000a80425fb');
  assert.equal(statusField(status, 'Seccomp'), '2');
  assert.equal(procChecks.split('\n')[0].trim(), '', '/proc/timer_list reads as empty and /proc/acpi is an empty dir (masked)');
  assert.match(procChecks, /Read-only file system/);
  const devs = dev.split(/\s+/).filter(Boolean);
  for (const n of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'pts', 'shm']) assert.ok(devs.includes(n), `/dev/${n}`);
  assert.ok(!devs.includes('sda') && !devs.includes('vda'), 'no host disks');
});

test('--privileged, --cap-add/--cap-drop, --read-only, no-new-privileges', async () => {
  const priv = await d.berth(['run', '--rm', '--privileged', 'busybox', 'cat', '/proc/self/status']);
  assert.equal(statusField(priv.stdout, 'Seccomp'), '0');
  assert.match(statusField(priv.stdout, 'CapEff'), /^000001ff|^000000ff|^0000003f/);

  const dropped = await d.berth(['run', '--rm', '--cap-drop', 'CHOWN', '--cap-add', 'SYS_ADMIN', 'busybox', 'cat', '/proc/self/status']);
  const capEff = BigInt(`0x${statusField(dropped.stdout, 'CapEff')}`);
  assert.equal(capEff & 1n, 0n, 'CHOWN dropped');
  assert.equal((capEff >> 21n) & 1n, 1n, 'SYS_ADMIN added');

  const ro = await d.berth(['run', '--rm', '--read-only', 'busybox', 'sh', '-c', 'touch /x 2>&1; touch /tmp/y 2>&1; echo end']);
  assert.match(ro.stdout, /Read-only file system/);

  const nnp = await d.berth(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'cat', '/proc/self/status']);
  assert.equal(statusField(nnp.stdout, 'NoNewPrivs'), '1');
});
