import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cpuPercent, memoryUsage, parseNetDev, sampleStats, systemCpuUsage } from '../../src/container/stats';
import { StatsContext } from '../../src/cli/commands/stats';

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
      { major: 8, minor: 0, op: 'read', value: 4096 },
      { major: 8, minor: 0, op: 'write', value: 8192 },
      { major: 8, minor: 0, op: 'total', value: 12288 },
    ]);
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
