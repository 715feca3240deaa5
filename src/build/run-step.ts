import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ContainerConfig } from '../api/types';
import { BerthError } from '../common/errors';
import { detectCgroupVersion } from '../container/cgroups';
import { writeEtcFiles } from '../container/etc-files';
import { buildSpec, specToJSON, type NetworkNamespace } from '../container/spec';
import { resolveUser } from '../container/user';
import { mountAll, unmount } from '../layer/mount';
import type { Snapshotter } from '../layer/snapshotter';

/** A RUN whose command failed: the build stops with the command's exit code. */
export class StepFailed extends BerthError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('INVALID_PARAMETER', message);
  }
}

/** The build's client went away: Docker's words for a cancelled build. */
export class BuildCancelled extends BerthError {
  constructor() {
    super('SYSTEM', 'context canceled');
  }
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new BuildCancelled();
}

export interface RunStepOptions {
  snapshotter: Snapshotter;
  /** the active snapshot the command writes into */
  key: string;
  /** a folder of the build's own for the bundle */
  workDir: string;
  runtimePath: string;
  runtimeRoot: string;
  cgroupParent: string;
  config: ContainerConfig;
  args: string[];
  output: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** aborted when the build is cancelled: the command is killed, the step fails */
  signal?: AbortSignal;
  /** the build's `networkmode`: the daemon's namespace when not given */
  network?: StepNetwork;
  /** the build's `extrahosts` (`name:address`), for the step's /etc/hosts */
  extraHosts?: string[];
  /**
   * Given, the root's unmount and the bundle's removal go on after runStep returns, and their
   * promise (which never rejects) is handed here: an overlay's unmount syncs its upper file
   * system, which can overlap the reading of the step's changes.
   */
  detachRelease?: (released: Promise<void>) => void;
}

/** Where a build's RUN steps are networked: a namespace made for the build (none, a user network) or the daemon's. */
export interface StepNetwork {
  netns: NetworkNamespace;
  addresses?: string[];
  /** a user-defined network's DNS server */
  embeddedDns?: string;
  gateway?: string;
}

/**
 * Runs one RUN instruction: the step's snapshot mounted as the root of a short-lived OCI
 * container, run with `runc run` and its output passed on as it comes. The container shares
 * the daemon's network namespace unless the build asked for a network.
 */
export async function runStep(o: RunStepOptions): Promise<void> {
  const bundle = path.join(o.workDir, o.key);
  const rootfs = path.join(bundle, 'rootfs');
  await fsp.mkdir(rootfs, { recursive: true });
  await mountAll(await o.snapshotter.mounts(o.key), rootfs);
  try {
    const net: StepNetwork = o.network ?? { netns: 'host' };
    const hostNetwork = net.netns === 'host';
    const hostConfig = { ExtraHosts: o.extraHosts ?? [] };
    const etc = await writeEtcFiles(bundle, { hostname: o.key.slice(0, 12), hostConfig, hostNetwork, addresses: net.addresses, embeddedDns: net.embeddedDns, gateway: net.gateway });
    const user = await resolveUser(rootfs, o.config.User ?? '');
    const config: ContainerConfig = { ...o.config, Entrypoint: null, Cmd: o.args };
    const spec = buildSpec({
      id: o.key,
      config,
      hostConfig: { NetworkMode: hostNetwork ? 'host' : 'none' },
      rootfs,
      user,
      etcFiles: { hosts: etc.hostsPath, hostname: etc.hostnamePath, resolvConf: etc.resolvConfPath },
      netns: net.netns,
      cgroupsPath: `${o.cgroupParent}/${o.key}`,
      cgroupVersion: detectCgroupVersion(),
      terminal: false,
    });
    // the image's /etc files are what the step should see and keep, not the daemon's copies;
    // as Docker's classic builder, extra hosts and a network of the build's own are seen
    // through the step's files, which leave the image's own as they were
    const own = new Set(['/etc/hostname']);
    if (!o.extraHosts?.length && hostNetwork) own.add('/etc/hosts');
    if (hostNetwork) own.add('/etc/resolv.conf');
    spec.mounts = spec.mounts.filter((m) => !own.has(m.destination));
    await fsp.writeFile(path.join(bundle, 'config.json'), specToJSON(spec));
    throwIfCancelled(o.signal);
    let killing: Promise<void> | undefined;
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(o.runtimePath, ['--root', o.runtimeRoot, 'run', '--bundle', bundle, o.key], { stdio: ['ignore', 'pipe', 'pipe'] });
      const onAbort = () => (killing = killContainer(o, child));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (d: Buffer) => o.output('stdout', d));
      child.stderr.on('data', (d: Buffer) => o.output('stderr', d));
      child.on('error', reject);
      child.on('close', (c, signal) => {
        o.signal?.removeEventListener('abort', onAbort);
        resolve(c ?? (signal ? 128 : 1));
      });
    });
    if (killing) {
      await killing;
      // `runc run` deletes its container when the process ends; a kill that came before it was made leaves none either
      await runtime(o, ['delete', '--force', o.key]);
      throw new BuildCancelled();
    }
    if (code !== 0) {
      const shown = o.args.length === 3 && o.args[1] === '-c' ? `${o.args[0]} -c ${o.args[2]}` : JSON.stringify(o.args);
      throw new StepFailed(`The command '${shown}' returned a non-zero code: ${code}`, code);
    }
  } finally {
    const released = (async () => {
      await unmount(rootfs).catch(() => undefined);
      await fsp.rm(bundle, { recursive: true, force: true }).catch(() => undefined);
    })();
    if (o.detachRelease) o.detachRelease(released);
    else await released;
  }
}

/**
 * Kills the step's container (its init, and with it the whole PID namespace) until
 * `runc run` has returned: a cancel may come before runc has created the container,
 * when there is nothing to kill yet. Killing `runc run` itself would leave the
 * container running without it.
 */
async function killContainer(o: RunStepOptions, child: ChildProcess): Promise<void> {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  while (!exited()) {
    await runtime(o, ['kill', o.key, 'KILL']);
    if (exited()) break;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs one runtime command to its end, whatever its outcome: the callers wait for a state, not for this command. */
function runtime(o: RunStepOptions, args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(o.runtimePath, ['--root', o.runtimeRoot, ...args], { stdio: 'ignore' });
    p.on('error', () => resolve());
    p.on('close', () => resolve());
  });
}
