/**
 * The shape of the API's ContainerStatsResponse, and what clients compute from it with
 * Docker's formulas: `berth stats` and the dashboard's charts use these same functions.
 * No Node-only imports here: the dashboard's bundle takes this module as it is.
 */

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

/** Fields in the order of the spec's ContainerStatsResponse, which is the order Docker writes them. */
export interface ContainerStats {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, BlkioEntry[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; limit?: number; failcnt?: number; stats?: Record<string, number> };
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

export function cpuPercent(cur: CpuStats, pre: CpuStats): number {
  const cpuDelta = cur.cpu_usage.total_usage - pre.cpu_usage.total_usage;
  const sysDelta = (cur.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cpus = cur.online_cpus || cur.cpu_usage.percpu_usage?.length || 1;
  return sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
}

/** Memory in use without the page cache that can be dropped (v1: total_inactive_file; v2: inactive_file). */
export function memoryUsage(m: ContainerStats['memory_stats']): number {
  const usage = m.usage ?? 0;
  const st = m.stats ?? {};
  const inactive = st.total_inactive_file ?? st.inactive_file;
  return inactive !== undefined && inactive < usage ? usage - inactive : usage;
}

/** Bytes read and written, summed over devices (BLOCK I/O); v1 spells the operations "Read"/"Write", v2 "read"/"write". */
export function blockIo(s: Pick<ContainerStats, 'blkio_stats'>): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') read += e.value;
    if (op === 'write') write += e.value;
  }
  return { read, write };
}

/** Bytes received and sent, summed over interfaces (NET I/O). */
export function networkIo(s: Pick<ContainerStats, 'networks'>): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return { rx, tx };
}
