import { CgroupWarmer } from '../runtime/cgroup-warmer';
import { isCrun } from '../runtime/runtimes';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ApiServer } from '../api/server';
import { exposedPlainListeners, plainTcpWarning } from './tls-config';
import { Router } from '../api/router';
import { registerContainerRoutes } from '../api/routes/containers';
import { registerImageRoutes } from '../api/routes/images';
import { registerImageArchiveRoutes } from '../api/routes/image-archive';
import { registerDistributionRoutes } from '../api/routes/distribution';
import { Distribution } from '../distribution/service';
import { NetworkManager } from '../network/manager';
import { registerNetworkRoutes } from '../api/routes/networks';
import { registerVolumeRoutes } from '../api/routes/volumes';
import { registerPluginRoutes } from '../api/routes/plugins';
import { PluginStore } from '../plugin/store';
import { registerHousekeepingRoutes } from '../api/routes/housekeeping';
import { registerStatsRoutes } from '../api/routes/stats';
import { HealthMonitor } from '../container/health';
import { registerEventRoutes } from '../api/routes/events';
import { EventJournal } from './event-journal';
import { VolumeStore } from '../volume/store';
import { ProgressReporter } from '../distribution/progress';
import { familiarString, parseReference, withDefaultTag } from '../image/reference';
import { Swarm } from '../swarm/swarm';
import { registerSwarmRoutes, swarmInfo } from '../api/routes/swarm';
import { registerSwarmFileRoutes } from '../api/routes/swarm-files';
import { registerCommitRoutes } from '../api/routes/commit';
import { ContainerSnapshots } from '../archive/container-snapshot';
import { requireAttachSockets } from '../runtime/attach-socket';
import { registerArchiveRoutes } from '../api/routes/archive';
import { registerBuildRoutes } from '../api/routes/build';
import { Builder } from '../build/builder';
import { stepNetworks } from '../build/step-network';
import { registerSystemRoutes } from '../api/routes/system';
import { registerMoveRoutes } from '../api/routes/move';
import { registerCheckpointRoutes } from '../api/routes/checkpoints';
import { Checkpoints } from '../container/checkpoints';
import { registerExecRoutes } from '../api/routes/exec';
import { registerDashboardRoutes } from '../api/routes/dashboard';
import { DashboardServer } from '../dashboard/server';
import { ExecManager } from '../container/exec';
import { conflict, isErrno } from '../common/errors';
import { newId } from '../common/ids';
import { readJSON, writeFileAtomic, writeJSONAtomic } from '../common/fsutil';
import { ContainerManager } from '../container/manager';
import { detectCgroupVersion } from '../container/cgroups';
import { ContentStore } from '../image/content-store';
import { ImageStore } from '../image/store';
import { ensureBuiltinBusybox } from '../image/builtin';
import { createSnapshotter } from '../layer';
import type { DaemonConfig } from './config';
import { EventBus, type EngineEvent } from './events';

export const VERSION = '0.1.0';

/** Wires the stores, the container manager and the API server together; owns start-up and shutdown. */
export class Daemon {
  private server?: ApiServer;
  private containers?: ContainerManager;
  private cgroupWarmer?: CgroupWarmer;
  private health?: HealthMonitor;
  private swarm?: Swarm;
  private network?: NetworkManager;
  private journal?: EventJournal;
  private dashboard?: DashboardServer;

  constructor(
    private readonly config: DaemonConfig,
    private readonly log: (msg: string) => void,
  ) {}

  async start(): Promise<void> {
    const c = this.config;
    await fsp.mkdir(c.dataRoot, { recursive: true, mode: 0o710 });
    await fsp.mkdir(c.execRoot, { recursive: true, mode: 0o700 });
    await this.claimPidfile();

    const snapshotter = await createSnapshotter(c.dataRoot, c.storageDriver);
    const content = await ContentStore.open(path.join(c.dataRoot, 'content'));
    const images = await ImageStore.open(path.join(c.dataRoot, 'image'), snapshotter, content);
    const fresh = !(await readJSON(path.join(c.dataRoot, 'engine-id.json')));
    if (fresh) await ensureBuiltinBusybox(images);
    const engine = (await readJSON<{ id: string }>(path.join(c.dataRoot, 'engine-id.json'))) ?? { id: newId().slice(0, 36) };
    if (fresh) await writeJSONAtomic(path.join(c.dataRoot, 'engine-id.json'), engine);

    const events = new EventBus();
    const journal = await EventJournal.open(path.join(c.dataRoot, 'events.jsonl'), events, this.log);
    this.journal = journal;
    const network = await NetworkManager.open({
      dataRoot: c.dataRoot,
      execRoot: c.execRoot,
      bip: c.bip,
      fixedCidr: c.fixedCidr,
      dns: c.dns,
      events,
      log: this.log,
    });
    await network.loadHostResolvers();
    this.network = network;
    const volumes = await VolumeStore.open(path.join(c.dataRoot, 'volumes'));
    // the swarm opens once the API is wired; the container manager asks it about overlays later
    let swarm: Swarm | undefined;
    this.cgroupWarmer = await CgroupWarmer.start(c.cgroupParent, detectCgroupVersion(), this.log);
    const containers = await ContainerManager.open({
      cgroupWarmer: this.cgroupWarmer,
      network,
      volumes,
      dataRoot: c.dataRoot,
      execRoot: c.execRoot,
      images,
      snapshotter,
      events,
      runtimes: c.runtimes,
      defaultRuntime: c.defaultRuntime,
      cgroupParent: c.cgroupParent,
      log: this.log,
      logDriver: c.logDriver,
      logOpts: c.logOpts,
      isClusterNetwork: async (idOrName) => {
        if (swarm?.local?.role !== 'manager' || swarm.locked) return false;
        const known = await swarm.networks().catch(() => []);
        return known.some((n) => n.ID === idOrName || n.Spec.Name === idOrName || (idOrName.length >= 12 && n.ID.startsWith(idOrName)));
      },
    });
    this.containers = containers;
    this.health = new HealthMonitor(containers, events, this.log);
    this.health.resume();
    await network.reconcile();

    const router = new Router();
    registerSystemRoutes(router, {
      swarm: {
        info: () => (swarm ? swarmInfo(swarm) : Promise.resolve({ NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null })),
        header: () => (swarm?.locked ? 'locked' : swarm?.local ? `active/${swarm.local.role}` : 'inactive'),
      },
      containers,
      images,
      info: {
        id: engine.id,
        version: VERSION,
        dataRoot: c.dataRoot,
        driver: snapshotter.driver,
        cgroupVersion: detectCgroupVersion(),
        runtimes: c.runtimes,
        defaultRuntime: c.defaultRuntime,
        debug: c.debug,
        startedAt: Date.now(),
        registries: c.registries,
        liveRestore: c.liveRestore,
        experimental: c.experimental,
      },
    });
    const checkpoints = new Checkpoints(containers);
    registerContainerRoutes(router, { containers, images, snapshotter, log: this.log, checkpoints });
    if (c.experimental) registerCheckpointRoutes(router, checkpoints);
    registerMoveRoutes(router, { containers, images, volumes, dataRoot: c.dataRoot, log: this.log });
    registerStatsRoutes(router, { containers });
    const distribution = await Distribution.open(images, path.join(c.dataRoot, 'image'), c.registries);
    registerImageRoutes(router, { images, distribution, users: (id) => containers.imageUsers(id), events });
    registerDistributionRoutes(router, { distribution, events });
    registerNetworkRoutes(router, { network, containers, swarm: () => swarm });
    registerVolumeRoutes(router, { volumes, containers, events });
    registerPluginRoutes(router, { plugins: await PluginStore.open(path.join(c.dataRoot, 'plugins')), events });
    registerEventRoutes(router, { events, journal });
    registerImageArchiveRoutes(router, { images, tmpDir: path.join(c.dataRoot, 'tmp'), events });
    registerCommitRoutes(router, { snapshots: new ContainerSnapshots({ containers, images, tmpDir: path.join(c.dataRoot, 'tmp') }), containers });
    registerArchiveRoutes(router, { containers, snapshotter, tmpDir: path.join(c.dataRoot, 'tmp') });
    const builder = await Builder.open({
      images,
      snapshotter,
      workRoot: path.join(c.dataRoot, 'build', 'work'),
      cacheDir: path.join(c.dataRoot, 'build', 'cache'),
      // build steps stay on runc when containers default to crun: src/build runs the runtime
      // itself, without crun's launcher or its seccomp cache (runtime/runtimes.ts)
      runtimePath: isCrun(c.runtimes[c.defaultRuntime] ?? '') ? c.runtimes.runc : (c.runtimes[c.defaultRuntime] ?? c.runtimes.runc),
      runtimeRoot: path.join(c.execRoot, 'build-runtime'),
      cgroupParent: c.cgroupParent,
      stepNetwork: stepNetworks(network),
      // the legacy builder pulls a missing base image, and shows the pull's steps in its output
      pull: async (ref, auth, say) => {
        const progress = new ProgressReporter((m) => {
          if (typeof m.status === 'string' && !m.progressDetail) say(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
        });
        const r = await distribution.pull(ref, auth, undefined, progress);
        say(`Digest: ${r.digest}\nStatus: Downloaded newer image for ${familiarString(ref)}\n`);
        return r.id;
      },
    });
    registerBuildRoutes(router, builder);
    registerHousekeepingRoutes(router, { containers, images, volumes, snapshotter, events, buildCache: builder.cache });
    const execs = new ExecManager(containers, c.execRoot);
    events.on('event', (ev: EngineEvent) => {
      if (ev.Type === 'container' && ev.Action === 'destroy') execs.forgetContainer(ev.Actor.ID);
    });
    registerExecRoutes(router, execs);
    swarm = await Swarm.open({
      dataRoot: c.dataRoot,
      execRoot: c.execRoot,
      containers,
      network,
      events,
      engineVersion: VERSION,
      log: this.log,
      // a task's image: here already, or pulled from the registry the service names
      ensureImage: async (image) => {
        if (images.resolve(image)) return;
        await distribution.pull(withDefaultTag(parseReference(image)), {}, undefined, new ProgressReporter(() => undefined));
      },
    });
    this.swarm = swarm;
    registerSwarmRoutes(router, swarm);
    registerSwarmFileRoutes(router, swarm);
    const dashboard = c.dashboard ? new DashboardServer({ settings: c.dashboard, engineSocket: dashboardEngineSocket(c.hosts), log: this.log }) : undefined;
    registerDashboardRoutes(router, () => dashboard);
    this.server = new ApiServer({ router, hosts: c.hosts, log: this.log, experimental: c.experimental, tls: c.tls });
    await this.server.listen();
    // loud on purpose, whatever the log level: the operator chose --tls=false for these
    for (const h of exposedPlainListeners(c.hosts, c.tls)) process.stderr.write(`${plainTcpWarning(h)}\n`);
    if (dashboard) {
      await dashboard.listen();
      this.dashboard = dashboard;
      this.log(`berthd dashboard on ${dashboard.loginUrl('').replace(/\/\?token=$/, '/')} (log in with: berth dashboard)`);
    }
    // restart policies act once the daemon serves: the network is reconciled by now
    void containers.startPolicyContainers().catch((e: unknown) => this.log(`restart policies: ${(e as Error).message}`));
    try {
      requireAttachSockets();
    } catch (e) {
      this.log(`warning: ${(e as Error).message}; containers run, but attach, exec and run without -d are refused`);
    }
    this.log(`berthd ${VERSION} listening on ${c.hosts.map((h) => (c.tls.enabled && h.startsWith('tcp://') ? `${h} (TLS${c.tls.verify ? ', client certificates verified' : ''})` : h)).join(', ')} (storage driver ${snapshotter.driver}, data root ${c.dataRoot})`);
  }

  /**
   * Stops serving. Containers keep running (conmon holds them, and the next start picks them
   * up) unless live restore is off.
   */
  async stop(): Promise<void> {
    await this.dashboard?.close();
    await this.server?.close();
    await this.swarm?.close();
    this.health?.close();
    await this.containers?.shutdown(this.config.liveRestore);
    this.containers?.close();
    await this.cgroupWarmer?.stop();
    await this.network?.close();
    await this.journal?.close();
    await fsp.rm(this.config.pidfile, { force: true });
  }

  private async claimPidfile(): Promise<void> {
    const file = this.config.pidfile;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    try {
      const pid = Number((await fsp.readFile(file, 'utf8')).trim());
      if (pid && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          throw conflict(`pid file found, ensure berthd is not running or delete ${file}`);
        } catch (e) {
          if (!isErrno(e, 'ESRCH')) throw e;
        }
      }
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
    await writeFileAtomic(file, `${process.pid}`, 0o644);
  }
}

/** The dashboard talks to the Engine API as a client, on the daemon's own unix socket. */
function dashboardEngineSocket(hosts: string[]): string {
  const unix = hosts.find((h) => h.startsWith('unix://') || h.startsWith('/'));
  if (!unix) throw conflict('--dashboard needs berthd to listen on a unix socket too (-H unix:///run/berth/berth.sock)');
  return unix.replace(/^unix:\/\//, '');
}
