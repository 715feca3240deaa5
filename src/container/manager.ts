import { existsSync, promises as fsp, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import { BerthError, conflict, invalid, isErrno, notFound, notModified } from '../common/errors';
import { newId, shortId } from '../common/ids';
import { exists, removeTree } from '../common/fsutil';
import type { ContainerCreateBody, HostConfig } from '../api/types';
import type { EventBus } from '../daemon/events';
import type { ImageStore } from '../image/store';
import { parseReference } from '../image/reference';
import type { Snapshotter } from '../layer/snapshotter';
import { mountAll, unmount } from '../layer/mount';
import { conmonCreate } from '../runtime/conmon';
import { AttachSocket } from '../runtime/attach-socket';
import { resizeConsole } from '../runtime/console';
import { OciRuntime } from '../runtime/runc';
import { mergeWithImage, validateHostConfig } from './config-merge';
import { checkCreateRequest } from './create-checks';
import { buildSpec, containerResources, specToJSON } from './spec';
import { changesResources, mergeUpdate, type ContainerUpdateBody } from './update';
import { resolveUser } from './user';
import { cgroupDir, detectCgroupVersion, readOomKilled, swapLimitSupported, type CgroupVersion } from './cgroups';
import { writeEtcFiles } from './etc-files';
import { checkLegacyLinks, linkEnv, linkHostsEntry, resolveLegacyLinks, withoutLink } from './legacy-links';
import { initialState, type ContainerRecord } from './model';
import { generateName } from './names';
import { ContainerStore } from './store';
import { signalNumber } from './signals';
import { containerTop, type TopResult } from './top';
import type { NetworkManager } from '../network/manager';
import type { EndpointRequest, SandboxState } from '../network/model';
import { endpointRequest, type EndpointSettingsBody } from '../network/endpoint-request';
import { portRequests } from '../network/ports';
import type { VolumeStore } from '../volume/store';
import { planMounts, startMounts, type MountPoint } from './mounts';
import { nextBackoff, restartsAfterExit, startsWithDaemon } from './restart-policy';
import { validateHealthcheck } from './health';
import { effectiveLogConfig, logLimits, validateLogConfig } from './log-options';
import { LogRotation } from './log-rotation';
import { span, timed } from '../common/timing';

export interface ContainerManagerOptions {
  dataRoot: string;
  execRoot: string;
  images: ImageStore;
  snapshotter: Snapshotter;
  events: EventBus;
  /** runtime name → binary; "runc" is the default */
  runtimes: Record<string, string>;
  defaultRuntime: string;
  /** cgroup parent under which every container's cgroup is made */
  cgroupParent: string;
  network: NetworkManager;
  volumes: VolumeStore;
  log: (msg: string) => void;
  /** the daemon's log driver and options, under each container's own */
  logDriver?: string;
  logOpts?: Record<string, string>;
  /**
   * Whether the swarm (where this node is a manager) has an overlay of that name or ID: a
   * standalone container asking for it is refused as not attachable, as Docker's manager does,
   * even before any task has brought the overlay to this node.
   */
  isClusterNetwork?: (idOrName: string) => Promise<boolean>;
  /** keeps the kernel's cgroup lock warm while a create or an exec begins (runtime/cgroup-warmer.ts) */
  cgroupWarmer?: { warm(): void };
}

export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/**
 * The container lifecycle: create, start, stop, kill, wait, remove, and the daemon's
 * restart. A running container is a conmon process watching the OCI runtime's container;
 * berthd learns of an exit from the file conmon writes into the exit folder, so exits that
 * happen while berthd is down are read back when it starts again.
 */
export class ContainerManager {
  private readonly store: ContainerStore;
  private readonly exitDir: string;
  private readonly socketDir: string;
  private readonly cgroupVersion = detectCgroupVersion();
  private readonly swapLimit = swapLimitSupported(this.cgroupVersion);
  private exitWatcher?: FSWatcher;
  /** callbacks waiting for a container's next exit, and for its removal */
  private readonly exitWaiters = new Map<string, ((code: number) => void)[]>();
  /** removals waiting for conmon to write an exit file (they hold the lock the exit handler needs) */
  private readonly exitFileWaiters = new Map<string, (() => void)[]>();
  private readonly removeWaiters = new Map<string, (() => void)[]>();
  /** containers whose exit is being handled, so a second notification does nothing */
  private readonly handlingExit = new Set<string>();
  /** attach requests waiting for the container's next start (connected before `runc start`) */
  private readonly pendingAttach = new Map<string, { resolve: (s: AttachSocket) => void; reject: (e: Error) => void }[]>();
  /** volumes with driver options a running container holds mounted */
  private readonly volumesInUse = new Map<string, string[]>();
  /** serializes lifecycle operations per container */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** the restart policy's current wait per container, and its timer while one is pending */
  private readonly backoff = new Map<string, { waitMs: number; timer?: NodeJS.Timeout }>();
  /** stopped containers whose files a copy is using: no start or removal until released */
  private readonly fileHolds = new Map<string, { users: number; ready: Promise<boolean>; release: () => void }>();
  /** copies reading a running container's files: its removal waits until they are done */
  private readonly runningReaders = new Map<string, { count: number; gone: (() => void)[] }>();
  /** policy starts wait for the daemon to be ready (its network reconciled) */
  private policyStartsReady!: () => void;
  private readonly policyStartsAllowed = new Promise<void>((resolve) => (this.policyStartsReady = resolve));
  /** set while the daemon shuts down: exits then bring nothing back */
  private shuttingDown = false;
  private readonly logRotation: LogRotation;

  private constructor(
    private readonly o: ContainerManagerOptions,
    store: ContainerStore,
  ) {
    this.store = store;
    this.exitDir = path.join(o.execRoot, 'exits');
    this.socketDir = path.join(o.execRoot, 'sockets');
    this.logRotation = new LogRotation(o.log);
  }

  static async open(o: ContainerManagerOptions): Promise<ContainerManager> {
    const { store, incomplete, unreadable } = await ContainerStore.open(path.join(o.dataRoot, 'containers'));
    const m = new ContainerManager(o, store);
    for (const u of unreadable) o.log(`skipping container ${u.id}: its record cannot be read: ${u.error}`);
    for (const id of incomplete) await m.discardIncomplete(id);
    await m.discardOrphanSnapshots(new Set(unreadable.map((u) => u.id)));
    for (const d of [m.exitDir, m.socketDir, ...Object.keys(o.runtimes).map((n) => m.runtimeRoot(n)), path.join(o.execRoot, 'bundles')]) await fsp.mkdir(d, { recursive: true });
    m.exitWatcher = watch(m.exitDir, (_ev, file) => {
      if (!file || file.startsWith('.')) return;
      const id = file.toString();
      const waiting = m.exitFileWaiters.get(id);
      m.exitFileWaiters.delete(id);
      for (const w of waiting ?? []) w();
      void m.onExitFile(id);
    });
    await m.restore();
    return m;
  }

  close(): void {
    this.logRotation.close();
    this.shuttingDown = true;
    for (const b of this.backoff.values()) clearTimeout(b.timer);
    this.exitWatcher?.close();
  }

  volumeDir(name: string): string {
    return this.o.volumes.dataDir(name);
  }

  /** Network names and IDs, for presenting containers. */
  get networkView(): NetworkManager {
    return this.o.network;
  }

  get socketDirectory(): string {
    return this.socketDir;
  }

  /** A container or an exec is about to be made: see runtime/cgroup-warmer.ts. */
  warmCgroups(): void {
    this.o.cgroupWarmer?.warm();
  }

  /** The OCI runtime a container runs with (exec and health checks run through it too). */
  runtimeOf(rec: ContainerRecord): OciRuntime {
    return this.runtimeFor(rec);
  }

  bundlePath(id: string): string {
    return this.bundleDir(id);
  }

  /**
   * Each runtime keeps its state under a folder of its own, as dockerd does (runtime-NAME);
   * runc's is `runtime`, where it always was, so containers started before crun was there
   * stay reachable.
   */
  private runtimeRoot(name = 'runc'): string {
    return path.join(this.o.execRoot, name === 'runc' ? 'runtime' : `runtime-${name}`);
  }

  private readonly runtimes = new Map<string, OciRuntime>();

  private runtimeFor(rec: ContainerRecord): OciRuntime {
    const name = rec.HostConfig.Runtime || this.legacyRuntime(rec.ID);
    let rt = this.runtimes.get(name);
    if (!rt) {
      const bin = this.o.runtimes[name];
      if (!bin) throw invalid(`unknown or invalid runtime name: ${name}`);
      rt = new OciRuntime(bin, this.runtimeRoot(name), path.join(this.o.execRoot, 'seccomp-bpf'));
      this.runtimes.set(name, rt);
    }
    return rt;
  }

  /**
   * The runtime of a container recorded before its runtime was written down at create (runc
   * was the only default then): runc while runc holds its state, else today's default.
   */
  private legacyRuntime(id: string): string {
    return existsSync(path.join(this.runtimeRoot('runc'), id)) ? 'runc' : this.o.defaultRuntime;
  }

  private bundleDir(id: string): string {
    return path.join(this.o.execRoot, 'bundles', id);
  }

  logPath(id: string): string {
    return path.join(this.store.dir(id), 'container.log');
  }

  private cgroupsPath(id: string): string {
    return `${this.o.cgroupParent.replace(/\/$/, '')}/${id}`;
  }

  private withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  // ---- create ----------------------------------------------------------------------

  async create(body: ContainerCreateBody, name?: string, o: { movePending?: boolean; imageName?: string; anonymousVolumes?: Record<string, string> } = {}): Promise<{ Id: string; Warnings: string[] }> {
    if (!body.Image) throw invalid('config cannot be empty in order to create a container');
    // a start usually follows at once (docker run)
    this.warmCgroups();
    const image = this.o.images.resolve(body.Image);
    if (!image) {
      // a name that is not a reference is a bad request, not a missing image
      if (!/^(sha256:)?[0-9a-f]{1,64}$/.test(body.Image)) parseReference(body.Image);
      throw notFound(`No such image: ${body.Image}`);
    }
    const hostConfig: HostConfig = { NetworkMode: 'bridge', ...(body.HostConfig ?? {}) };
    if (!hostConfig.NetworkMode || hostConfig.NetworkMode === 'default') hostConfig.NetworkMode = 'bridge';
    checkCreateRequest(body, hostConfig);
    validateHostConfig(hostConfig);
    await this.refuseClusterOnlyNetworks(hostConfig, body);
    const endpoints = this.validateNetworking(hostConfig, body);
    if (hostConfig.NetworkMode === 'bridge') checkLegacyLinks(hostConfig.Links, (n) => this.store.find(n));
    portRequests(hostConfig, body); // a bad port spec is refused at create, as Docker does
    // docker-py sends `runtime=` as a top-level Runtime, which dockerd does not read (its default
    // was runc anyway): with crun the default, it is honoured when HostConfig names none
    const topLevelRuntime = (body as { Runtime?: unknown }).Runtime;
    if (!hostConfig.Runtime && typeof topLevelRuntime === 'string' && topLevelRuntime) hostConfig.Runtime = topLevelRuntime;
    if (hostConfig.Runtime && !this.o.runtimes[hostConfig.Runtime]) throw invalid(`unknown or invalid runtime name: ${hostConfig.Runtime}`);
    // as dockerd does: the container keeps the runtime it was made with, whatever the default becomes
    if (!hostConfig.Runtime) hostConfig.Runtime = this.o.defaultRuntime;
    validateLogConfig(hostConfig.LogConfig, this.o.logDriver);
    hostConfig.LogConfig = effectiveLogConfig(hostConfig.LogConfig, this.o.logDriver, this.o.logOpts);
    const { HostConfig: _h, NetworkingConfig: _n, ...userConfig } = body;
    const config = mergeWithImage(userConfig, image.config.config);
    validateHealthcheck(config.Healthcheck);
    // a moved container is made from its image's ID, and keeps the name it was given
    config.Image = o.imageName ?? body.Image;
    const id = newId();
    if (!config.Hostname) config.Hostname = hostConfig.NetworkMode === 'host' ? (await fsp.readFile('/etc/hostname', 'utf8').catch(() => 'localhost')).trim() : id.slice(0, 12);
    const mountPoints = [...this.mountsFrom(hostConfig.VolumesFrom ?? []), ...(await planMounts(hostConfig, config, this.o.volumes, o.anonymousVolumes))];
    const dup = mountPoints.find((m, i) => mountPoints.findIndex((o) => o.Destination === m.Destination) !== i);
    if (dup) throw invalid(`Duplicate mount point: ${dup.Destination}`);
    const fullName = this.store.reserveName(name || generateName((n) => this.store.hasName(n)), id);
    const args = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
    const rec: ContainerRecord = {
      ID: id,
      Created: new Date().toISOString(),
      Name: fullName,
      Path: args[0],
      Args: args.slice(1),
      Config: config,
      HostConfig: hostConfig,
      Image: image.id,
      State: initialState(),
      RestartCount: 0,
      Driver: this.o.snapshotter.driver,
      Platform: 'linux',
      EndpointsConfig: endpoints,
      MountPoints: mountPoints,
      ...(o.movePending ? { MovePending: true } : {}),
    };
    try {
      await timed('snapshot prepare', id, () => this.o.snapshotter.prepare(id, this.o.images.topSnapshot(image)));
      await timed('record save', id, () => this.store.save(rec));
    } catch (e) {
      this.store.releaseName(fullName, id);
      await this.o.snapshotter.remove(id).catch(() => undefined);
      await removeTree(this.store.dir(id));
      throw e;
    }
    this.publishEvent(rec, 'create');
    return { Id: id, Warnings: [] };
  }

  /**
   * Publishes a container event as dockerd does: the container's labels, then its image and
   * name, then what the action adds (so `events --filter label=…` finds the container's events).
   */
  publishEvent(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.o.events.publish('container', action, rec.ID, { ...(rec.Config.Labels ?? {}), image: rec.Config.Image ?? '', name: rec.Name.slice(1), ...extra });
  }

  /** A container made for a move that is still coming in: the only kind its layer and log may be written into. */
  requireMovePending(idOrName: string): ContainerRecord {
    const rec = this.store.get(idOrName);
    if (!rec.MovePending) throw conflict(`container ${rec.Name.slice(1)} was not created for a move, or its move is complete`);
    return rec;
  }

  completeMove(idOrName: string): Promise<void> {
    const rec = this.requireMovePending(idOrName);
    return this.withLock(rec.ID, async () => {
      delete rec.MovePending;
      await this.store.save(rec);
    });
  }

  /** The source's side of a move: the container is leaving for `to` (see MovingOut). */
  beginMoveOut(idOrName: string, to: string): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      if (rec.MovePending) throw conflict(`container ${rec.Name.slice(1)} is being moved here and is not whole yet`);
      if (rec.State.Restarting) throw conflict(`container ${rec.Name.slice(1)} is restarting: wait until it runs or stop it before moving it`);
      // one move at a time: a second would make a second copy elsewhere, and its undo would clear this one's mark
      if (rec.MovingOut) throw conflict(`container ${rec.Name.slice(1)} is already being moved to ${rec.MovingOut.To} (since ${rec.MovingOut.Since}): start it here to call that move off`);
      rec.MovingOut = { To: to, Since: new Date().toISOString() };
      await this.store.save(rec);
    });
  }

  /** The move was undone: the container is an ordinary one again (nothing to do if it was not leaving). */
  abortMoveOut(idOrName: string): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      if (rec.MovingOut) await this.clearMoveOutLocked(rec);
    });
  }

  private async clearMoveOutLocked(rec: ContainerRecord): Promise<void> {
    delete rec.MovingOut;
    await this.store.save(rec);
  }

  /** A network only the swarm knows (no task has brought it here yet) is an overlay this container cannot join. */
  private async refuseClusterOnlyNetworks(hc: HostConfig, body: ContainerCreateBody): Promise<void> {
    const lookup = this.o.isClusterNetwork;
    if (!lookup) return;
    const mode = hc.NetworkMode ?? 'bridge';
    const names = [...(mode.includes(':') || ['host', 'none', 'bridge'].includes(mode) ? [] : [mode]), ...Object.keys(body.NetworkingConfig?.EndpointsConfig ?? {})];
    for (const name of names) {
      if (!this.o.network.find(name) && (await lookup(name))) throw notAttachable(name);
    }
  }

  /**
   * The network mode must name something that exists (a network, or a container to share
   * with); the endpoint settings are kept by the network name the user gave.
   */
  private validateNetworking(hc: HostConfig, body: ContainerCreateBody): Record<string, EndpointRequest> {
    const mode = hc.NetworkMode ?? 'bridge';
    const requested = (body.NetworkingConfig?.EndpointsConfig ?? {}) as Record<string, EndpointRequest | null>;
    const out: Record<string, EndpointRequest> = {};
    if (mode.startsWith('container:')) {
      this.store.get(mode.slice('container:'.length));
      if ((hc.PortBindings && Object.keys(hc.PortBindings).length) || hc.PublishAllPorts) throw conflict('conflicting options: port publishing and the container type network mode');
      return out;
    }
    if (mode === 'host' || mode === 'none') return out;
    const primary = this.o.network.get(mode);
    if (primary.Driver !== 'bridge' && primary.Driver !== 'overlay') throw invalid(`network ${mode} cannot be used as a network mode here`);
    for (const [name, cfg] of Object.entries(requested)) {
      if (name === 'default' && mode === 'bridge') {
        out.bridge = endpointRequest(cfg as EndpointSettingsBody | null);
        continue;
      }
      const n = this.o.network.get(name);
      if (n.Driver !== 'bridge' && n.Driver !== 'overlay') throw invalid(`container cannot be connected to network ${name} and to ${mode}`);
      // a task's address comes from the cluster; a container of its own has none to bring
      if (n.Driver === 'overlay' && !cfg?.IPAMConfig?.IPv4Address) throw notAttachable(name);
      out[name] = endpointRequest(cfg as EndpointSettingsBody | null);
    }
    if (primary.Driver === 'overlay' && !Object.entries(out).some(([k, e]) => this.o.network.find(k)?.Id === primary.Id && e.IPAMConfig?.IPv4Address)) throw notAttachable(mode);
    const ip = Object.values(out).find((e) => e.IPAMConfig?.IPv4Address);
    if (ip && primary.builtin && out[mode] === ip) throw invalid('user specified IP address is supported on user defined networks only');
    let primaryKey = Object.keys(out).find((k) => this.o.network.find(k)?.Id === primary.Id);
    if (!primaryKey) out[(primaryKey = mode)] = {};
    // the container-wide MacAddress (deprecated since API 1.44) is the main network's endpoint's
    const mac = body.MacAddress ? endpointRequest({ MacAddress: body.MacAddress }).MacAddress : undefined;
    if (mac) {
      const ep = out[primaryKey];
      if (ep.MacAddress && ep.MacAddress !== mac) throw invalid('the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty');
      ep.MacAddress = mac;
    }
    return out;
  }

  /** The networks a container joins, its primary (NetworkMode) first. */
  private networkPlan(rec: ContainerRecord): [string, EndpointRequest][] {
    const mode = rec.HostConfig.NetworkMode ?? 'bridge';
    const eps = rec.EndpointsConfig ?? { [mode]: {} };
    // the mode's network may be gone when the container was disconnected from it first
    const primaryId = this.o.network.find(mode)?.Id;
    const entries = Object.entries(eps).filter(([k]) => this.o.network.find(k));
    entries.sort(([a], [b]) => Number(this.o.network.find(b)!.Id === primaryId) - Number(this.o.network.find(a)!.Id === primaryId));
    return entries;
  }

  /** Endpoints, ports and the namespace of a run; failures leave nothing behind. */
  private async setupNetwork(rec: ContainerRecord): Promise<{ netns: 'new' | 'host' | { path: string }; sandbox?: SandboxState }> {
    const mode = rec.HostConfig.NetworkMode ?? 'bridge';
    if (mode === 'host') return { netns: 'host' };
    if (mode === 'none') return { netns: 'new' };
    if (mode.startsWith('container:')) {
      const other = this.store.get(mode.slice('container:'.length));
      if (!other.State.Running) throw conflict(`cannot join network of a non running container: ${other.ID}`);
      return { netns: { path: other.Sandbox?.netns ?? `/proc/${other.State.Pid}/ns/net` } };
    }
    const sandbox = await this.o.network.setupSandbox({
      containerId: rec.ID,
      name: rec.Name.slice(1),
      networks: this.networkPlan(rec),
      ports: portRequests(rec.HostConfig, rec.Config),
    });
    return { netns: { path: sandbox.netns }, sandbox };
  }

  /** Joins a network: at once when running, at the next start otherwise. */
  connectNetwork(idOrName: string, network: string, req: EndpointRequest): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      const n = this.o.network.get(network);
      const mode = rec.HostConfig.NetworkMode ?? 'bridge';
      if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) {
        throw new BerthError('FORBIDDEN', 'container sharing network namespace with another container or host cannot be connected to any other network');
      }
      if (n.Driver !== 'bridge') throw new BerthError('FORBIDDEN', `container cannot be disconnected from host network or connected to host network`);
      const eps = rec.EndpointsConfig ?? { [mode]: {} };
      if (Object.keys(eps).some((k) => this.o.network.find(k)?.Id === n.Id)) throw new BerthError('FORBIDDEN', `endpoint with name ${rec.Name.slice(1)} already exists in network ${n.Name}`);
      if (rec.State.Running && rec.Sandbox) {
        await this.o.network.connectRunning(rec.ID, n, req, portRequests(rec.HostConfig, rec.Config));
        rec.Sandbox = this.o.network.sandboxOf(rec.ID) ?? rec.Sandbox;
      }
      rec.EndpointsConfig = { ...eps, [network]: req };
      await this.store.save(rec);
    });
  }

  disconnectNetwork(idOrName: string, network: string): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      const n = this.o.network.get(network);
      const mode = rec.HostConfig.NetworkMode ?? 'bridge';
      const eps = rec.EndpointsConfig ?? (mode === 'host' || mode === 'none' || mode.startsWith('container:') ? {} : { [mode]: {} });
      const key = Object.keys(eps).find((k) => this.o.network.find(k)?.Id === n.Id);
      // force is for an endpoint whose container is gone; a container that is there but not
      // on the network is an error either way, as in Docker
      if (!key) throw new BerthError('FORBIDDEN', `container ${rec.ID} is not connected to network ${n.Name}`);
      if (rec.State.Running) {
        await this.o.network.disconnectRunning(rec.ID, n);
        rec.Sandbox = this.o.network.sandboxOf(rec.ID) ?? rec.Sandbox;
      }
      const { [key]: _gone, ...rest } = eps;
      // the mode stays as it was (Docker's way): a container left on no network runs with its
      // loopback only, and can be connected again, to this network or another
      rec.EndpointsConfig = rest;
      await this.store.save(rec);
    });
  }

  /** `rename`: the new name is taken first, so a clash leaves the old one in place. */
  rename(idOrName: string, newName: string): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      if (!newName) throw invalid('Neither old nor new names may be empty');
      const oldName = rec.Name;
      if (newName.replace(/^\//, '') === oldName.slice(1)) throw invalid('Renaming a container with the same name as its current name');
      const full = this.store.reserveName(newName, rec.ID);
      rec.Name = full;
      try {
        await this.store.save(rec);
      } catch (e) {
        rec.Name = oldName;
        this.store.releaseName(full, rec.ID);
        throw e;
      }
      this.store.releaseName(oldName, rec.ID);
      this.o.network.renameSandbox(rec.ID, full.slice(1));
      this.publishEvent(rec, 'rename', { oldName });
    });
  }

  /** A create killed between its snapshot and its record leaves a snapshot nobody names. */
  private async discardOrphanSnapshots(unreadable: Set<string>): Promise<void> {
    for (const snap of await this.o.snapshotter.list()) {
      if (snap.kind !== 'active' || !/^[0-9a-f]{64}$/.test(snap.name) || unreadable.has(snap.name)) continue;
      if (this.store.find(snap.name)?.ID === snap.name) continue;
      this.o.log(`removing the snapshot of ${shortId(snap.name)}, whose creation did not finish`);
      await this.o.snapshotter.remove(snap.name).catch((e) => this.o.log(`snapshot ${shortId(snap.name)}: ${(e as Error).message}`));
    }
  }

  /** A folder left by a create that did not finish: its snapshot and files go. */
  private async discardIncomplete(id: string): Promise<void> {
    this.o.log(`removing incomplete container ${id}`);
    await this.o.snapshotter.remove(id).catch(() => undefined);
    await removeTree(this.store.dir(id));
  }

  // ---- start -----------------------------------------------------------------------

  start(idOrName: string): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      // a start by the user begins the policy's count and backoff afresh, as Docker's does
      if (rec.State.Restarting) this.clearBackoff(rec.ID);
      else if (!rec.State.Running) {
        this.clearBackoff(rec.ID);
        rec.RestartCount = 0;
      }
      await timed('start', rec.ID, () => this.startLocked(rec));
      // started by hand: it stays here, whatever a move had begun
      if (rec.MovingOut) await this.clearMoveOutLocked(rec);
    });
  }

  /** When each container's last start began (this daemon's run only): its output is not older. */
  private readonly startsBegan = new Map<string, number>();

  /** When the container's last start began, if this daemon started it (ms since the epoch). */
  lastStartBegan(id: string): number | undefined {
    return this.startsBegan.get(id);
  }

  private async startLocked(rec: ContainerRecord): Promise<void> {
    if (rec.State.Paused) throw conflict(`cannot start a paused container, try unpause instead`);
    if (rec.State.Running && !rec.State.Restarting) throw notModified('container already started');
    if (rec.State.Status === 'removing') throw conflict(`container is marked for removal and cannot be started`);
    if (rec.MovePending) throw conflict(`container ${rec.Name.slice(1)} is being moved here and is not whole yet`);
    this.warmCgroups();
    const id = rec.ID;
    this.startsBegan.set(id, Date.now());
    const bundle = this.bundleDir(id);
    const rootfs = path.join(bundle, 'rootfs');
    const runtime = this.runtimeFor(rec);
    const prepared = span('bundle prepare', id);
    await removeTree(bundle);
    await fsp.mkdir(rootfs, { recursive: true });
    await fsp.rm(path.join(this.exitDir, id), { force: true });
    prepared();
    let mounted = false;
    try {
      await timed('rootfs mount', id, async () => mountAll(await this.o.snapshotter.mounts(id), rootfs));
      mounted = true;
      const hc = rec.HostConfig;
      const netMode = hc.NetworkMode ?? 'bridge';
      const net = await timed('network setup', id, () => this.setupNetwork(rec));
      rec.Sandbox = net.sandbox;
      const primary = net.sandbox?.endpoints[0];
      const primaryNetwork = primary ? this.o.network.find(primary.networkId) : undefined;
      const links = netMode === 'bridge' ? resolveLegacyLinks(rec, (n) => this.store.find(n), this.o.network.find('bridge')?.Id) : [];
      const files = await timed('etc files', id, () => writeEtcFiles(this.store.dir(id), {
        links: links.map(linkHostsEntry),
        hostname: rec.Config.Hostname ?? id.slice(0, 12),
        domainname: rec.Config.Domainname,
        hostConfig: hc,
        hostNetwork: netMode === 'host',
        addresses: net.sandbox?.endpoints.map((e) => e.ipAddress).slice(0, 1),
        embeddedDns: primaryNetwork ? this.o.network.dnsServerFor(primaryNetwork) : undefined,
        gateway: primary?.gateway,
      }));
      const own = await timed('volume mounts', id, () => startMounts(rec.MountPoints ?? [], this.o.volumes, rootfs));
      this.volumesInUse.set(id, own.acquired);
      const specDone = span('spec', id);
      const user = await resolveUser(rootfs, rec.Config.User ?? '', hc.GroupAdd);
      const spec = buildSpec({
        id,
        // the links' variables come first: the container's own of the same name win, as in Docker
        config: links.length ? { ...rec.Config, Env: [...links.flatMap((l) => linkEnv(rec.Name, l)), ...(rec.Config.Env ?? [])] } : rec.Config,
        hostConfig: hc,
        rootfs,
        user,
        etcFiles: { hosts: files.hostsPath, hostname: files.hostnamePath, resolvConf: files.resolvConfPath },
        netns: net.netns,
        extraMounts: own.mounts,
        cgroupsPath: this.cgroupsPath(id),
        cgroupVersion: this.cgroupVersion,
        terminal: rec.Config.Tty === true,
        swapLimitSupported: this.swapLimit,
      });
      if (hc.Init) {
        // Docker's --init: a small init as pid 1 that forwards signals and reaps zombies
        spec.process.args = [INIT_PATH_IN_CONTAINER, '--', ...spec.process.args];
        spec.mounts.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: await initBinary(), options: ['rbind', 'ro'] });
      }
      const keepSeccomp = await runtime.prepareSpec(spec);
      await fsp.writeFile(path.join(bundle, 'config.json'), specToJSON(spec));
      specDone();
      const pid = await timed('conmon + runtime create', id, () => conmonCreate({
        id,
        name: rec.Name.slice(1),
        bundle,
        pidFile: path.join(bundle, 'pidfile'),
        conmonPidFile: path.join(bundle, 'conmon.pid'),
        logPath: this.logPath(id),
        noLog: rec.HostConfig.LogConfig?.Type === 'none',
        exitDir: this.exitDir,
        socketDir: this.socketDir,
        runtimePath: runtime.command,
        runtimeEnv: runtime.env,
        runtimeRoot: runtime.stateRoot,
        argv0: spec.process.args[0],
        terminal: rec.Config.Tty === true,
        stdin: rec.Config.OpenStdin === true,
        leaveStdinOpen: rec.Config.OpenStdin === true && rec.Config.StdinOnce !== true,
      }));
      // a filter that cannot be kept is compiled again next time
      await keepSeccomp?.(id).catch(() => undefined);
      const monitorPid = Number((await fsp.readFile(path.join(bundle, 'conmon.pid'), 'utf8').catch(() => '0')).trim()) || undefined;
      await timed('attach connect', id, () => this.connectPendingAttach(id));
      await timed('runtime start', id, () => runtime.start(id));
      this.keepLogWithinLimits(rec);
      rec.State = {
        ...rec.State,
        Status: 'running',
        Running: true,
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: pid,
        ExitCode: 0,
        Error: '',
        StartedAt: new Date().toISOString(),
      };
      rec.MonitorPid = monitorPid;
      rec.ManuallyStopped = false;
      // "running" does not outlive a power loss, which ends the container too
      await timed('record save', id, () => this.store.save(rec, { durable: false }));
      this.publishEvent(rec, 'start');
    } catch (e) {
      await runtime.delete(id).catch(() => undefined);
      if (mounted) await unmount(rootfs).catch(() => undefined);
      await this.o.network.teardownSandbox(id, rec.Sandbox).catch(() => undefined);
      rec.Sandbox = undefined;
      const message = e instanceof Error ? e.message : String(e);
      if (rec.State.Restarting) rec.State = { ...rec.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
      rec.State.Error = message;
      rec.State.ExitCode = /executable file not found|no such file or directory/.test(message) ? 127 : /permission denied/.test(message) ? 126 : 128;
      await this.store.save(rec).catch(() => undefined);
      // The docker CLI's `run --rm` waits for the removal after a failed start.
      if (rec.HostConfig.AutoRemove) await this.removeLocked(rec, { force: true, volumes: true }).catch(() => undefined);
      throw e instanceof BerthError ? e : new BerthError('SYSTEM', message, { cause: e });
    }
    // An exit that happened before the record said "running" was ignored; look again.
    if (await this.exitFileExists(id)) void this.onExitFile(id);
  }

  /**
   * Connects to the container's stdio through conmon. A container that is not running yet
   * is connected at its next start, before its process runs, so no output is missed.
   */
  attach(idOrName: string, aborted: Promise<void>): Promise<AttachSocket | undefined> {
    const rec = this.store.get(idOrName);
    if (rec.State.Running && !rec.State.Restarting) return AttachSocket.connect(path.join(this.bundleDir(rec.ID), 'attach'));
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      const list = this.pendingAttach.get(rec.ID) ?? [];
      list.push(entry);
      this.pendingAttach.set(rec.ID, list);
      void aborted.then(() => {
        const l = this.pendingAttach.get(rec.ID) ?? [];
        const i = l.indexOf(entry);
        if (i >= 0) {
          l.splice(i, 1);
          resolve(undefined);
        }
      });
    });
  }

  private async connectPendingAttach(id: string): Promise<void> {
    const waiting = this.pendingAttach.get(id) ?? [];
    this.pendingAttach.delete(id);
    for (const w of waiting) {
      try {
        w.resolve(await AttachSocket.connect(path.join(this.bundleDir(id), 'attach')));
      } catch (e) {
        w.reject(e as Error);
      }
    }
  }

  /**
   * `docker update`: new limits and restart policy, kept for the next starts and, while the
   * container runs, applied to its cgroup at once. A limit the kernel refuses changes nothing.
   */
  update(idOrName: string, body: ContainerUpdateBody): Promise<{ Warnings: string[] }> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, async () => {
      if (!this.store.find(rec.ID)) throw notFound(`No such container: ${idOrName}`);
      if (rec.State.Status === 'removing') throw conflict(`Container ${rec.ID} is marked for removal and cannot be "update"`);
      const next = mergeUpdate(rec.HostConfig, body);
      if (rec.State.Running && !rec.State.Restarting && changesResources(body)) {
        const resources: Record<string, unknown> = { ...containerResources(next, this.cgroupVersion, this.swapLimit) };
        // lifting a pids limit has to be said: an absent one means "unchanged" to the runtime
        const liftPids = (next.PidsLimit ?? 0) <= 0 && (rec.HostConfig.PidsLimit ?? 0) > 0;
        const runtime = this.runtimeFor(rec);
        if (liftPids && runtime.liftsPidsLimit) resources.pids = { limit: -1 };
        try {
          await runtime.update(rec.ID, resources);
          if (liftPids && !runtime.liftsPidsLimit) await fsp.writeFile(path.join(cgroupDir('pids', this.cgroupsPath(rec.ID), this.cgroupVersion), 'pids.max'), 'max');
        } catch (e) {
          throw new BerthError('SYSTEM', `Cannot update container ${rec.ID}: ${(e as Error).message.replace(/^.*?: (?=[^:]*$)/, '')}`);
        }
      }
      rec.HostConfig = next;
      await this.store.save(rec);
      this.publishEvent(rec, 'update');
      return { Warnings: [] };
    });
  }

  /** Freezes every process of the container (the cgroup freezer, through the runtime). */
  async pause(idOrName: string): Promise<void> {
    const rec = this.store.get(idOrName);
    if (!rec.State.Running) throw conflict(`Container ${rec.ID} is not running`);
    if (rec.State.Restarting) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.ID} is already paused`);
    await this.runtimeFor(rec).pause(rec.ID);
    rec.State = { ...rec.State, Paused: true, Status: 'paused' };
    await this.store.save(rec);
    this.publishEvent(rec, 'pause');
  }

  async unpause(idOrName: string): Promise<void> {
    const rec = this.store.get(idOrName);
    if (!rec.State.Paused) throw conflict(`Container ${rec.ID} is not paused`);
    await this.runtimeFor(rec).resume(rec.ID);
    rec.State = { ...rec.State, Paused: false, Status: 'running' };
    await this.store.save(rec);
    this.publishEvent(rec, 'unpause');
  }

  async top(idOrName: string, psArgs: string): Promise<TopResult> {
    const rec = this.store.get(idOrName);
    if (!rec.State.Running) throw conflict(`Container ${rec.ID} is not running`);
    const top = await containerTop(this.cgroupsPath(rec.ID), this.cgroupVersion, psArgs);
    this.publishEvent(rec, 'top');
    return top;
  }

  async resize(idOrName: string, height: number, width: number): Promise<void> {
    const rec = this.store.get(idOrName);
    if (!rec.State.Running) throw conflict(`Container ${rec.ID} is not running`);
    if (!rec.Config.Tty) return;
    await resizeConsole(this.bundleDir(rec.ID), height, width);
    this.publishEvent(rec, 'resize', { height: String(height), width: String(width) });
  }

  private async exitFileExists(id: string): Promise<boolean> {
    try {
      await fsp.access(path.join(this.exitDir, id));
      return true;
    } catch {
      return false;
    }
  }

  // ---- exit ------------------------------------------------------------------------

  private async onExitFile(id: string): Promise<void> {
    const rec = this.store.find(id);
    if (!rec || !rec.State.Running || rec.State.Restarting || this.handlingExit.has(id)) return;
    let raw: string;
    let finishedAt: Date;
    try {
      raw = await fsp.readFile(path.join(this.exitDir, id), 'utf8');
      // conmon writes the file when the container ends, which may be long before berthd reads it
      finishedAt = (await fsp.stat(path.join(this.exitDir, id))).mtime;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    if (raw.trim() === '') return; // conmon has created the file but not written it yet
    // a second notice may have read the file alongside this one
    if (!rec.State.Running || rec.State.Restarting || this.handlingExit.has(id)) return;
    this.handlingExit.add(id);
    try {
      await this.withLock(id, () => timed('exit', id, () => this.handleExit(rec, Number(raw.trim()), finishedAt)));
    } catch (e) {
      this.o.log(`handling the exit of ${id}: ${(e as Error).message}`);
    } finally {
      this.handlingExit.delete(id);
    }
  }

  private async handleExit(rec: ContainerRecord, exitCode: number, finishedAt = new Date()): Promise<void> {
    // a second notice of the same exit finds the container stopped, or waiting to restart
    if (!rec.State.Running || rec.State.Restarting) return;
    const id = rec.ID;
    const oomKilled = await timed('oom check', id, () => readOomKilled(this.cgroupsPath(id), this.cgroupVersion).catch(() => false));
    await timed('release runtime', id, () => this.releaseRuntime(rec));
    rec.State = {
      ...rec.State,
      Status: 'exited',
      Running: false,
      Paused: false,
      Restarting: false,
      Pid: 0,
      ExitCode: Number.isFinite(exitCode) ? exitCode : 255,
      OOMKilled: oomKilled,
      FinishedAt: finishedAt.toISOString(),
    };
    rec.MonitorPid = undefined;
    const restarts = !this.shuttingDown && !rec.MovingOut && restartsAfterExit(rec.HostConfig.RestartPolicy, rec.State.ExitCode, rec.ManuallyStopped === true, rec.RestartCount);
    // an auto-removed container's record is next saved as "removing", with this exit in it;
    // until then the exit file stays, so a daemon killed meanwhile handles the exit again
    const autoRemove = !restarts && rec.HostConfig.AutoRemove === true;
    if (!autoRemove) {
      await timed('record save', id, () => this.store.save(rec));
      await fsp.rm(path.join(this.exitDir, id), { force: true });
    }
    if (oomKilled) this.publishEvent(rec, 'oom');
    this.publishEvent(rec, 'die', { exitCode: String(rec.State.ExitCode) });
    const waiters = this.exitWaiters.get(id) ?? [];
    this.exitWaiters.delete(id);
    for (const w of waiters) w(rec.State.ExitCode);
    if (restarts) {
      await this.scheduleRestart(rec, finishedAt.getTime() - Date.parse(rec.State.StartedAt));
      return;
    }
    if (autoRemove) {
      await timed('remove', id, () => this.removeLocked(rec, { force: true, volumes: true })).catch((e) => this.o.log(`auto-removing ${id}: ${(e as Error).message}`));
      await fsp.rm(path.join(this.exitDir, id), { force: true });
    }
  }

  /** Lets go of what a run holds: the runtime's container, the root filesystem mount, the bundle. */
  /** Rotates the log of a running container as its log options say. */
  private keepLogWithinLimits(rec: ContainerRecord): void {
    this.logRotation.watch(rec.ID, this.logPath(rec.ID), this.bundleDir(rec.ID), logLimits(rec.HostConfig.LogConfig, this.o.logOpts ?? {}));
  }

  private async releaseRuntime(rec: ContainerRecord): Promise<void> {
    this.logRotation.unwatch(rec.ID);
    const bundle = this.bundleDir(rec.ID);
    const runtimeGone = timed('runtime delete', rec.ID, () => this.runtimeFor(rec).delete(rec.ID));
    // In a PID namespace of its own nothing of the container outlives its init, so the
    // network and the root filesystem go alongside the runtime's clean-up; a container
    // sharing another's namespace may still have processes until the runtime kills them.
    if (rec.HostConfig.PidMode) await runtimeGone;
    const sandbox = rec.Sandbox;
    rec.Sandbox = undefined;
    // the network goes with the run: address, ports and namespace are free for others
    const networkGone = timed('network teardown', rec.ID, () => this.o.network.teardownSandbox(rec.ID, sandbox).catch((e) => this.o.log(`network of ${rec.ID}: ${(e as Error).message}`)));
    // a bundle that is gone was released before (an exit, then the removal): nothing is mounted
    const rootfsGone = timed('rootfs unmount', rec.ID, async () => {
      if (await exists(bundle)) await unmount(path.join(bundle, 'rootfs')).catch((e) => this.o.log(`unmount ${rec.ID}: ${(e as Error).message}`));
    });
    const [runtime] = await Promise.allSettled([runtimeGone, networkGone, rootfsGone]);
    if (runtime.status === 'rejected') throw runtime.reason;
    for (const name of this.volumesInUse.get(rec.ID) ?? []) await this.o.volumes.releaseMount(name);
    this.volumesInUse.delete(rec.ID);
    const cleaned = span('bundle remove', rec.ID);
    await fsp.rm(path.join(this.socketDir, rec.ID), { force: true });
    await removeTree(bundle).catch(() => undefined);
    cleaned();
  }

  // ---- stop, kill, wait ------------------------------------------------------------

  private nextExit(id: string): Promise<number> {
    return new Promise((resolve) => {
      const list = this.exitWaiters.get(id) ?? [];
      list.push(resolve);
      this.exitWaiters.set(id, list);
    });
  }

  /** Sends the stop signal, waits `timeout` seconds, then SIGKILL (Docker's `stop`). */
  async stop(idOrName: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const rec = this.store.get(idOrName);
    // a signal the client names must be one; only the sending's own failure is forgiven below
    if (opts.signal) signalNumber(opts.signal);
    if (await this.cancelPendingRestart(rec)) {
      this.publishEvent(rec, 'stop');
      return;
    }
    if (!rec.State.Running) throw notModified('container already stopped');
    rec.ManuallyStopped = true;
    const exited = this.nextExit(rec.ID);
    const signal = opts.signal || rec.Config.StopSignal || 'SIGTERM';
    const timeout = opts.timeout ?? rec.Config.StopTimeout ?? 10;
    if (rec.State.Paused) await this.runtimeFor(rec).resume(rec.ID).catch(() => undefined);
    await this.signal(rec, signal).catch(() => undefined);
    if (timeout < 0) {
      await exited;
      return;
    }
    const done = await Promise.race([exited.then(() => true), delay(timeout * 1000).then(() => false)]);
    if (!done) {
      await this.signal(rec, 'SIGKILL').catch(() => undefined);
      await Promise.race([exited, delay(10_000)]);
    }
    this.publishEvent(rec, 'stop');
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const rec = this.store.get(idOrName);
    const num = signalNumber(signal);
    if (rec.State.Restarting) {
      if (num !== 9 && num !== 15) throw conflict(`Container ${rec.ID} is restarting, wait until the container is running`);
      if (await this.cancelPendingRestart(rec)) {
        this.publishEvent(rec, 'kill', { signal: String(num) });
        return;
      }
    }
    if (!rec.State.Running) throw conflict(`cannot kill container: ${idOrName}: container ${rec.ID} is not running`);
    if (num === 9 || num === 15) rec.ManuallyStopped = true;
    // Docker answers a SIGKILL only once the container is dead, so an inspect right after it
    // shows the exit (137), never a container still running
    const exited = num === 9 ? this.nextExit(rec.ID) : undefined;
    await this.signal(rec, signal);
    this.publishEvent(rec, 'kill', { signal: String(num) });
    if (exited) await Promise.race([exited, delay(10_000)]);
  }

  private async signal(rec: ContainerRecord, signal: string): Promise<void> {
    const num = signalNumber(signal);
    try {
      process.kill(rec.State.Pid, num);
    } catch (e) {
      if (!isErrno(e, 'ESRCH')) throw e;
    }
  }

  async restart(idOrName: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const rec = this.store.get(idOrName);
    if (opts.signal) signalNumber(opts.signal);
    if (rec.State.Running) await this.stop(rec.ID, opts).catch((e) => {
      if (!(e instanceof BerthError && e.code === 'NOT_MODIFIED')) throw e;
    });
    await this.start(rec.ID);
    this.publishEvent(rec, 'restart');
  }

  /** Resolves as Docker's wait does, for the given condition. */
  wait(idOrName: string, condition: WaitCondition = 'not-running'): Promise<WaitResult> {
    const rec = this.store.get(idOrName);
    const result = (code: number): WaitResult => ({ StatusCode: code, Error: null });
    if (condition === 'removed') {
      return new Promise((resolve) => {
        const list = this.removeWaiters.get(rec.ID) ?? [];
        list.push(() => resolve(result(rec.State.ExitCode)));
        this.removeWaiters.set(rec.ID, list);
      });
    }
    if (condition === 'not-running' && !rec.State.Running) return Promise.resolve(result(rec.State.ExitCode));
    return this.nextExit(rec.ID).then(result);
  }

  /** A promise for the container's next exit (attach and logs --follow end with it). */
  exitPromise(id: string): Promise<number> {
    return this.nextExit(id);
  }

  // ---- remove ----------------------------------------------------------------------

  /** `rm --link parent/alias`: the parent forgets the link; both containers stay. */
  removeLink(parentName: string, alias: string): Promise<void> {
    const rec = this.store.find(parentName);
    if (!rec) throw notFound(`No such container: ${parentName}/${alias}`);
    return this.withLock(rec.ID, async () => {
      const kept = withoutLink(rec.HostConfig.Links, alias);
      if (!kept) throw notFound(`No such container: ${parentName}/${alias}`);
      rec.HostConfig.Links = kept.length ? kept : null;
      await this.store.save(rec);
    });
  }

  remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const rec = this.store.get(idOrName);
    return this.withLock(rec.ID, () => timed('remove', rec.ID, () => this.removeLocked(rec, opts)));
  }

  private async removeLocked(rec: ContainerRecord, opts: { force: boolean; volumes: boolean }): Promise<void> {
    if (!this.store.find(rec.ID)) return;
    if (rec.State.Restarting) {
      if (!opts.force) throw conflict(`cannot remove container "${rec.Name}": container is restarting: stop the container before removing or force remove`);
      rec.ManuallyStopped = true;
      this.cancelRestartLocked(rec);
    }
    if (rec.State.Running) {
      if (!opts.force) {
        throw conflict(`cannot remove container "${rec.Name}": container is ${rec.State.Paused ? 'paused' : 'running'}: stop the container before removing or force remove`);
      }
      const exited = this.nextExit(rec.ID);
      rec.ManuallyStopped = true;
      if (rec.State.Paused) await this.runtimeFor(rec).resume(rec.ID).catch(() => undefined);
      await this.signal(rec, 'SIGKILL').then(() => this.publishEvent(rec, 'kill', { signal: '9' }), () => undefined);
      // the exit handler needs this container's lock, which we hold: handle the exit here
      const code = await Promise.race([exited, this.waitExitFile(rec.ID)]);
      if (rec.State.Running) await this.handleExit(rec, code);
      // an auto-removed container is gone with its exit
      if (!this.store.find(rec.ID)) return;
    }
    // an export or copy still reading the files of the run that just ended keeps them
    await this.runningReadersGone(rec.ID);
    this.clearBackoff(rec.ID);
    // recorded first, so a daemon killed half-way finishes the removal when it starts again
    rec.State.Status = 'removing';
    // a power loss that forgets "removing" leaves the container as it was, removable again
    await timed('record save', rec.ID, () => this.store.save(rec, { durable: false }));
    await this.releaseRuntime(rec).catch(() => undefined);
    // the record goes before the snapshot: a daemon killed in between finds a snapshot no
    // container names, which it discards at start (never a container without its files)
    await timed('record delete', rec.ID, () => this.store.delete(rec));
    this.startsBegan.delete(rec.ID);
    await timed('snapshot remove', rec.ID, () => this.o.snapshotter.remove(rec.ID).catch((e) => {
      if (!(e instanceof BerthError && e.code === 'NOT_FOUND')) this.o.log(`the snapshot of ${shortId(rec.ID)} stays until the next start: ${(e as Error).message}`);
    }));
    if (opts.volumes) {
      for (const p of rec.MountPoints ?? []) {
        if (p.Type !== 'volume' || !p.Anonymous || !p.Name) continue;
        await this.o.volumes.remove(p.Name, { force: true, users: this.volumeUsers(p.Name) }).catch((e) => this.o.log(`volume ${p.Name}: ${(e as Error).message}`));
      }
    }
    this.publishEvent(rec, 'destroy');
    const waiters = this.removeWaiters.get(rec.ID) ?? [];
    this.removeWaiters.delete(rec.ID);
    for (const w of waiters) w();
  }

  /** The code conmon writes into the exit file, read as soon as the file changes; 137 after 10 s. */
  private async waitExitFile(id: string): Promise<number> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      // listening first: a write between the read and the wait is not missed
      let notify!: () => void;
      const changed = new Promise<void>((resolve) => (notify = resolve));
      const list = this.exitFileWaiters.get(id) ?? [];
      list.push(notify);
      this.exitFileWaiters.set(id, list);
      const raw = await fsp.readFile(path.join(this.exitDir, id), 'utf8').catch(() => '');
      if (raw.trim() !== '') {
        this.dropExitFileWaiter(id, notify);
        return Number(raw.trim());
      }
      // the watch is the fast path; the timer covers a notification the watch missed
      await Promise.race([changed, delay(250)]);
      this.dropExitFileWaiter(id, notify);
    }
    return 137;
  }

  private dropExitFileWaiter(id: string, w: () => void): void {
    const list = (this.exitFileWaiters.get(id) ?? []).filter((x) => x !== w);
    if (list.length) this.exitFileWaiters.set(id, list);
    else this.exitFileWaiters.delete(id);
  }

  // ---- restart policies ------------------------------------------------------------

  /**
   * Marks the container as restarting (Docker shows it running, with Restarting set) and
   * starts it again after the policy's backoff.
   */
  private async scheduleRestart(rec: ContainerRecord, ranForMs: number): Promise<void> {
    const id = rec.ID;
    const b = this.backoff.get(id) ?? { waitMs: 0 };
    clearTimeout(b.timer);
    b.waitMs = nextBackoff(b.waitMs, ranForMs);
    this.backoff.set(id, b);
    rec.RestartCount++;
    rec.State = { ...rec.State, Status: 'restarting', Running: true, Restarting: true, Paused: false, Pid: 0 };
    await this.store.save(rec);
    b.timer = setTimeout(() => {
      b.timer = undefined;
      void this.policyStart(rec);
    }, b.waitMs);
  }

  /** A start the policy asked for; one that fails leaves the container exited, as Docker's does. */
  private async policyStart(rec: ContainerRecord, withDaemon = false): Promise<void> {
    await this.policyStartsAllowed;
    if (this.shuttingDown) return;
    await this.withLock(rec.ID, async () => {
      // a stop while the restart waited cancels it; `always` comes back with the daemon even so
      if (!this.store.find(rec.ID) || (rec.ManuallyStopped && !withDaemon) || this.shuttingDown) return;
      if (rec.State.Running && !rec.State.Restarting) return;
      await this.startLocked(rec);
    }).catch((e) => this.o.log(`restarting ${shortId(rec.ID)}: ${(e as Error).message}`));
  }

  /** Cancels a restart the policy has scheduled; true if the container was waiting for one. */
  private async cancelPendingRestart(rec: ContainerRecord): Promise<boolean> {
    if (!rec.State.Restarting) return false;
    // set before the lock, so a policy start queued behind it does nothing
    rec.ManuallyStopped = true;
    return this.withLock(rec.ID, async () => {
      const cancelled = this.cancelRestartLocked(rec);
      if (cancelled) await this.store.save(rec);
      return cancelled;
    });
  }

  private cancelRestartLocked(rec: ContainerRecord): boolean {
    this.clearBackoff(rec.ID);
    if (!rec.State.Restarting) return false;
    rec.State = { ...rec.State, Status: 'exited', Running: false, Restarting: false, Pid: 0 };
    return true;
  }

  private clearBackoff(id: string): void {
    clearTimeout(this.backoff.get(id)?.timer);
    this.backoff.delete(id);
  }

  /**
   * Called once the daemon is ready: restarts the policies asked for while it was starting,
   * and starts the containers the policies bring back with the daemon.
   */
  async startPolicyContainers(): Promise<void> {
    this.policyStartsReady();
    const due = this.store.all().filter((rec) => startsWithDaemon(rec) && !this.backoff.get(rec.ID)?.timer);
    await Promise.all(due.map((rec) => this.policyStart(rec, true)));
  }

  /**
   * The daemon is going down. With live restore (the default) containers keep running under
   * conmon; without it they are stopped as the daemon would stop them, not as a user would,
   * so their policies bring them back with the daemon.
   */
  async shutdown(liveRestore: boolean): Promise<void> {
    this.shuttingDown = true;
    this.logRotation.close();
    for (const b of this.backoff.values()) clearTimeout(b.timer);
    if (liveRestore) return;
    const running = this.store.all().filter((r) => r.State.Running && !r.State.Restarting);
    await Promise.all(
      running.map(async (rec) => {
        const manual = rec.ManuallyStopped;
        await this.stop(rec.ID).catch((e) => this.o.log(`stopping ${shortId(rec.ID)}: ${(e as Error).message}`));
        rec.ManuallyStopped = manual;
        await this.store.save(rec).catch(() => undefined);
      }),
    );
  }

  // ---- restart of the daemon ------------------------------------------------------

  /**
   * Reads back what happened while the daemon was down: a container whose conmon recorded
   * an exit gets its exit code; one whose conmon is gone without a record is marked dead
   * with exit code 255 (as Docker does for a container it lost); running ones stay managed.
   */
  private async restore(): Promise<void> {
    // one listing per runtime rather than a `state` call per container: start-up with
    // hundreds of running containers stays short
    const listings = new Map<string, Promise<Map<string, { status: string; pid: number }> | undefined>>();
    const runtimeState = (rec: ContainerRecord) => {
      const rt = this.runtimeFor(rec);
      let listing = listings.get(rt.binary);
      if (!listing) {
        listing = rt.list().catch(() => undefined);
        listings.set(rt.binary, listing);
      }
      return listing.then((all) => (all ? all.get(rec.ID) : rt.state(rec.ID)));
    };
    for (const rec of this.store.all()) {
      if (rec.State.Status === 'removing' || rec.MovePending) {
        // a move cut short made its anonymous volumes for nothing: they go with it
        await this.removeLocked(rec, { force: true, volumes: rec.MovePending === true }).catch(() => undefined);
        continue;
      }
      if (rec.MovingOut) this.o.log(`container ${shortId(rec.ID)} was being moved to ${rec.MovingOut.To} since ${rec.MovingOut.Since}: its restart policy does not start it; start it by hand if it did not arrive there`);
      if (rec.State.Restarting) continue; // its policy starts it once the daemon is ready
      if (!rec.State.Running) {
        // a start the daemon did not finish: what it had made (runtime container, conmon,
        // mounts, bundle) goes, and the container stays as it was before the start
        if (await exists(this.bundleDir(rec.ID))) await this.undoInterruptedStart(rec);
        // stopped while berthd was in the middle of it: what the run held on the network goes
        if (rec.Sandbox) {
          await this.o.network.teardownSandbox(rec.ID, rec.Sandbox).catch(() => undefined);
          rec.Sandbox = undefined;
          await this.store.save(rec);
        }
        continue;
      }
      if (rec.Sandbox) await this.o.network.restoreSandbox(rec.ID, rec.Name.slice(1), rec.Sandbox);
      const held = (rec.MountPoints ?? []).filter((p) => p.Type === 'volume' && p.Name).map((p) => p.Name!);
      for (const name of held) this.o.volumes.adopt(name);
      this.volumesInUse.set(rec.ID, held);
      if (await this.exitFileExists(rec.ID)) {
        await this.onExitFile(rec.ID);
        continue;
      }
      const alive = rec.MonitorPid ? processAlive(rec.MonitorPid) : false;
      const state = await runtimeState(rec);
      if (!alive && (!state || state.status === 'stopped')) {
        this.o.log(`container ${shortId(rec.ID)} lost its monitor while the daemon was down`);
        await this.handleExit(rec, 255);
      } else {
        if (state?.status === 'paused') {
          rec.State.Paused = true;
          rec.State.Status = 'paused';
        }
        this.keepLogWithinLimits(rec);
      }
    }
  }

  private async undoInterruptedStart(rec: ContainerRecord): Promise<void> {
    this.o.log(`undoing the unfinished start of ${shortId(rec.ID)}`);
    const conmonPid = Number((await fsp.readFile(path.join(this.bundleDir(rec.ID), 'conmon.pid'), 'utf8').catch(() => '')).trim());
    await this.runtimeFor(rec).delete(rec.ID).catch((e) => this.o.log(`runtime delete ${shortId(rec.ID)}: ${(e as Error).message}`));
    if (conmonPid > 0 && processAlive(conmonPid)) {
      try {
        process.kill(conmonPid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await this.releaseRuntime(rec).catch((e) => this.o.log(`releasing ${shortId(rec.ID)}: ${(e as Error).message}`));
    await fsp.rm(path.join(this.exitDir, rec.ID), { force: true });
  }

  /**
   * `--volumes-from NAME[:ro|rw]`: the other container's binds and volumes at the same places
   * (never as anonymous ones of this container: `rm -v` here leaves them to their owner).
   */
  private mountsFrom(specs: string[]): MountPoint[] {
    const out: MountPoint[] = [];
    for (const spec of specs) {
      const [name, mode] = spec.split(':');
      if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw invalid(`invalid mode: ${mode}`);
      const other = this.store.get(name);
      for (const p of other.MountPoints ?? []) {
        if (p.Type === 'tmpfs') continue;
        out.push({ ...p, Anonymous: undefined, RW: mode === undefined ? p.RW : mode === 'rw' });
      }
    }
    return out;
  }

  /** Containers that mount a volume, running or not: it cannot be removed while they exist. */
  volumeUsers(name: string): string[] {
    return this.store
      .all()
      .filter((c) => (c.MountPoints ?? []).some((p) => p.Type === 'volume' && p.Name === name))
      .map((c) => c.ID);
  }

  /**
   * Keeps a stopped container as it is, with its volumes mounted as at a start, until every
   * copy using its files lets go: a start or removal meanwhile waits (two overlay mounts of
   * one upper directory are undefined, and a removal would pull the files away). A running
   * container goes on running and may stop, but is not removed until the reader lets go;
   * `running` says which case it was.
   */
  async holdFiles(idOrName: string): Promise<{ running: boolean; release: () => Promise<void> }> {
    const rec = this.store.get(idOrName);
    const id = rec.ID;
    let hold = this.fileHolds.get(id);
    if (!hold) {
      let letGo!: () => void;
      const released = new Promise<void>((r) => (letGo = r));
      let entered!: (running: boolean) => void;
      const h = { users: 0, ready: new Promise<boolean>((r) => (entered = r)), release: letGo };
      hold = h;
      this.fileHolds.set(id, h);
      void this.withLock(id, async () => {
        if (rec.State.Running && !rec.State.Restarting) {
          // every user of this hold joined before it leaves the map, in this same turn
          if (this.fileHolds.get(id) === h) this.fileHolds.delete(id);
          const readers = this.runningReaders.get(id) ?? { count: 0, gone: [] };
          readers.count += h.users;
          this.runningReaders.set(id, readers);
          entered(true);
          return;
        }
        const volumes = (rec.MountPoints ?? []).filter((p) => p.Type === 'volume' && p.Name && this.o.volumes.find(p.Name)?.Options.type).map((p) => p.Name!);
        const mounted: string[] = [];
        try {
          for (const name of volumes) {
            await this.o.volumes.acquire(name);
            mounted.push(name);
          }
        } catch (e) {
          this.o.log(`mounting the volumes of ${shortId(id)} for a copy: ${(e as Error).message}`);
        }
        entered(false);
        await released;
        for (const name of mounted) await this.o.volumes.releaseMount(name);
      });
    }
    const h = hold;
    h.users++;
    const running = await h.ready;
    let done = false;
    return {
      running,
      release: async () => {
        if (done) return;
        done = true;
        if (running) {
          this.dropRunningReader(id);
          return;
        }
        if (--h.users > 0) return;
        if (this.fileHolds.get(id) === h) this.fileHolds.delete(id);
        h.release();
      },
    };
  }

  private dropRunningReader(id: string): void {
    const readers = this.runningReaders.get(id);
    if (!readers || --readers.count > 0) return;
    this.runningReaders.delete(id);
    for (const g of readers.gone) g();
  }

  private runningReadersGone(id: string): Promise<void> {
    const readers = this.runningReaders.get(id);
    if (!readers) return Promise.resolve();
    return new Promise((resolve) => readers.gone.push(resolve));
  }

  /**
   * Where a running container's numbers come from (stats, health): its cgroup and its
   * process; a stopped container has neither.
   */
  runView(idOrName: string): { rec: ContainerRecord; cgroupsPath: string; cgroupVersion: CgroupVersion; bundle: string } {
    const rec = this.store.get(idOrName);
    return { rec, cgroupsPath: this.cgroupsPath(rec.ID), cgroupVersion: this.cgroupVersion, bundle: this.bundleDir(rec.ID) };
  }

  /** A container's record, by ID, unique ID prefix or name; 404 in Docker's words if none. */
  get(idOrName: string): ContainerRecord {
    return this.store.get(idOrName);
  }

  find(idOrName: string): ContainerRecord | undefined {
    return this.store.find(idOrName);
  }

  list(): ContainerRecord[] {
    return this.store.all();
  }

  /**
   * Keeps a health check's result. Health is the one part of a record written outside the
   * container's lock: a probe must not wait behind a long stop, and no lifecycle step reads it.
   */
  saveHealth(rec: ContainerRecord): Promise<void> {
    return this.store.save(rec);
  }

  /** The folder of a container's record and its /etc files. */
  recordDir(id: string): string {
    return this.store.dir(id);
  }

  /** Docker's usage count for `rmi`: containers created from the image. */
  imageUsers(imageId: string): { id: string; running: boolean }[] {
    return this.store.all().filter((c) => c.Image === imageId).map((c) => ({ id: c.ID, running: c.State.Running }));
  }
}

const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';
const INIT_BINARIES = ['/usr/bin/tini-static', '/usr/bin/docker-init', '/usr/libexec/docker/docker-init'];

async function initBinary(): Promise<string> {
  for (const p of INIT_BINARIES) {
    try {
      await fsp.access(p);
      return p;
    } catch {
      /* try the next one */
    }
  }
  throw invalid(`no init binary found: install tini (looked for ${INIT_BINARIES.join(', ')})`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM');
  }
}

function notAttachable(network: string): BerthError {
  return new BerthError('FORBIDDEN', `Could not attach to network ${network}: rpc error: code = PermissionDenied desc = network ${network} not manually attachable`);
}
