import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ContainerConfig, HostConfig } from '../../src/api/types';
import { isBerthError } from '../../src/common/errors';
import { cgroupDir, cgroupsPathFor, detectCgroupVersion, readOomKilled } from '../../src/container/cgroups';
import { buildSpec, containerRlimits, currentNofileHardLimit, DEFAULT_PATH_ENV, SpecInput, specToJSON, tmpfsOptions } from '../../src/container/spec';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../src/container/security-defaults';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const MB = 1024 * 1024;
const ID = 'a'.repeat(64);

function input(config: ContainerConfig = {}, hostConfig: HostConfig = {}, extra: Partial<SpecInput> = {}): SpecInput {
  return {
    id: ID,
    config: { Cmd: ['/bin/sh'], ...config },
    hostConfig,
    rootfs: '/var/lib/berth/rootfs',
    user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
    etcFiles: { hosts: '/c/hosts', hostname: '/c/hostname', resolvConf: '/c/resolv.conf' },
    netns: 'new',
    cgroupsPath: `/berth/${ID}`,
    cgroupVersion: 'v1',
    terminal: false,
    ...extra,
  };
}

const mount = (spec: ReturnType<typeof buildSpec>, dest: string) => spec.mounts.find((m) => m.destination === dest);
const nsTypes = (spec: ReturnType<typeof buildSpec>) => spec.linux.namespaces.map((n) => n.type).sort();

describe('buildSpec: process', () => {
  it('runs Entrypoint+Cmd with Docker env defaults', () => {
    const s = buildSpec(input({ Entrypoint: ['/bin/echo'], Cmd: ['hi'], Env: ['A=1'] }));
    assert.deepEqual(s.process.args, ['/bin/echo', 'hi']);
    assert.deepEqual(s.process.env, [`PATH=${DEFAULT_PATH_ENV}`, 'HOSTNAME=aaaaaaaaaaaa', 'A=1', 'HOME=/root']);
    assert.equal(s.process.cwd, '/');
    assert.equal(s.hostname, 'aaaaaaaaaaaa');
  });
  it('keeps the config PATH and HOME, adds TERM for a tty', () => {
    const s = buildSpec(input({ Env: ['PATH=/x', 'HOME=/h'], Hostname: 'web', WorkingDir: '/srv' }, {}, { terminal: true }));
    assert.deepEqual(s.process.env, ['PATH=/x', 'HOSTNAME=web', 'TERM=xterm', 'HOME=/h']);
    assert.equal(s.process.terminal, true);
    assert.equal(s.process.cwd, '/srv');
  });
  it("gives root Docker's default capabilities, none inheritable or ambient", () => {
    const c = buildSpec(input()).process.capabilities!;
    assert.deepEqual(c.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(c.effective, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(c.permitted, [...DEFAULT_CAPABILITIES]);
    assert.equal(c.inheritable, undefined);
    assert.equal(c.ambient, undefined);
  });
  it('gives a non-root user only the bounding set', () => {
    const s = buildSpec(input({}, {}, { user: { uid: 1000, gid: 1000, additionalGids: [10], home: '/home/u' } }));
    assert.deepEqual(s.process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 10] }, 'the primary group is also a supplementary one, as dockerd writes it');
    assert.deepEqual(s.process.capabilities, { bounding: [...DEFAULT_CAPABILITIES] });
  });
  it('applies cap-add and cap-drop in any spelling, and ALL', () => {
    const s = buildSpec(input({}, { CapAdd: ['net_admin', 'CAP_SYS_PTRACE'], CapDrop: ['MKNOD', 'cap_net_raw'] }));
    const b = s.process.capabilities!.bounding!;
    assert.ok(b.includes('CAP_NET_ADMIN') && b.includes('CAP_SYS_PTRACE'));
    assert.ok(!b.includes('CAP_MKNOD') && !b.includes('CAP_NET_RAW'));
    assert.deepEqual(buildSpec(input({}, { CapDrop: ['all'], CapAdd: ['chown'] })).process.capabilities!.bounding, ['CAP_CHOWN']);
    const all = buildSpec(input({}, { CapAdd: ['ALL'], CapDrop: ['kill'] })).process.capabilities!.bounding!;
    assert.ok(all.includes('CAP_SYS_ADMIN') && !all.includes('CAP_KILL'));
  });
  it('refuses an unknown capability with a 400', () => {
    assert.throws(() => buildSpec(input({}, { CapAdd: ['FLY'] })), (e: unknown) => isBerthError(e, 'INVALID_PARAMETER') && (e as Error).message === 'unknown capability: "CAP_FLY"');
  });
  it('sets no-new-privileges from SecurityOpt', () => {
    assert.equal(buildSpec(input()).process.noNewPrivileges, false);
    assert.equal(buildSpec(input({}, { SecurityOpt: ['no-new-privileges'] })).process.noNewPrivileges, true);
    assert.equal(buildSpec(input({}, { SecurityOpt: ['no-new-privileges:true'] })).process.noNewPrivileges, true);
    assert.equal(buildSpec(input({}, { SecurityOpt: ['no-new-privileges=false'] })).process.noNewPrivileges, false);
  });
  it('accepts apparmor and label options, refuses unknown ones', () => {
    buildSpec(input({}, { SecurityOpt: ['apparmor=unconfined', 'label=disable', 'label:type:x'] }));
    assert.throws(() => buildSpec(input({}, { SecurityOpt: ['bogus=1'] })), /invalid --security-opt 2: "bogus=1"/);
    assert.throws(() => buildSpec(input({}, { SecurityOpt: ['bogus'] })), /invalid --security-opt 1: "bogus"/);
    assert.throws(() => buildSpec(input({}, { SecurityOpt: ['no-new-privileges=maybe'] })), /invalid --security-opt 2/);
  });
  it('caps the default RLIMIT_NOFILE at the current hard limit, passes ulimits through', () => {
    const hard = currentNofileHardLimit();
    assert.deepEqual(buildSpec(input()).process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: Math.min(hard, 1048576), soft: Math.min(hard, 1048576) }]);
    assert.deepEqual(containerRlimits([], 20000), [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
    assert.deepEqual(containerRlimits([{ Name: 'nofile', Soft: 100, Hard: 200 }, { Name: 'core', Soft: -1, Hard: -1 }], 20000), [
      { type: 'RLIMIT_NOFILE', hard: 200, soft: 100 },
      { type: 'RLIMIT_CORE', hard: 18446744073709551615n, soft: 18446744073709551615n },
    ]);
    assert.throws(() => containerRlimits([{ Name: 'bogus', Soft: 1, Hard: 1 }]), /invalid ulimit type: bogus/);
  });
  it('prints RLIM_INFINITY exactly in JSON', () => {
    const json = specToJSON(buildSpec(input({}, { Ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }] })));
    assert.match(json, /"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615/);
  });
  it('sets oomScoreAdj only when asked', () => {
    assert.equal(buildSpec(input()).process.oomScoreAdj, undefined);
    assert.equal(buildSpec(input({}, { OomScoreAdj: 500 })).process.oomScoreAdj, 500);
  });
});

describe('buildSpec: mounts and root', () => {
  it("has Docker's default mounts and the /etc files", () => {
    const s = buildSpec(input());
    assert.deepEqual(s.mounts.map((m) => m.destination), [
      '/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm',
      '/etc/resolv.conf', '/etc/hostname', '/etc/hosts',
    ]);
    assert.deepEqual(mount(s, '/sys')!.options, ['nosuid', 'noexec', 'nodev', 'ro']);
    assert.equal(mount(s, '/sys/fs/cgroup')!.options![0], 'ro');
    assert.ok(mount(s, '/dev/shm')!.options!.includes(`size=${64 * MB}`));
    assert.deepEqual(mount(s, '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/c/hosts', options: ['rbind', 'rprivate'] });
    assert.ok(mount(s, '/dev/pts')!.options!.includes('ptmxmode=0666'));
    assert.equal(s.root.readonly, false);
  });
  it('honours ShmSize, Tmpfs, ReadonlyRootfs and user mounts', () => {
    const s = buildSpec(input({}, { ShmSize: 128 * MB, Tmpfs: { '/run': 'size=16m,exec' }, ReadonlyRootfs: true }, {
      extraMounts: [{ destination: '/etc/hosts', type: 'bind', source: '/my/hosts', options: ['rbind', 'ro'] }, { destination: '/data', type: 'bind', source: '/v' }],
    }));
    assert.ok(mount(s, '/dev/shm')!.options!.includes(`size=${128 * MB}`));
    assert.deepEqual(mount(s, '/run')!.options, ['nosuid', 'nodev', 'rprivate', 'size=16m', 'exec']);
    assert.equal(mount(s, '/etc/hosts')!.source, '/my/hosts');
    assert.equal(s.mounts.filter((m) => m.destination === '/etc/hosts').length, 1);
    assert.ok(mount(s, '/data'));
    assert.equal(s.root.readonly, true);
  });
  it('merges tmpfs options with later ones winning', () => {
    assert.deepEqual(tmpfsOptions(''), ['noexec', 'nosuid', 'nodev', 'rprivate']);
    assert.deepEqual(tmpfsOptions('size=1m,size=2m,mode=700'), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=2m', 'mode=700']);
  });
});

describe('buildSpec: namespaces', () => {
  it('creates pid, ipc, uts, mount and a new network namespace', () => {
    assert.deepEqual(nsTypes(buildSpec(input())), ['ipc', 'mount', 'network', 'pid', 'uts']);
  });
  it('shares the host network for host, joins a given one by path', () => {
    assert.deepEqual(nsTypes(buildSpec(input({}, {}, { netns: 'host' }))), ['ipc', 'mount', 'pid', 'uts']);
    const s = buildSpec(input({}, {}, { netns: { path: '/run/netns/x' } }));
    assert.deepEqual(s.linux.namespaces.find((n) => n.type === 'network'), { type: 'network', path: '/run/netns/x' });
  });
  it('uses a private cgroup namespace on v2 only (unless asked)', () => {
    assert.ok(nsTypes(buildSpec(input({}, {}, { cgroupVersion: 'v2' }))).includes('cgroup'));
    assert.ok(!nsTypes(buildSpec(input({}, {}, { cgroupVersion: 'v1' }))).includes('cgroup'));
    assert.ok(!nsTypes(buildSpec(input({}, { CgroupnsMode: 'host' }, { cgroupVersion: 'v2' }))).includes('cgroup'));
  });
  it('shares host pid/ipc/uts when asked, without a hostname for host uts', () => {
    const s = buildSpec(input({}, { PidMode: 'host', IpcMode: 'host', UTSMode: 'host' }));
    assert.deepEqual(nsTypes(s), ['mount', 'network']);
    assert.equal(s.hostname, undefined);
  });
});

describe('buildSpec: resources', () => {
  const res = (hc: HostConfig, version: 'v1' | 'v2' = 'v1') => buildSpec(input({}, hc, { cgroupVersion: version })).linux.resources;
  it('-m 64m: swap defaults to twice the memory (memory+swap)', () => {
    assert.deepEqual(res({ Memory: 64 * MB }).memory, { limit: 64 * MB, swap: 128 * MB });
  });
  it('--memory-swap: explicit total, or -1 for unlimited', () => {
    assert.deepEqual(res({ Memory: 64 * MB, MemorySwap: 100 * MB }).memory, { limit: 64 * MB, swap: 100 * MB });
    assert.deepEqual(res({ Memory: 64 * MB, MemorySwap: -1 }).memory, { limit: 64 * MB, swap: -1 });
  });
  it('drops swap when the kernel lacks swap accounting', () => {
    const s = buildSpec(input({}, { Memory: 64 * MB }, { swapLimitSupported: false }));
    assert.deepEqual(s.linux.resources.memory, { limit: 64 * MB });
  });
  it('sets swappiness only when given and only on v1; reservation', () => {
    assert.equal(res({ Memory: 64 * MB, MemorySwappiness: 10 }).memory!.swappiness, 10);
    assert.equal(res({ Memory: 64 * MB, MemorySwappiness: -1 }).memory!.swappiness, undefined);
    assert.equal(res({ Memory: 64 * MB, MemorySwappiness: 10 }, 'v2').memory!.swappiness, undefined);
    assert.equal(res({ MemoryReservation: 32 * MB }).memory!.reservation, 32 * MB);
  });
  it('--cpus 0.5 gives quota 50000 per period 100000', () => {
    assert.deepEqual(res({ NanoCpus: 5e8 }).cpu, { period: 100000, quota: 50000 });
    assert.deepEqual(res({ CpuPeriod: 50000, CpuQuota: 25000, CpuShares: 512, CpusetCpus: '0' }).cpu, { period: 50000, quota: 25000, shares: 512, cpus: '0' });
  });
  it('--pids-limit 64; 0 and -1 are unlimited', () => {
    assert.deepEqual(res({ PidsLimit: 64 }).pids, { limit: 64 });
    assert.equal(res({ PidsLimit: 0 }).pids, undefined);
    assert.equal(res({ PidsLimit: -1 }).pids, undefined);
  });
  it("denies devices but Docker's defaults, plus DeviceCgroupRules", () => {
    const d = res({ DeviceCgroupRules: ['c 42:* rmw'] }).devices!;
    assert.deepEqual(d[0], { allow: false, access: 'rwm' });
    assert.ok(d.some((r) => r.type === 'c' && r.major === 1 && r.minor === 3 && r.access === 'rwm'));
    assert.ok(d.some((r) => r.type === 'c' && r.major === 136 && r.minor === undefined));
    assert.ok(d.some((r) => r.type === 'c' && r.major === 10 && r.minor === 200));
    assert.deepEqual(d[d.length - 1], { allow: true, type: 'c', major: 42, access: 'rmw' });
    assert.throws(() => res({ DeviceCgroupRules: ['x 1:1 r'] }), /invalid device cgroup format/);
  });
  it('creates HostConfig.Devices nodes and allows them', () => {
    const s = buildSpec(input({}, { Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }] }));
    assert.deepEqual(s.linux.devices, [{ path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }]);
    assert.deepEqual(s.linux.resources.devices!.at(-1), { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
    assert.throws(() => buildSpec(input({}, { Devices: [{ PathOnHost: '/dev/nope', PathInContainer: '', CgroupPermissions: '' }] })), /no such file or directory/);
  });
});

describe('buildSpec: confinement', () => {
  it("masks Docker's paths and applies the default seccomp profile", () => {
    const s = buildSpec(input());
    assert.deepEqual(s.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    assert.deepEqual(s.linux.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
    assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.linux.cgroupsPath, `/berth/${ID}`);
  });
  it('privileged: all available caps, no masks, no seccomp, /sys rw, all devices', () => {
    const s = buildSpec(input({}, { Privileged: true }));
    assert.ok(s.process.capabilities!.bounding!.includes('CAP_SYS_ADMIN'));
    assert.ok(s.process.capabilities!.bounding!.length > DEFAULT_CAPABILITIES.length);
    assert.equal(s.linux.maskedPaths, undefined);
    assert.equal(s.linux.readonlyPaths, undefined);
    assert.equal(s.linux.seccomp, undefined);
    assert.ok(mount(s, '/sys')!.options!.includes('rw'));
    assert.ok(mount(s, '/sys/fs/cgroup')!.options!.includes('rw'));
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  });
  it('seccomp=unconfined removes the filter; SYS_ADMIN widens it', () => {
    assert.equal(buildSpec(input({}, { SecurityOpt: ['seccomp=unconfined'] })).linux.seccomp, undefined);
    const admin = buildSpec(input({}, { CapAdd: ['SYS_ADMIN'] })).linux.seccomp!;
    assert.ok(admin.syscalls!.some((g) => g.names.includes('mount')));
  });
  it('MaskedPaths/ReadonlyPaths from HostConfig replace the defaults', () => {
    const s = buildSpec(input({}, { MaskedPaths: [], ReadonlyPaths: ['/proc/sys'] }));
    assert.deepEqual(s.linux.maskedPaths, []);
    assert.deepEqual(s.linux.readonlyPaths, ['/proc/sys']);
  });
  it('passes sysctls and annotations', () => {
    const s = buildSpec(input({}, { Sysctls: { 'net.ipv4.ip_forward': '1' }, Annotations: { a: 'b' } }));
    assert.deepEqual(s.linux.sysctl, { 'net.ipv4.ip_forward': '1' });
    assert.deepEqual(s.annotations, { a: 'b' });
  });
});

describe('cgroups', () => {
  it('detects the version from cgroup.controllers', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'berth-cg-'));
    try {
      assert.equal(detectCgroupVersion(d), 'v1');
      writeFileSync(path.join(d, 'cgroup.controllers'), 'cpu memory pids\n');
      assert.equal(detectCgroupVersion(d), 'v2');
      assert.match(detectCgroupVersion(), /^v[12]$/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('names cgroup directories per layout', () => {
    assert.equal(cgroupsPathFor('abc'), '/berth/abc');
    assert.equal(cgroupsPathFor('abc', 'mine/'), '/mine/abc');
    assert.equal(cgroupDir('memory', '/berth/abc', 'v1', '/cg'), '/cg/memory/berth/abc');
    assert.equal(cgroupDir('memory', '/berth/abc', 'v2', '/cg'), '/cg/berth/abc');
  });
  it('reads oom_kill from memory.oom_control (v1) and memory.events (v2)', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'berth-cg-'));
    try {
      mkdirSync(path.join(d, 'memory/berth/x'), { recursive: true });
      writeFileSync(path.join(d, 'memory/berth/x/memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
      assert.equal(await readOomKilled('/berth/x', 'v1', d), true);
      mkdirSync(path.join(d, 'berth/y'), { recursive: true });
      writeFileSync(path.join(d, 'berth/y/memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n');
      assert.equal(await readOomKilled('/berth/y', 'v2', d), false);
      assert.equal(await readOomKilled('/berth/gone', 'v2', d), false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('capabilities the daemon lacks', () => {
  it('refuses to add one, accepts dropping one', async () => {
    const { availableCapabilities } = await import('../../src/container/security-defaults');
    const missing = ['CAP_SYS_RESOURCE', 'CAP_CHECKPOINT_RESTORE', 'CAP_BPF'].find((c) => !availableCapabilities().includes(c));
    if (!missing) return; // a daemon with every capability: nothing to check here
    assert.throws(() => buildSpec(input({}, { CapAdd: [missing] })), /not available in the current environment/);
    assert.deepEqual(buildSpec(input({}, { CapDrop: [missing] })).process.capabilities!.bounding, [...DEFAULT_CAPABILITIES]);
    assert.ok(!buildSpec(input({}, { CapAdd: ['ALL'] })).process.capabilities!.bounding!.includes(missing));
  });
});
