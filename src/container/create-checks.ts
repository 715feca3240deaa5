/**
 * dockerd's checks of a create request that the API's types cannot express (daemon
 * verifyContainerSettings on Linux): each refuses with dockerd's words, as a 400, before
 * anything is made; CpuShares is brought into the kernel's range as dockerd does.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ContainerCreateBody, HostConfig } from '../api/types';
import { invalid } from '../common/errors';
import { signalNumber } from './signals';

/** HOST_NAME_MAX on Linux (include/uapi/linux/limits.h). */
const MAX_HOSTNAME_BYTES = 64;
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262144;

/** Go's net.ParseMAC: 6, 8 or 20 octets as xx:xx.., xx-xx.. or xxxx.xxxx.. */
export function isMacAddress(s: string): boolean {
  for (const sep of [':', '-']) {
    const parts = s.split(sep);
    if ([6, 8, 20].includes(parts.length) && parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return true;
  }
  const dotted = s.split('.');
  return [3, 4, 10].includes(dotted.length) && dotted.every((p) => /^[0-9a-fA-F]{4}$/.test(p));
}

/** What the host's kernel offers that a request may ask for. */
export interface HostSupport {
  /** the cpu cgroup's real-time scheduler budget (cgroup v1 with CONFIG_RT_GROUP_SCHED) */
  cpuRealtime: boolean;
}

let probed: HostSupport | undefined;

function hostSupport(): HostSupport {
  probed ??= { cpuRealtime: ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct'].some((d) => existsSync(path.join(d, 'cpu.rt_runtime_us'))) };
  return probed;
}

export function checkCreateRequest(body: ContainerCreateBody, hc: HostConfig, host: HostSupport = hostSupport()): void {
  const hostname = body.Hostname ?? '';
  if (Buffer.byteLength(hostname) > MAX_HOSTNAME_BYTES) throw invalid(`hostname ${JSON.stringify(hostname)} is too long (maximum ${MAX_HOSTNAME_BYTES} bytes)`);
  if (body.StopSignal) signalNumber(body.StopSignal);
  for (const env of body.Env ?? []) {
    if (env.split('=')[0] === '') throw invalid(`invalid environment variable: ${env}`);
  }
  const macs = [body.MacAddress, ...Object.values(body.NetworkingConfig?.EndpointsConfig ?? {}).map((e) => (e as { MacAddress?: unknown } | null)?.MacAddress)];
  for (const mac of macs) {
    if (typeof mac === 'string' && mac !== '' && !isMacAddress(mac)) throw invalid(`invalid MAC address ${mac}`);
  }
  for (const m of hc.Mounts ?? []) {
    if (m.Type === 'bind' && m.Source && !path.posix.isAbsolute(m.Source)) {
      throw invalid(`invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`);
    }
  }
  checkRealtime(hc, host);
  const shares = hc.CpuShares ?? 0;
  if (shares < 0) throw invalid(`invalid CPU shares (${shares}): value must be a positive integer`);
  if (shares > 0 && shares < MIN_CPU_SHARES) hc.CpuShares = MIN_CPU_SHARES;
  if (shares > MAX_CPU_SHARES) hc.CpuShares = MAX_CPU_SHARES;
}

/** dockerd's checks of the real-time CPU options, at create and at update. */
export function checkRealtime(hc: Pick<HostConfig, 'CpuRealtimePeriod' | 'CpuRealtimeRuntime'>, host: HostSupport = hostSupport()): void {
  const period = hc.CpuRealtimePeriod ?? 0;
  const runtime = hc.CpuRealtimeRuntime ?? 0;
  if ((period !== 0 || runtime !== 0) && !host.cpuRealtime) throw invalid('Your kernel does not support CPU real-time scheduler');
  if (period !== 0 && runtime !== 0 && runtime > period) throw invalid('cpu-rt-runtime cannot be higher than cpu-rt-period');
}
