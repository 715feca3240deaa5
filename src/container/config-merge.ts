/**
 * What happens to a create request before a container exists: the request's Config is
 * completed from the image's Config (dockerd's merge rules), and HostConfig values that
 * can never work are refused with dockerd's own messages, as 400s.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig, HealthConfig, HostConfig } from '../api/types';
import { invalid } from '../common/errors';

const envKey = (entry: string) => entry.split('=')[0];

/** The user's Env, then each image variable whose name the user did not set. */
function mergeEnv(user: string[] | null | undefined, image: string[] | null | undefined): string[] | null | undefined {
  if (!user?.length) return image ? [...image] : user;
  const userKeys = new Set(user.map(envKey));
  return [...user, ...(image ?? []).filter((e) => !userKeys.has(envKey(e)))];
}

/** A set-like object (ExposedPorts, Volumes): the user's keys plus the image's. */
function unionKeys(user: Record<string, object> | null | undefined, image: Record<string, object> | null | undefined): Record<string, object> | null | undefined {
  if (!user || Object.keys(user).length === 0) return image ? { ...image } : user;
  return { ...(image ?? {}), ...user };
}

/** A user healthcheck inherits from the image's each field it leaves at zero. */
function mergeHealthcheck(user: HealthConfig | undefined, image: HealthConfig | undefined): HealthConfig | undefined {
  if (!image) return user;
  if (!user) return { ...image };
  return {
    ...user,
    Test: user.Test?.length ? user.Test : image.Test,
    Interval: user.Interval || image.Interval,
    Timeout: user.Timeout || image.Timeout,
    StartPeriod: user.StartPeriod || image.StartPeriod,
    StartInterval: user.StartInterval || image.StartInterval,
    Retries: user.Retries || image.Retries,
  };
}

/**
 * Completes a create request's Config from the image's, as dockerd does at create.
 *
 * Entrypoint and Cmd: when the user gives an Entrypoint (even `[""]`, the CLI's
 * `--entrypoint ""`), the image's Cmd is not used unless the user also gives Cmd; a
 * missing (null) Entrypoint takes the image's, an explicit empty one does not. `[""]`
 * is then cleared. A result with neither is refused: `no command specified`.
 */
export function mergeWithImage(create: ContainerConfig, image: ContainerConfig | undefined): ContainerConfig {
  const out: ContainerConfig = { ...create };
  if (image) {
    if (!out.User) out.User = image.User;
    out.ExposedPorts = unionKeys(create.ExposedPorts, image.ExposedPorts);
    out.Env = mergeEnv(create.Env, image.Env);
    out.Labels = { ...(image.Labels ?? {}), ...(create.Labels ?? {}) };
    if (!create.Entrypoint?.length) {
      if (!create.Cmd?.length) {
        out.Cmd = image.Cmd ? [...image.Cmd] : image.Cmd;
        out.ArgsEscaped = image.ArgsEscaped;
      }
      if (create.Entrypoint === undefined || create.Entrypoint === null) {
        out.Entrypoint = image.Entrypoint ? [...image.Entrypoint] : image.Entrypoint;
      }
    }
    out.Healthcheck = mergeHealthcheck(create.Healthcheck, image.Healthcheck);
    if (!out.WorkingDir) out.WorkingDir = image.WorkingDir;
    out.Volumes = unionKeys(create.Volumes, image.Volumes);
    if (!out.StopSignal) out.StopSignal = image.StopSignal;
    if (!out.OnBuild?.length && image.OnBuild) out.OnBuild = [...image.OnBuild];
    if (!out.Shell?.length && image.Shell) out.Shell = [...image.Shell];
  }
  if (out.Entrypoint?.length === 1 && out.Entrypoint[0] === '') out.Entrypoint = null;
  if (!out.Entrypoint?.length && !out.Cmd?.length) throw invalid('no command specified');
  if (out.WorkingDir) {
    if (!out.WorkingDir.startsWith('/')) {
      throw invalid(`the working directory '${out.WorkingDir}' is invalid, it needs to be an absolute path`);
    }
    out.WorkingDir = path.posix.normalize(out.WorkingDir).replace(/(.)\/+$/, '$1');
  }
  return out;
}

/** The process's command line: Entrypoint followed by Cmd. */
export function commandLine(config: ContainerConfig): string[] {
  return [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
}

/** dockerd's smallest memory limit (and reservation): 6 MiB. */
export const MIN_MEMORY = 6 * 1024 * 1024;

/** CPUs this process may run on, as Go's runtime.NumCPU reports to dockerd. */
function usableCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** Parses a cpuset list such as "0-2,4"; undefined when malformed. */
export function parseCpuList(list: string): number[] | undefined {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

function validateRestartPolicy(hc: HostConfig): void {
  const policy = hc.RestartPolicy;
  const name = policy?.Name ?? '';
  const retries = policy?.MaximumRetryCount ?? 0;
  switch (name) {
    case '':
    case 'no':
    case 'always':
    case 'unless-stopped':
      if (retries !== 0) throw invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'");
      break;
    case 'on-failure':
      if (retries < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
      break;
    default:
      throw invalid(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (hc.AutoRemove && name !== '' && name !== 'no') {
    throw invalid("can't create 'AutoRemove' container with restart policy");
  }
}

function validateMemory(hc: HostConfig): void {
  const memory = hc.Memory ?? 0;
  const swap = hc.MemorySwap ?? 0;
  const reservation = hc.MemoryReservation ?? 0;
  if (memory !== 0 && memory < MIN_MEMORY) throw invalid('Minimum memory limit allowed is 6MB');
  if (memory === 0 && swap > 0) throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (memory > 0 && swap > 0 && swap < memory) throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage');
  const swappiness = hc.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw invalid(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw invalid('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  if (reservation > 0 && reservation < MIN_MEMORY) throw invalid('Minimum memory reservation allowed is 6MB');
  if ((hc.ShmSize ?? 0) < 0) throw invalid('SHM size can not be less than 0');
}

function validateCpu(hc: HostConfig, cpus: number): void {
  const nano = hc.NanoCpus ?? 0;
  if (nano > 0 && (hc.CpuPeriod ?? 0) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && (hc.CpuQuota ?? 0) > 0) throw invalid('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > cpus * 1e9) {
    throw invalid(`Range of CPUs is from 0.01 to ${cpus}.00, as there are only ${cpus} CPUs available`);
  }
  const period = hc.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw invalid('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = hc.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw invalid('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if ((hc.CpuShares ?? 0) < 0) throw invalid(`invalid CPU shares (${hc.CpuShares}): value must be a positive integer`);
  for (const [field, label] of [['CpusetCpus', 'cpus'], ['CpusetMems', 'mems']] as const) {
    const value = hc[field];
    if (!value) continue;
    const list = parseCpuList(value);
    if (!list) throw invalid(`Invalid value ${value} for cpuset ${label}`);
    if (field === 'CpusetCpus' && list.some((c) => c >= cpus)) {
      throw invalid(`Requested CPUs are not available - requested ${value}, available: ${cpus === 1 ? '0' : `0-${cpus - 1}`}`);
    }
  }
}

/**
 * Refuses HostConfig values that can never work, with dockerd's messages. `cpus` is the
 * number of CPUs the daemon may use (defaults to this machine's).
 */
export function validateHostConfig(hc: HostConfig | undefined, cpus = usableCpus()): void {
  if (!hc) return;
  validateMemory(hc);
  validateCpu(hc, cpus);
  const blkio = hc.BlkioWeight ?? 0;
  if (blkio > 0 && (blkio < 10 || blkio > 1000)) throw invalid('Range of blkio weight is from 10 to 1000');
  const oom = hc.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) throw invalid(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`);
  for (const u of hc.Ulimits ?? []) {
    if (u.Soft > u.Hard) throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
  for (const dest of Object.keys(hc.Tmpfs ?? {})) {
    if (!dest.startsWith('/')) throw invalid(`invalid mount config for type "tmpfs": invalid mount path: '${dest}' mount path must be absolute`);
  }
  validateRestartPolicy(hc);
}
