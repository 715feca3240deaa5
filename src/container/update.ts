/**
 * `docker update`: the body of POST /containers/{id}/update merged into a container's
 * HostConfig with Docker's rules. A resource left out (or 0) keeps its value; the merged
 * config is checked as a create would check it.
 */
import type { HostConfig, RestartPolicy } from '../api/types';
import { invalid } from '../common/errors';
import { validateHostConfig } from './config-merge';
import { checkRealtime } from './create-checks';

/** The API's ContainerUpdateConfig: the Resources fields plus the restart policy. */
export type ContainerUpdateBody = Partial<
  Pick<
    HostConfig,
    | 'CpuShares'
    | 'Memory'
    | 'BlkioWeight'
    | 'CpuPeriod'
    | 'CpuQuota'
    | 'CpuRealtimePeriod'
    | 'CpuRealtimeRuntime'
    | 'CpusetCpus'
    | 'CpusetMems'
    | 'MemoryReservation'
    | 'MemorySwap'
    | 'NanoCpus'
    | 'PidsLimit'
  >
> & { RestartPolicy?: RestartPolicy; [other: string]: unknown };

const NUMERIC = ['CpuShares', 'Memory', 'BlkioWeight', 'CpuPeriod', 'CpuQuota', 'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'MemoryReservation', 'MemorySwap', 'NanoCpus'] as const;

/** The HostConfig after the update; throws (400) what Docker refuses. */
export function mergeUpdate(current: HostConfig, body: ContainerUpdateBody, cpus?: number): HostConfig {
  const next: HostConfig = { ...current };
  for (const key of NUMERIC) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`invalid value for ${key}: ${String(v)}`);
    if (v !== 0) next[key] = v;
  }
  for (const key of ['CpusetCpus', 'CpusetMems'] as const) {
    const v = body[key];
    if (typeof v === 'string' && v !== '') next[key] = v;
  }
  // 0 and -1 both lift the limit; absent keeps it
  if (typeof body.PidsLimit === 'number') next.PidsLimit = body.PidsLimit;

  if ((body.NanoCpus ?? 0) !== 0) {
    if ((current.CpuQuota ?? 0) > 0 && !body.CpuQuota) throw invalid('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
    if ((current.CpuPeriod ?? 0) > 0 && !body.CpuPeriod) throw invalid('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  }
  if ((current.NanoCpus ?? 0) > 0 && !body.NanoCpus) {
    if ((body.CpuQuota ?? 0) !== 0) throw invalid('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
    if ((body.CpuPeriod ?? 0) !== 0) throw invalid('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  }
  const memory = body.Memory ?? 0;
  const swap = current.MemorySwap ?? 0;
  if (memory > 0 && !body.MemorySwap && swap > 0 && memory > swap) {
    throw invalid('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }

  if (body.RestartPolicy && (body.RestartPolicy.Name !== undefined || body.RestartPolicy.MaximumRetryCount !== undefined)) {
    const policy: RestartPolicy = { Name: body.RestartPolicy.Name ?? '', MaximumRetryCount: body.RestartPolicy.MaximumRetryCount ?? 0 };
    if (current.AutoRemove && policy.Name !== '' && policy.Name !== 'no') {
      throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    next.RestartPolicy = policy;
  }
  if (body.CpuRealtimePeriod || body.CpuRealtimeRuntime) checkRealtime(next);
  validateHostConfig(next, cpus);
  return next;
}

/** Whether the update changes any limit the running container's cgroup has to follow. */
export function changesResources(body: ContainerUpdateBody): boolean {
  return NUMERIC.some((k) => (body[k] ?? 0) !== 0) || !!body.CpusetCpus || !!body.CpusetMems || typeof body.PidsLimit === 'number';
}
