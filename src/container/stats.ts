/**
 * A container's resource use, read from its cgroup (v1 here, v2 on most hosts) and its
 * network namespace, in the shape of the API's ContainerStatsResponse, so `docker stats`
 * and dashboards built on the API compute the same figures as they do for Docker.
 *
 * What Docker fills differs by cgroup version, and so does ours: on v1 every blkio list,
 * percpu_usage, max_usage and failcnt and the memory.stat keys Docker has always named;
 * on v2 only io_service_bytes_recursive, no percpu_usage, max_usage or failcnt, and the
 * v2 memory.stat keys. The readers take the cgroup and /proc roots as parameters so a
 * fake tree in a temp dir can stand in for either layout.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CGROUP_ROOT, cgroupDir, type CgroupVersion } from './cgroups';

/** The read time of a zeroed answer: Go's zero time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
/** USER_HZ: /proc/stat and cpuacct.stat count in these ticks */
const TICKS_PER_SECOND = 100;

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface MemoryStats {
  usage?: number;
  max_usage?: number;
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

/** The eight lists of blkio_stats, in the order Docker writes them. */
export const BLKIO_KEYS = [
  'io_service_bytes_recursive',
  'io_serviced_recursive',
  'io_queue_recursive',
  'io_service_time_recursive',
  'io_wait_time_recursive',
  'io_merged_recursive',
  'io_time_recursive',
  'sectors_recursive',
] as const;
export type BlkioKey = (typeof BLKIO_KEYS)[number];
export type BlkioStats = Partial<Record<BlkioKey, BlkioEntry[] | null>>;

/** Fields in the order of the spec's ContainerStatsResponse, which is the order Docker writes them. */
export interface ContainerStats {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: MemoryStats;
  name: string;
  id: string;
  networks?: Record<string, NetworkStats>;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

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

/** A count Docker leaves out when it is zero (Go's omitempty). */
const nonZero = (n: number | undefined): number | undefined => (n ? n : undefined);

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) as a map. */
export function flatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** A map with its keys in byte order: Go writes maps that way, so `stats` and `networks` read as Docker's do. */
function sortedKeys<T>(m: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The host's CPU time in nanoseconds, as Docker counts it: the first seven fields of the
 * "cpu" line of /proc/stat in USER_HZ ticks; and the online CPUs, one "cpuN" line each.
 */
export function systemCpu(procStat: string): { usage: number; online: number } {
  let usage = 0;
  let online = 0;
  for (const line of procStat.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    if (line.startsWith('cpu ')) {
      const ticks = line.trim().split(/\s+/).slice(1, 8).map(Number).reduce((a, b) => a + b, 0);
      usage = (ticks * 1e9) / TICKS_PER_SECOND;
    } else if (/^cpu\d/.test(line)) online++;
  }
  return { usage, online };
}

function emptyCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** A zeroed answer, as Docker gives for a container that is not running: its name and ID, all else zero. */
export function emptyStats(id: string, name: string): ContainerStats {
  return {
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: Object.fromEntries(BLKIO_KEYS.map((k) => [k, null])),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: emptyCpu(),
    memory_stats: {},
    name,
    id,
  };
}

/**
 * The memory.stat keys Docker reports on cgroup v1, each present (zero when the kernel has
 * no such line): the cgroup's own figures and the hierarchy's total_ ones. Clients compute
 * the used memory from total_inactive_file, older ones from cache.
 */
const V1_MEMORY_KEYS = [
  'cache', 'rss', 'rss_huge', 'mapped_file', 'dirty', 'writeback', 'pgpgin', 'pgpgout', 'pgfault', 'pgmajfault',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable',
  'hierarchical_memory_limit', 'hierarchical_memsw_limit',
  'total_cache', 'total_rss', 'total_rss_huge', 'total_mapped_file', 'total_dirty', 'total_writeback', 'total_pgpgin',
  'total_pgpgout', 'total_pgfault', 'total_pgmajfault', 'total_inactive_anon', 'total_active_anon', 'total_inactive_file',
  'total_active_file', 'total_unevictable',
];

export function v1MemoryStats(memoryStat: string | undefined): Record<string, number> {
  const raw = flatKeyed(memoryStat);
  return sortedKeys(Object.fromEntries(V1_MEMORY_KEYS.map((k) => [k, raw[k] ?? 0])));
}

/** An unlimited cgroup reports a huge number (v1) or "max" (v2): the host's memory is the real limit. */
function memoryLimit(limit: number | undefined): number {
  const host = os.totalmem();
  return limit === undefined || limit > host ? host : limit;
}

/**
 * v1 blkio files: "8:0 Read 4096" lines (the operation spelled as the kernel does: Read,
 * Write, Sync, Async, Discard, Total), or "8:0 4096" in the files without operations
 * (sectors, time). The closing "Total N" line is not an entry.
 */
export function blkioEntries(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+)\s+(?:(\w+)\s+)?(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3] ?? '', value: Number(m[4]) });
  }
  return out;
}

/** Where each list comes from under the CFQ scheduler (kernels before 5.0). */
const CFQ_FILES: Record<BlkioKey, string> = {
  io_service_bytes_recursive: 'blkio.io_service_bytes_recursive',
  io_serviced_recursive: 'blkio.io_serviced_recursive',
  io_queue_recursive: 'blkio.io_queued_recursive',
  io_service_time_recursive: 'blkio.io_service_time_recursive',
  io_wait_time_recursive: 'blkio.io_wait_time_recursive',
  io_merged_recursive: 'blkio.io_merged_recursive',
  io_time_recursive: 'blkio.time_recursive',
  sectors_recursive: 'blkio.sectors_recursive',
};

/**
 * v1 block I/O as Docker reads it: the CFQ scheduler's files when they exist and count
 * anything, otherwise the throttle layer's, which count every request the cgroup issued
 * whatever the scheduler (the only source on kernels since 5.0; BFQ's own counters are
 * not what Docker shows). Lists without a source are empty, not null, as Docker's.
 */
async function blkioV1(dir: string): Promise<BlkioStats> {
  const out: BlkioStats = Object.fromEntries(BLKIO_KEYS.map((k) => [k, [] as BlkioEntry[]]));
  if ((await read(path.join(dir, CFQ_FILES.io_serviced_recursive))) !== undefined) {
    let size = 0;
    for (const k of BLKIO_KEYS) {
      const entries = blkioEntries(await read(path.join(dir, CFQ_FILES[k])));
      out[k] = entries;
      size += entries.length;
    }
    if (size > 0) return out;
  }
  for (const k of BLKIO_KEYS) out[k] = [];
  out.io_service_bytes_recursive = blkioEntries(await read(path.join(dir, 'blkio.throttle.io_service_bytes_recursive')));
  out.io_serviced_recursive = blkioEntries(await read(path.join(dir, 'blkio.throttle.io_serviced_recursive')));
  return out;
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." into Docker's read and write byte entries. */
export function ioStatEntries(text: string | undefined): BlkioEntry[] {
  const bytes: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const f = Object.fromEntries(kv.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...at, op: 'read', value: f.rbytes ?? 0 }, { ...at, op: 'write', value: f.wbytes ?? 0 });
  }
  return bytes;
}

/** /proc/<pid>/net/dev of the container's process: its interfaces, loopback left out. */
export function parseNetDev(text: string | undefined): Record<string, NetworkStats> {
  const out: Record<string, NetworkStats> = {};
  for (const line of (text ?? '').split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (!iface || iface === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 12 || f.some((n) => !Number.isFinite(n))) continue;
    out[iface] = { rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3], tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11] };
  }
  return sortedKeys(out);
}

export interface StatsTarget {
  id: string;
  /** with the leading slash, as the API writes it */
  name: string;
  cgroupsPath: string;
  version: CgroupVersion;
  /** the container's init process, whose network namespace is counted */
  pid: number;
  /**
   * false when the container has no network of its own (host network, networking
   * disabled): Docker then leaves `networks` out rather than count the host's interfaces.
   */
  network?: boolean;
}

type Sampled = Pick<ContainerStats, 'pids_stats' | 'blkio_stats' | 'cpu_stats' | 'memory_stats'>;

async function sampleV1(cgroupsPath: string, root: string): Promise<Sampled | undefined> {
  const dir = (controller: string) => cgroupDir(controller, cgroupsPath, 'v1', root);
  const acct = dir('cpuacct');
  const total = await readNumber(path.join(acct, 'cpuacct.usage'));
  // the cgroup is gone: the container stopped under us
  if (total === undefined) return undefined;
  const st = flatKeyed(await read(path.join(acct, 'cpuacct.stat')));
  const percpu = (await read(path.join(acct, 'cpuacct.usage_percpu')))?.trim().split(/\s+/).filter(Boolean).map(Number);
  const thr = flatKeyed(await read(path.join(dir('cpu'), 'cpu.stat')));
  const mem = dir('memory');
  return {
    cpu_stats: {
      cpu_usage: {
        total_usage: total,
        percpu_usage: percpu,
        usage_in_kernelmode: ((st.system ?? 0) * 1e9) / TICKS_PER_SECOND,
        usage_in_usermode: ((st.user ?? 0) * 1e9) / TICKS_PER_SECOND,
      },
      throttling_data: { periods: thr.nr_periods ?? 0, throttled_periods: thr.nr_throttled ?? 0, throttled_time: thr.throttled_time ?? 0 },
    },
    memory_stats: {
      usage: nonZero(await readNumber(path.join(mem, 'memory.usage_in_bytes'))),
      max_usage: nonZero(await readNumber(path.join(mem, 'memory.max_usage_in_bytes'))),
      stats: v1MemoryStats(await read(path.join(mem, 'memory.stat'))),
      failcnt: nonZero(await readNumber(path.join(mem, 'memory.failcnt'))),
      limit: memoryLimit(await readNumber(path.join(mem, 'memory.limit_in_bytes'))),
    },
    pids_stats: {
      current: nonZero(await readNumber(path.join(dir('pids'), 'pids.current'))),
      limit: nonZero(await readNumber(path.join(dir('pids'), 'pids.max'))),
    },
    blkio_stats: await blkioV1(dir('blkio')),
  };
}

async function sampleV2(cgroupsPath: string, root: string): Promise<Sampled | undefined> {
  const dir = cgroupDir('', cgroupsPath, 'v2', root);
  const cpuStat = await read(path.join(dir, 'cpu.stat'));
  if (cpuStat === undefined) return undefined;
  const st = flatKeyed(cpuStat);
  const blkio: BlkioStats = Object.fromEntries(BLKIO_KEYS.map((k) => [k, null]));
  blkio.io_service_bytes_recursive = ioStatEntries(await read(path.join(dir, 'io.stat')));
  return {
    cpu_stats: {
      cpu_usage: { total_usage: (st.usage_usec ?? 0) * 1000, usage_in_kernelmode: (st.system_usec ?? 0) * 1000, usage_in_usermode: (st.user_usec ?? 0) * 1000 },
      throttling_data: { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: (st.throttled_usec ?? 0) * 1000 },
    },
    memory_stats: {
      usage: nonZero(await readNumber(path.join(dir, 'memory.current'))),
      stats: sortedKeys(flatKeyed(await read(path.join(dir, 'memory.stat')))),
      limit: memoryLimit(await readNumber(path.join(dir, 'memory.max'))),
    },
    pids_stats: {
      current: nonZero(await readNumber(path.join(dir, 'pids.current'))),
      limit: nonZero(await readNumber(path.join(dir, 'pids.max'))),
    },
    blkio_stats: blkio,
  };
}

/**
 * One sample of a running container; zeros (read = Go's zero time) when its cgroup is
 * gone, as for a stopped container. `root` and `proc` move the readers onto test trees.
 */
export async function sampleStats(t: StatsTarget, o: { root?: string; proc?: string } = {}): Promise<ContainerStats> {
  const root = o.root ?? CGROUP_ROOT;
  const proc = o.proc ?? '/proc';
  const read_ = new Date().toISOString();
  const sampled = t.version === 'v1' ? await sampleV1(t.cgroupsPath, root) : await sampleV2(t.cgroupsPath, root);
  const s = emptyStats(t.id, t.name);
  if (!sampled) return s;
  s.read = read_;
  Object.assign(s, sampled);
  // the host's counters right after the container's, so the two deltas span the same time
  const sys = systemCpu((await read(path.join(proc, 'stat'))) ?? '');
  const cpu = sampled.cpu_stats;
  s.cpu_stats = { cpu_usage: cpu.cpu_usage, system_cpu_usage: sys.usage, online_cpus: sys.online || os.cpus().length, throttling_data: cpu.throttling_data };
  if (t.network !== false && t.pid > 0) {
    const nets = parseNetDev(await read(path.join(proc, String(t.pid), 'net', 'dev')));
    if (Object.keys(nets).length) s.networks = nets;
  }
  return s;
}

// ---- what the CLI computes from the API's numbers (the docker CLI's formulas) ----------

/** CPU %: the container's share of the host's CPU time between two samples, times the CPUs. */
export function cpuPercent(cur: CpuStats, pre: CpuStats): number {
  const cpuDelta = cur.cpu_usage.total_usage - pre.cpu_usage.total_usage;
  const sysDelta = (cur.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  // older daemons left online_cpus out: the length of percpu_usage then
  const cpus = cur.online_cpus || cur.cpu_usage.percpu_usage?.length || 0;
  return sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
}

/**
 * Memory in use without the page cache that can be dropped: on v1 usage minus
 * total_inactive_file, on v2 usage minus inactive_file; each only when smaller than usage.
 */
export function memoryUsage(m: MemoryStats): number {
  const usage = m.usage ?? 0;
  const st = m.stats ?? {};
  if (st.total_inactive_file !== undefined && st.total_inactive_file < usage) return usage - st.total_inactive_file;
  const inactive = st.inactive_file ?? 0;
  return inactive < usage ? usage - inactive : usage;
}

/** MEM %: the used memory of the limit; zero without a limit (a container that is not running). */
export function memoryPercent(m: MemoryStats): number {
  const limit = m.limit ?? 0;
  return limit !== 0 ? (memoryUsage(m) / limit) * 100 : 0;
}

/** Bytes received and sent over all interfaces. */
export function networkIO(networks: ContainerStats['networks']): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return { rx, tx };
}

/** Bytes read and written: entries whose operation starts with r/R or w/W (v1 "Read", v2 "read"). */
export function blockIO(blkio: BlkioStats | undefined): { read: number; write: number } {
  let readBytes = 0;
  let write = 0;
  for (const e of blkio?.io_service_bytes_recursive ?? []) {
    const c = e.op.charAt(0).toLowerCase();
    if (c === 'r') readBytes += e.value;
    else if (c === 'w') write += e.value;
  }
  return { read: readBytes, write };
}
