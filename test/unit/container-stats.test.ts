import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuPercent, memoryUsage, parseNetDev, sampleStats, systemCpuUsage } from '../../src/container/stats';
import { StatsContext } from '../../src/cli/commands/stats';
import { FakeEngine, json, runCli } from '../helpers/fake-engine';
import type { ContainerStats, CpuStats } from '../../src/container/stats';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'berth-stats-'));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
  }
  return root;
}

const PROC_STAT = 'cpu  100 0 50 800 10 0 40 0 0 0\ncpu0 50 0 25 400 5 0 20 0 0 0\n';
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1500      10    1    2    0     0          0         0     2500      20    3    4    0     0       0          0
`;

test('a cgroup v1 tree reads as the API shapes it', async () => {
  const cg = '/berth/abc';
  const root = tree({
    'cgroup/cpuacct/berth/abc/cpuacct.usage': '5000000000\n',
    'cgroup/cpuacct/berth/abc/cpuacct.usage_percpu': '3000000000 2000000000 \n',
    'cgroup/cpuacct/berth/abc/cpuacct.stat': 'user 300\nsystem 100\n',
    'cgroup/cpu/berth/abc/cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 777\n',
    'cgroup/memory/berth/abc/memory.usage_in_bytes': '31457280\n',
    'cgroup/memory/berth/abc/memory.max_usage_in_bytes': '41943040\n',
    'cgroup/memory/berth/abc/memory.limit_in_bytes': '67108864\n',
    'cgroup/memory/berth/abc/memory.failcnt': '0\n',
    'cgroup/memory/berth/abc/memory.stat': 'cache 20971520\ntotal_inactive_file 10485760\nrss 1048576\n',
    'cgroup/pids/berth/abc/pids.current': '3\n',
    'cgroup/pids/berth/abc/pids.max': '50\n',
    'cgroup/blkio/berth/abc/blkio.throttle.io_service_bytes_recursive': '8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n',
    'cgroup/blkio/berth/abc/blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\n',
    'proc/stat': PROC_STAT,
    'proc/42/net/dev': NET_DEV,
  });
  try {
    const s = await sampleStats({ id: 'abc', name: '/web', cgroupsPath: cg, version: 'v1', pid: 42 }, { root: path.join(root, 'cgroup'), proc: path.join(root, 'proc') });
    assert.equal(s.cpu_stats.cpu_usage.total_usage, 5e9);
    assert.deepEqual(s.cpu_stats.cpu_usage.percpu_usage, [3e9, 2e9]);
    assert.equal(s.cpu_stats.cpu_usage.usage_in_usermode, 3e9);
    assert.equal(s.cpu_stats.cpu_usage.usage_in_kernelmode, 1e9);
    assert.deepEqual(s.cpu_stats.throttling_data, { periods: 10, throttled_periods: 2, throttled_time: 777 });
    assert.equal(s.cpu_stats.system_cpu_usage, (100 + 50 + 800 + 10 + 40) * 1e7);
    assert.equal(s.memory_stats.usage, 31457280);
    assert.equal(s.memory_stats.limit, 67108864);
    assert.equal(s.memory_stats.stats?.total_inactive_file, 10485760);
    assert.deepEqual(s.pids_stats, { current: 3, limit: 50 });
    assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [
      { major: 8, minor: 0, op: 'Read', value: 4096 },
      { major: 8, minor: 0, op: 'Write', value: 8192 },
      { major: 8, minor: 0, op: 'Total', value: 12288 },
    ]);
    assert.deepEqual(s.blkio_stats.io_serviced_recursive, [
      { major: 8, minor: 0, op: 'Read', value: 1 },
      { major: 8, minor: 0, op: 'Write', value: 2 },
    ]);
    assert.equal(s.memory_stats.max_usage, 41943040);
    assert.equal(s.read.endsWith('Z') && s.read !== '0001-01-01T00:00:00Z', true);
    assert.deepEqual(Object.keys(s), ['read', 'preread', 'pids_stats', 'blkio_stats', 'num_procs', 'storage_stats', 'cpu_stats', 'precpu_stats', 'memory_stats', 'name', 'id', 'networks']);
    assert.deepEqual(Object.keys(s.networks ?? {}), ['eth0']);
    assert.equal(s.networks!.eth0.tx_bytes, 2500);
    assert.equal(s.networks!.eth0.rx_dropped, 2);
    const row = new StatsContext(s, 'web', true);
    assert.equal(row.MemUsage(), '20MiB / 64MiB');
    assert.equal(row.MemPerc(), '31.25%');
    assert.equal(row.NetIO(), '1.5kB / 2.5kB');
    assert.equal(row.BlockIO(), '4.1kB / 8.19kB');
    assert.equal(row.PIDs(), '3');
    assert.equal(row.Name(), 'web');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a cgroup v2 tree reads the unified files', async () => {
  const root = tree({
    'cgroup/berth/abc/cpu.stat': 'usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnr_periods 4\nnr_throttled 1\nthrottled_usec 30\n',
    'cgroup/berth/abc/memory.current': '1048576\n',
    'cgroup/berth/abc/memory.max': 'max\n',
    'cgroup/berth/abc/memory.stat': 'anon 4096\ninactive_file 524288\n',
    'cgroup/berth/abc/pids.current': '2\n',
    'cgroup/berth/abc/pids.max': 'max\n',
    'cgroup/berth/abc/io.stat': '8:16 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n',
    'proc/stat': PROC_STAT,
  });
  try {
    const s = await sampleStats({ id: 'abc', name: '/x', cgroupsPath: '/berth/abc', version: 'v2', pid: 0 }, { root: path.join(root, 'cgroup'), proc: path.join(root, 'proc') });
    assert.equal(s.cpu_stats.cpu_usage.total_usage, 2e9);
    assert.equal(s.cpu_stats.cpu_usage.usage_in_usermode, 1.5e9);
    assert.equal(s.cpu_stats.throttling_data.throttled_time, 30000);
    assert.equal(s.memory_stats.usage, 1048576);
    assert.equal(s.memory_stats.limit, os.totalmem(), 'no limit: the host memory');
    assert.equal(memoryUsage(s.memory_stats), 524288);
    assert.deepEqual(s.pids_stats, { current: 2, limit: undefined });
    assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [
      { major: 8, minor: 16, op: 'read', value: 100 },
      { major: 8, minor: 16, op: 'write', value: 200 },
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("docker's CPU percentage and the parsers", () => {
  const pre = { cpu_usage: { total_usage: 1e9, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: 100e9, online_cpus: 2, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  const cur = { ...pre, cpu_usage: { ...pre.cpu_usage, total_usage: 1.5e9 }, system_cpu_usage: 102e9 };
  assert.equal(cpuPercent(cur, pre), 50);
  assert.equal(cpuPercent(pre, pre), 0);
  assert.equal(systemCpuUsage('intr 1\n'), 0);
  assert.deepEqual(parseNetDev(''), {});
});

test('v1 block I/O: the BFQ counters when they have entries; an unlimited memory cgroup reports the host memory', async () => {
  const root = tree({
    'cgroup/blkio/berth/b/blkio.bfq.io_service_bytes_recursive': '8:16 Read 1000\n8:16 Write 3000\nTotal 4000\n',
    'cgroup/blkio/berth/b/blkio.bfq.io_serviced_recursive': '8:16 Read 1\n8:16 Write 3\nTotal 4\n',
    'cgroup/blkio/berth/b/blkio.throttle.io_service_bytes_recursive': '8:16 Read 5\nTotal 5\n',
    'cgroup/memory/berth/b/memory.limit_in_bytes': '9223372036854771712\n',
    'cgroup/memory/berth/b/memory.usage_in_bytes': '100\n',
    'proc/stat': PROC_STAT,
  });
  try {
    const s = await sampleStats({ id: 'b', name: '/b', cgroupsPath: '/berth/b', version: 'v1', pid: 0 }, { root: path.join(root, 'cgroup'), proc: path.join(root, 'proc') });
    assert.deepEqual(s.blkio_stats.io_service_bytes_recursive?.map((e) => `${e.major}:${e.minor} ${e.op} ${e.value}`), ['8:16 Read 1000', '8:16 Write 3000']);
    assert.equal(s.memory_stats.limit, os.totalmem());
    assert.equal(new StatsContext(s, 'b', true).BlockIO(), '1kB / 3kB');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  // no BFQ entries: the throttle layer's
  const t = tree({ 'cgroup/blkio/berth/c/blkio.bfq.io_service_bytes_recursive': 'Total 0\n', 'cgroup/blkio/berth/c/blkio.throttle.io_service_bytes_recursive': '8:0 Write 2500000\nTotal 2500000\n' });
  try {
    const s = await sampleStats({ id: 'c', name: '/c', cgroupsPath: '/berth/c', version: 'v1', pid: 0 }, { root: path.join(t, 'cgroup'), proc: path.join(t, 'proc') });
    assert.equal(new StatsContext(s, 'c', true).BlockIO(), '0B / 2.5MB');
  } finally {
    rmSync(t, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- the CLI against a fake engine

const engine = new FakeEngine('berth-cli-stats-');
before(() => engine.listen());
after(() => engine.stop());
beforeEach(() => engine.reset());

const ID_A = 'a'.repeat(12) + '0123456789abcdef'.repeat(3) + '0123';
const ID_B = 'b'.repeat(64);
const GiB = 1024 ** 3;

function cpu(total: number, system: number): CpuStats {
  return { cpu_usage: { total_usage: total, usage_in_kernelmode: 0, usage_in_usermode: 0 }, system_cpu_usage: system, online_cpus: 2, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** A running container's sample: a quarter of one of two CPUs, 1.5 MiB in use of 2 GiB on v1. */
function running(id: string, name: string): ContainerStats {
  return {
    read: '2024-05-01T10:00:01Z',
    preread: '2024-05-01T10:00:00Z',
    pids_stats: { current: 4, limit: 50 },
    blkio_stats: { io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'Read', value: 1200 }, { major: 8, minor: 0, op: 'Write', value: 4_500_000 }, { major: 8, minor: 0, op: 'Total', value: 4_501_200 }] },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu(3_000_000_000, 110_000_000_000),
    precpu_stats: cpu(2_500_000_000, 108_000_000_000),
    memory_stats: { usage: 3 * 1024 * 1024, limit: 2 * GiB, stats: { total_inactive_file: 1.5 * 1024 * 1024, inactive_file: 7 } },
    name: `/${name}`,
    id,
    networks: { eth0: { rx_bytes: 1234, rx_packets: 1, rx_errors: 0, rx_dropped: 0, tx_bytes: 500, tx_packets: 1, tx_errors: 0, tx_dropped: 0 }, eth1: { rx_bytes: 1000, rx_packets: 1, rx_errors: 0, rx_dropped: 0, tx_bytes: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 } },
  };
}

function stopped(id: string, name: string): ContainerStats {
  const zero = cpu(0, 0);
  delete zero.system_cpu_usage;
  delete zero.online_cpus;
  return { read: '0001-01-01T00:00:00Z', preread: '0001-01-01T00:00:00Z', pids_stats: {}, blkio_stats: { io_service_bytes_recursive: null }, num_procs: 0, storage_stats: {}, cpu_stats: zero, precpu_stats: zero, memory_stats: {}, name: `/${name}`, id };
}

function serveStats(byName: Record<string, ContainerStats>): void {
  for (const [key, s] of Object.entries(byName)) {
    engine.answers[`GET /containers/${key}/stats`] = (_req, res) => json(res, 200, s);
  }
}

test('berth stats --no-stream NAME: docker columns, CPU and memory from the samples, stream=0 asked', async () => {
  serveStats({ web: running(ID_A, 'web') });
  const r = await runCli(['-H', engine.host, 'stats', '--no-stream', 'web']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.deepEqual(lines[0].split(/ {2,}/), ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS']);
  assert.equal(lines[0].indexOf('PIDS'), lines[1].lastIndexOf('4'), 'columns aligned');
  // cpu: 0.5e9 / 2e9 * 2 CPUs = 50%; memory: 3 MiB - 1.5 MiB inactive file = 1.5 MiB of 2 GiB
  assert.deepEqual(lines[1].split(/ {2,}/), [ID_A.slice(0, 12), 'web', '50.00%', '1.5MiB / 2GiB', '0.07%', '2.23kB / 500B', '1.2kB / 4.5MB', '4']);
  assert.equal(lines.length, 3);
  assert.equal(engine.seen[0].query.get('stream'), '0');
});

test('berth stats -a: every container listed, stopped ones as zeros, Container column the short ID; json and templates', async () => {
  engine.answers['GET /containers/json'] = (req, res) => json(res, 200, req.query.get('all') === '1' || req.query.get('all') === 'true' ? [{ Id: ID_A }, { Id: ID_B }] : [{ Id: ID_A }]);
  serveStats({ [ID_A.slice(0, 12)]: running(ID_A, 'web'), [ID_B.slice(0, 12)]: stopped(ID_B, 'idle') });
  const r = await runCli(['-H', engine.host, 'stats', '--no-stream', '-a', '--format', '{{.Container}} {{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${ID_A.slice(0, 12)} web 50.00% 1.5MiB / 2GiB 0.07% 2.23kB / 500B 1.2kB / 4.5MB 4\n${ID_B.slice(0, 12)} idle 0.00% 0B / 0B 0.00% 0B / 0B 0B / 0B 0\n`);
  const running1 = await runCli(['-H', engine.host, 'stats', '--no-stream', '--format', 'json']);
  assert.equal(running1.code, 0, running1.stderr);
  assert.deepEqual(running1.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown), [
    { BlockIO: '1.2kB / 4.5MB', CPUPerc: '50.00%', Container: ID_A.slice(0, 12), ID: ID_A.slice(0, 12), MemPerc: '0.07%', MemUsage: '1.5MiB / 2GiB', Name: 'web', NetIO: '2.23kB / 500B', PIDs: '4' },
  ]);
  const full = await runCli(['-H', engine.host, 'stats', '--no-stream', '--no-trunc', '--format', '{{.ID}}']);
  assert.equal(full.stdout, `${ID_A}\n`);
});

test('berth stats with an unknown container: the error alone, status 1', async () => {
  serveStats({ web: running(ID_A, 'web') });
  engine.answers['GET /containers/nope/stats'] = (_req, res) => json(res, 404, { message: 'No such container: nope' });
  const r = await runCli(['-H', engine.host, 'stats', '--no-stream', 'web', 'nope']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'Error response from daemon: No such container: nope\n');
  const bad = await runCli(['-H', engine.host, 'stats', '--no-stream', '--format', '{{.Nope', 'web']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /template parsing error/);
});

test('berth stats streaming: a table a second, no screen clearing off a terminal, until a container goes', async () => {
  let asked = 0;
  engine.answers['GET /containers/web/stats'] = (_req, res) => {
    asked++;
    if (asked > 2) json(res, 404, { message: 'No such container: web' });
    else json(res, 200, running(ID_A, 'web'));
  };
  const started = Date.now();
  const r = await runCli(['-H', engine.host, 'stats', '--format', '{{.Name}} {{.CPUPerc}}', 'web']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'web 50.00%\nweb 50.00%\n');
  assert.doesNotMatch(r.stdout, /\x1b/);
  assert.ok(Date.now() - started >= 1900, 'paced at one table a second');
  assert.equal(r.stderr, 'Error response from daemon: No such container: web\n');
});

test('memory usage: v1 subtracts total_inactive_file, v2 inactive_file, never below zero', () => {
  assert.equal(memoryUsage({ usage: 1000, stats: { total_inactive_file: 300, inactive_file: 100 } }), 700);
  assert.equal(memoryUsage({ usage: 1000, stats: { inactive_file: 100 } }), 900);
  assert.equal(memoryUsage({ usage: 1000, stats: { inactive_file: 5000 } }), 1000);
  assert.equal(memoryUsage({}), 0);
});
