/**
 * A container's resource use, read from its cgroup (v1 here, v2 on most hosts) and its
 * network namespace, in the shape of the API's ContainerStatsResponse, so `docker stats`
 * and dashboards built on the API compute the same figures as they do for Docker.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CGROUP_ROOT, cgroupDir, type CgroupVersion } from './cgroups';
import type { BlkioEntry, ContainerStats, CpuStats, NetworkStats } from './stats-formulas';

export { blockIo, cpuPercent, memoryUsage, networkIo, type BlkioEntry, type ContainerStats, type CpuStats, type NetworkStats } from './stats-formulas';

/** The read time of a zeroed answer: Go's zero time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
/** USER_HZ: /proc/stat and cpuacct.stat count in these ticks */
const TICKS_PER_SECOND = 100;

async function read(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function readNumber(file: string): Promise<number | undefined> {
  const t = (await read(file))?.trim();
  if (t === undefined || t === '' || t === 'max') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) as a map. */
export function flatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** The host's CPU time in nanoseconds, as Docker counts it: the first seven fields of "cpu". */
export function systemCpuUsage(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const ticks = line.trim().split(/\s+/).slice(1, 8).map(Number).reduce((a, b) => a + b, 0);
  return (ticks * 1e9) / TICKS_PER_SECOND;
}

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** A zeroed answer, as Docker gives for a container that is not running. */
export function emptyStats(id: string, name: string): ContainerStats {
  return {
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: emptyCpu(),
    memory_stats: {},
    name,
    id,
  };
}

async function cpuV1(cgroupsPath: string, root: string): Promise<CpuStats> {
  const acct = cgroupDir('cpuacct', cgroupsPath, 'v1', root);
  const cpu = cgroupDir('cpu', cgroupsPath, 'v1', root);
  const st = flatKeyed(await read(path.join(acct, 'cpuacct.stat')));
  const percpu = (await read(path.join(acct, 'cpuacct.usage_percpu')))?.trim().split(/\s+/).filter(Boolean).map(Number);
  const thr = flatKeyed(await read(path.join(cpu, 'cpu.stat')));
  return {
    cpu_usage: {
      total_usage: (await readNumber(path.join(acct, 'cpuacct.usage'))) ?? 0,
      percpu_usage: percpu,
      usage_in_kernelmode: ((st.system ?? 0) * 1e9) / TICKS_PER_SECOND,
      usage_in_usermode: ((st.user ?? 0) * 1e9) / TICKS_PER_SECOND,
    },
    throttling_data: { periods: thr.nr_periods ?? 0, throttled_periods: thr.nr_throttled ?? 0, throttled_time: thr.throttled_time ?? 0 },
  };
}

async function cpuV2(dir: string): Promise<CpuStats> {
  const st = flatKeyed(await read(path.join(dir, 'cpu.stat')));
  return {
    cpu_usage: { total_usage: (st.usage_usec ?? 0) * 1000, usage_in_kernelmode: (st.system_usec ?? 0) * 1000, usage_in_usermode: (st.user_usec ?? 0) * 1000 },
    throttling_data: { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: (st.throttled_usec ?? 0) * 1000 },
  };
}

/**
 * v1 blkio files: "8:0 Read 4096" lines, the operation spelled as the kernel does (Read,
 * Write, Sync, Async, Discard, Total), as Docker passes them on; the closing "Total N"
 * line is not an entry.
 */
export function blkioEntries(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(\w+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

/**
 * v1 block I/O: the BFQ scheduler's counters where it has any (what runc reports first),
 * otherwise the throttle layer's, which count every request the cgroup issued.
 */
async function blkioV1(dir: string): Promise<{ bytes: BlkioEntry[]; ios: BlkioEntry[] }> {
  for (const prefix of ['blkio.bfq.', 'blkio.throttle.']) {
    const bytes = blkioEntries(await read(path.join(dir, `${prefix}io_service_bytes_recursive`)));
    const ios = blkioEntries(await read(path.join(dir, `${prefix}io_serviced_recursive`)));
    if (bytes.length || ios.length || prefix === 'blkio.throttle.') return { bytes, ios };
  }
  return { bytes: [], ios: [] };
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." into Docker's read/write entries. */
export function ioStatEntries(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const f = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...at, op: 'read', value: f.rbytes ?? 0 }, { ...at, op: 'write', value: f.wbytes ?? 0 });
    ios.push({ ...at, op: 'read', value: f.rios ?? 0 }, { ...at, op: 'write', value: f.wios ?? 0 });
  }
  return { bytes, ios };
}

/** /proc/<pid>/net/dev of the container's process: its interfaces, loopback left out. */
export function parseNetDev(text: string | undefined): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of (text ?? '').split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest) continue;
    const iface = name.trim();
    if (iface === 'lo') continue;
    const f = rest.trim().split(/\s+/).map(Number);
    out[iface] = { rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3], tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11] };
  }
  return out;
}

export interface StatsTarget {
  id: string;
  name: string;
  cgroupsPath: string;
  version: CgroupVersion;
  pid: number;
}

/** One sample of a running container. `root` and `proc` move the readers onto test trees. */
export async function sampleStats(t: StatsTarget, o: { root?: string; proc?: string } = {}): Promise<ContainerStats> {
  const root = o.root ?? CGROUP_ROOT;
  const proc = o.proc ?? '/proc';
  const s = emptyStats(t.id, t.name);
  s.read = new Date().toISOString();
  const procStat = (await read(path.join(proc, 'stat'))) ?? '';
  if (t.version === 'v1') {
    s.cpu_stats = await cpuV1(t.cgroupsPath, root);
    const mem = cgroupDir('memory', t.cgroupsPath, 'v1', root);
    const stats = flatKeyed(await read(path.join(mem, 'memory.stat')));
    const limit = await readNumber(path.join(mem, 'memory.limit_in_bytes'));
    s.memory_stats = {
      usage: await readNumber(path.join(mem, 'memory.usage_in_bytes')),
      max_usage: await readNumber(path.join(mem, 'memory.max_usage_in_bytes')),
      failcnt: await readNumber(path.join(mem, 'memory.failcnt')),
      // an unlimited cgroup reports a huge number: the host's memory is the real limit
      limit: limit === undefined || limit > os.totalmem() ? os.totalmem() : limit,
      stats,
    };
    const pids = cgroupDir('pids', t.cgroupsPath, 'v1', root);
    s.pids_stats = { current: await readNumber(path.join(pids, 'pids.current')), limit: await readNumber(path.join(pids, 'pids.max')) };
    const blk = cgroupDir('blkio', t.cgroupsPath, 'v1', root);
    const io = await blkioV1(blk);
    s.blkio_stats.io_service_bytes_recursive = io.bytes;
    s.blkio_stats.io_serviced_recursive = io.ios;
  } else {
    const dir = cgroupDir('', t.cgroupsPath, 'v2', root);
    s.cpu_stats = await cpuV2(dir);
    const limit = await readNumber(path.join(dir, 'memory.max'));
    s.memory_stats = {
      usage: await readNumber(path.join(dir, 'memory.current')),
      limit: limit ?? os.totalmem(),
      stats: flatKeyed(await read(path.join(dir, 'memory.stat'))),
    };
    s.pids_stats = { current: await readNumber(path.join(dir, 'pids.current')), limit: await readNumber(path.join(dir, 'pids.max')) };
    const io = ioStatEntries(await read(path.join(dir, 'io.stat')));
    s.blkio_stats.io_service_bytes_recursive = io.bytes;
    s.blkio_stats.io_serviced_recursive = io.ios;
  }
  s.cpu_stats.system_cpu_usage = systemCpuUsage(procStat);
  s.cpu_stats.online_cpus = os.cpus().length;
  if (t.pid > 0) {
    const nets = parseNetDev(await read(path.join(proc, String(t.pid), 'net', 'dev')));
    if (Object.keys(nets).length) s.networks = nets;
  }
  return s;
}
