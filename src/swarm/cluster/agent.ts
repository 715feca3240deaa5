/**
 * The agent every swarm node runs: it keeps the node's heartbeat alive, and makes the
 * containers on this node match the tasks the leader assigned to it. A task it is told to
 * run is pulled, created and started, and its progress written back (preparing, starting,
 * running, then complete or failed with the exit code); a task told to shut down is stopped,
 * its container kept while the task is in the history; a task removed loses its container.
 * Containers of tasks no longer assigned here (stale after the node was away) go.
 */
import type { ContainerCreateBody } from '../../api/types';
import type { ContainerManager } from '../../container/manager';
import type { EngineEvent, EventBus } from '../../daemon/events';
import type { NetworkManager } from '../../network/manager';
import type { Member } from '../../network/dns-registry';
import { applyVipRules, vipRules, type VipEntry } from '../../network/vip';
import { probeCommand } from '../../container/health';
import { fileTarget } from './files';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isTerminal, stateRank, type ClusterNetwork, type Service, type Task, type TaskState } from './model';
import { renderPayload, templateContext } from './templating';
import { PREFIX, type ClusterObject, type ClusterStore, type Snapshot } from './store';
import { Rerunner } from '../../common/rerun';

/** how long a node may miss heartbeats before the leader calls it down */
export const HEARTBEAT_TTL_S = 5;
const HEARTBEAT_EVERY_MS = 1000;
const SYNC_EVERY_MS = 2000;

export const TASK_LABEL = 'com.docker.swarm.task.id';

export interface AgentDeps {
  store: ClusterStore;
  nodeId: string;
  containers: ContainerManager;
  network: NetworkManager;
  /** this node's swarm address: its overlay traffic goes from and to it */
  advertiseAddr: string;
  events: EventBus;
  /** makes sure the image is here, pulling it if not */
  ensureImage: (image: string) => Promise<void>;
  /** where the secrets and configs of this node's tasks are written, a folder per task */
  filesDir: string;
  /** a secret's data for a task of this node, from one of the managers (addresses) */
  fetchSecret: (taskId: string, secretId: string, managers: string[]) => Promise<Buffer>;
  log: (msg: string) => void;
}

export class Agent {
  private lease?: string;
  private timers: NodeJS.Timeout[] = [];
  private watch?: { close(): void };
  private stopped = false;
  private readonly syncer = new Rerunner(
    () => this.syncOnce(),
    (e) => this.d.log(`swarm agent: ${e.message}`),
    () => !this.stopped,
  );
  /**
   * The cluster as the overlays' names and VIPs see it, read on its own (a read and nothing
   * else), so a sync busy starting or stopping containers never leaves DNS behind.
   */
  private readonly viewer = new Rerunner(
    async () => this.setView(await this.d.store.snapshot()),
    (e) => this.d.log(`swarm agent: reading the cluster: ${e.message}`),
    () => !this.stopped,
  );
  /** tasks being started or stopped right now */
  private readonly busy = new Set<string>();
  private readonly onEvent = (ev: EngineEvent) => this.containerEvent(ev);
  /** the cluster as last read: the overlays' peers and names come from it */
  private snap?: Snapshot;
  /** the VIP rules last written into each task container's namespace */
  private readonly vipRulesOf = new Map<string, string>();

  constructor(private readonly d: AgentDeps) {}

  async start(): Promise<void> {
    const cluster = await this.d.store.getObject<ClusterObject>('cluster').catch((e: Error) => {
      this.d.log(`swarm agent: reading the data path port (4789 meanwhile): ${e.message}`);
      return undefined;
    });
    await this.d.network.joinOverlayPlane(this.d.advertiseAddr, (id) => this.clusterMembers(id), cluster?.DataPathPort);
    // secrets of tasks whose containers went while berthd was down
    const live = new Set(this.taskContainers().map((c) => c.Config.Labels![TASK_LABEL]));
    for (const taskId of await fsp.readdir(this.d.filesDir).catch(() => [] as string[])) if (!live.has(taskId)) await this.removeTaskFiles(taskId);
    await this.heartbeat();
    this.timers.push(setInterval(() => void this.heartbeat(), HEARTBEAT_EVERY_MS));
    this.watch = this.d.store.kv.watchPrefix(
      `${PREFIX}tasks/`,
      0,
      () => {
        void this.viewer.run();
        void this.sync();
      },
      (e) => this.d.log(`swarm agent: watch: ${e.message}`),
    );
    this.timers.push(
      setInterval(() => {
        void this.viewer.run();
        void this.sync();
      }, SYNC_EVERY_MS),
    );
    this.d.events.on('event', this.onEvent);
    void this.viewer.run();
    void this.sync();
  }

  /** Stops acting for the cluster; with `removeTasks` (leaving the swarm) its containers go too. */
  async stop(removeTasks: boolean): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.watch?.close();
    this.d.events.off('event', this.onEvent);
    if (this.lease) await this.d.store.kv.revokeLease(this.lease).catch(() => undefined);
    if (removeTasks) {
      for (const c of this.taskContainers()) await this.d.containers.remove(c.ID, { force: true, volumes: true }).catch(() => undefined);
      await fsp.rm(this.d.filesDir, { recursive: true, force: true }).catch(() => undefined);
      await this.d.network.settle();
      await this.d.network.leaveOverlayPlane().catch((e) => this.d.log(`swarm agent: overlay networks: ${(e as Error).message}`));
    }
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.lease && (await this.d.store.kv.keepAlive(this.lease)) > 0) return;
      const lease = await this.d.store.kv.grantLease(HEARTBEAT_TTL_S);
      await this.d.store.kv.put(`${PREFIX}heartbeats/${this.d.nodeId}`, new Date().toISOString(), { lease });
      this.lease = lease;
    } catch (e) {
      this.lease = undefined;
      this.d.log(`swarm agent: heartbeat: ${(e as Error).message}`);
    }
  }

  private taskContainers() {
    return this.d.containers.list().filter((c) => c.Config.Labels?.[TASK_LABEL]);
  }

  sync(): Promise<void> {
    return this.syncer.run();
  }

  private async syncOnce(): Promise<void> {
    const started = Date.now();
    const snap = await this.d.store.snapshot();
    this.setView(snap);
    const mine = new Map(snap.tasks.filter((t) => t.NodeID === this.d.nodeId).map((t) => [t.ID, t]));
    const services = new Map(snap.services.map((s) => [s.ID, s]));
    const byTask = new Map(this.taskContainers().map((c) => [c.Config.Labels![TASK_LABEL], c]));
    // containers of tasks that are not (or no longer) this node's
    for (const [taskId, c] of byTask) {
      const t = mine.get(taskId);
      if (t && t.DesiredState === 'running') continue;
      // a task told to shut down keeps its stopped container while the task is in the
      // history, as Docker's does (`ps -a` finds it, its logs stay); a removed one loses it
      const keep = t?.DesiredState === 'shutdown';
      if (keep && !c.State.Running && isTerminal(t.Status.State)) continue;
      if (this.busy.has(taskId)) continue;
      this.busy.add(taskId);
      void this.stopTask(taskId, c.ID, t, keep).finally(() => this.busy.delete(taskId));
    }
    for (const t of mine.values()) {
      if (t.DesiredState !== 'running' || isTerminal(t.Status.State) || this.busy.has(t.ID)) continue;
      const c = byTask.get(t.ID);
      if (c) {
        // running already: an exit missed while berthd was down is reported now
        if (!c.State.Running && t.Status.State === 'running') await this.reportExit(t.ID, c.State.ExitCode);
        // became healthy while no event could tell (berthd restarted meanwhile)
        else if (c.State.Running && t.Status.State === 'starting' && c.State.Health?.Status === 'healthy') {
          await this.setStatus(t.ID, 'running', 'started', { ContainerStatus: { ContainerID: c.ID, PID: c.State.Pid, ExitCode: 0 } });
        }
        continue;
      }
      if (t.NotBefore && Date.parse(t.NotBefore) > Date.now()) continue;
      const svc = services.get(t.ServiceID);
      if (!svc) continue;
      this.busy.add(t.ID);
      void this.runTask(t, svc, snap).finally(() => this.busy.delete(t.ID));
    }
    const overlays = Date.now();
    await this.syncOverlays(snap, mine);
    const took = Date.now() - started;
    if (took > 5000) this.d.log(`swarm agent: a sync took ${took} ms (${Date.now() - overlays} ms of it the overlays)`);
  }

  /**
   * The overlays of this node: every other node's task endpoints programmed into the ones
   * that are up here, and the ones no task of this node wants any more let go.
   */
  private async syncOverlays(snap: Snapshot, mine: Map<string, Task>): Promise<void> {
    const addrOf = new Map(snap.nodes.map((n) => [n.ID, n.Status.Addr]));
    const wanted = new Set([...mine.values()].filter((t) => t.DesiredState === 'running' && !isTerminal(t.Status.State)).flatMap((t) => (t.NetworksAttachments ?? []).map((a) => a.Network.ID)));
    for (const { network, inUse } of this.d.network.overlays()) {
      if (!inUse && !wanted.has(network.Id)) {
        await this.d.network.dropOverlay(network.Id).catch((e) => this.d.log(`swarm agent: network ${network.Name}: ${(e as Error).message}`));
        continue;
      }
      const peers = snap.tasks
        .filter((t) => t.NodeID && t.NodeID !== this.d.nodeId && !isTerminal(t.Status.State) && addrOf.get(t.NodeID))
        .flatMap((t) => (t.NetworksAttachments ?? []).filter((a) => a.Network.ID === network.Id).map((a) => ({ ip: a.Addresses[0].split('/')[0], nodeAddr: addrOf.get(t.NodeID!)! })));
      await this.d.network.syncOverlayPeers(network.Id, peers).catch((e) => this.d.log(`swarm agent: network ${network.Name}: ${(e as Error).message}`));
    }
    const running = this.taskContainers().filter((c) => c.State.Running);
    for (const c of running) await this.syncVips(c.ID, snap);
    const live = new Set(running.map((c) => c.Sandbox?.netns));
    for (const netns of this.vipRulesOf.keys()) if (!live.has(netns)) this.vipRulesOf.delete(netns);
  }

  /** Keeps the newer of two reads of the cluster (the viewer's and a sync's may cross). */
  private setView(snap: Snapshot): void {
    if (!this.snap || BigInt(snap.revision || '0') >= BigInt(this.snap.revision || '0')) this.snap = snap;
  }

  /** The VIPs of the services on a task container's overlays, balanced over their running tasks. */
  private async syncVips(containerId: string, snap: Snapshot): Promise<void> {
    const sandbox = this.d.containers.find(containerId)?.Sandbox;
    if (!sandbox) return;
    const overlays = new Set(sandbox.endpoints.map((e) => e.networkId).filter((id) => snap.networks.some((n) => n.ID === id)));
    if (!overlays.size) return;
    const entries: VipEntry[] = [];
    for (const svc of snap.services) {
      for (const v of svc.Endpoint?.VirtualIPs ?? []) {
        if (!overlays.has(v.NetworkID)) continue;
        const backends = snap.tasks
          .filter((t) => t.ServiceID === svc.ID && t.Status.State === 'running' && t.DesiredState === 'running')
          .flatMap((t) => (t.NetworksAttachments ?? []).filter((a) => a.Network.ID === v.NetworkID).map((a) => a.Addresses[0].split('/')[0]));
        if (backends.length) entries.push({ vip: v.Addr.split('/')[0], backends });
      }
    }
    const rules = vipRules(entries);
    if (this.vipRulesOf.get(sandbox.netns) === rules) return;
    try {
      await applyVipRules(sandbox.netns, rules);
      this.vipRulesOf.set(sandbox.netns, rules);
    } catch (e) {
      this.d.log(`swarm agent: service addresses in ${containerId.slice(0, 12)}: ${(e as Error).message}`);
    }
  }

  /**
   * What an overlay's DNS knows besides this node's own containers: the services' VIPs (by
   * service name and network alias) and the tasks of other nodes (by task name,
   * `tasks.<service>`, and in endpoint mode dnsrr by the service's names too).
   */
  private clusterMembers(networkId: string): Member[] {
    const snap = this.snap;
    if (!snap) return [];
    const services = new Map(snap.services.map((s) => [s.ID, s]));
    const out: Member[] = [];
    for (const svc of snap.services) {
      const vip = svc.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === networkId);
      if (!vip) continue;
      const aliases = svc.Spec.TaskTemplate.Networks?.find((n) => n.Target === networkId)?.Aliases ?? [];
      out.push({ id: svc.ID, name: svc.Spec.Name, aliases, ip: vip.Addr.split('/')[0] });
    }
    for (const t of snap.tasks) {
      if (t.NodeID === this.d.nodeId || t.Status.State !== 'running' || t.DesiredState !== 'running') continue;
      const a = t.NetworksAttachments?.find((x) => x.Network.ID === networkId);
      const svc = services.get(t.ServiceID);
      if (!a || !svc) continue;
      out.push({ id: t.Status.ContainerStatus?.ContainerID ?? t.ID, name: `${svc.Spec.Name}.${t.Slot ?? t.NodeID}.${t.ID}`, aliases: taskAliases(svc, a.Aliases), ip: a.Addresses[0].split('/')[0] });
    }
    return out;
  }

  private async setStatus(taskId: string, state: TaskState, message: string, extra: Partial<Task['Status']> = {}): Promise<void> {
    await this.d.store.mutate<Task>('tasks', taskId, (t) => {
      // a task moves forward only
      if (stateRank(state) < stateRank(t.Status.State)) return undefined;
      t.Status = { ...t.Status, ...extra, Timestamp: new Date().toISOString(), State: state, Message: message };
      t.UpdatedAt = t.Status.Timestamp;
      return t;
    });
  }

  private async runTask(given: Task, svc: Service, snap: Snapshot): Promise<void> {
    const t = asItsServiceDefines(given, svc);
    if (!t) {
      await this.setStatus(given.ID, 'rejected', 'preparing', { Err: "the task's spec is no longer its service's" }).catch(() => undefined);
      return;
    }
    const spec = t.Spec.ContainerSpec;
    try {
      for (const a of t.NetworksAttachments ?? []) {
        const net = snap.networks.find((n) => n.ID === a.Network.ID);
        if (!net) throw new Error(`network ${a.Network.Spec.Name} not found`);
        await this.d.network.ensureOverlay(localOverlay(net));
      }
      await this.setStatus(t.ID, 'accepted', 'accepted');
      await this.setStatus(t.ID, 'preparing', 'preparing');
      let files: FileMount[];
      try {
        await this.d.ensureImage(spec.Image);
        files = await this.writeTaskFiles(t, svc, snap);
      } catch (e) {
        await this.setStatus(t.ID, 'rejected', 'preparing', { Err: (e as Error).message });
        await this.removeTaskFiles(t.ID);
        return;
      }
      const name = `${svc.Spec.Name}.${t.Slot ?? this.d.nodeId}.${t.ID}`;
      const { Id } = await this.d.containers.create(containerBody(t, svc, this.d.nodeId, files), name);
      await this.setStatus(t.ID, 'starting', 'starting', { ContainerStatus: { ContainerID: Id } });
      // the task may have been told to stop meanwhile
      const now = await this.d.store.getObject<Task>('tasks', t.ID);
      if (!now || now.DesiredState !== 'running') {
        await this.d.containers.remove(Id, { force: true, volumes: true }).catch(() => undefined);
        return;
      }
      await this.d.containers.start(Id);
      const rec = this.d.containers.find(Id);
      const ingress = (svc.Spec.EndpointSpec?.Ports ?? []).filter((p) => p.PublishMode !== 'host');
      const meshPorts = ingress
        .map((p) => {
          const m = (rec?.Sandbox?.ports ?? []).find((x) => x.containerPort === p.TargetPort && x.protocol === (p.Protocol ?? 'tcp') && x.hostPort !== p.PublishedPort);
          return m ? { TargetPort: p.TargetPort, Protocol: p.Protocol ?? 'tcp', HostPort: m.hostPort } : undefined;
        })
        .filter((x): x is NonNullable<typeof x> => x !== undefined);
      if (meshPorts.length) await this.d.store.mutate<Task>('tasks', t.ID, (x) => ({ ...x, MeshPorts: meshPorts }));
      // the task may open connections to other services' VIPs from its first moment
      if (t.NetworksAttachments?.length) await this.syncVips(Id, this.snap ?? snap);
      // a task with a health check runs once it is healthy (the routing mesh and VIPs reach
      // only running tasks); the health events take it from here (containerEvent)
      const gated = rec && probeCommand(rec.Config.Healthcheck) && rec.State.Health?.Status !== 'healthy';
      if (!gated) await this.setStatus(t.ID, 'running', 'started', { ContainerStatus: { ContainerID: Id, PID: rec?.State.Pid ?? 0, ExitCode: 0 } });
      else await this.setStatus(t.ID, 'starting', 'starting', { ContainerStatus: { ContainerID: Id, PID: rec.State.Pid ?? 0, ExitCode: 0 } });
      // an exit before the status said running was not reported
      if (rec && !rec.State.Running) await this.reportExit(t.ID, rec.State.ExitCode);
    } catch (e) {
      this.d.log(`swarm agent: task ${t.ID}: ${(e as Error).message}`);
      await this.setStatus(t.ID, 'failed', 'starting container failed', { Err: (e as Error).message }).catch(() => undefined);
    }
  }

  /**
   * The task's secrets and configs as files in a folder of its own (0700, on the exec root),
   * each bind-mounted read-only where the task wants it. Configs come from the cluster's
   * objects; secrets from a manager, which gives them to this node for this task only.
   */
  private async writeTaskFiles(t: Task, svc: Service, snap: Snapshot): Promise<FileMount[]> {
    const c = t.Spec.ContainerSpec;
    if (!c.Secrets?.length && !c.Configs?.length) return [];
    const dir = path.join(this.d.filesDir, t.ID);
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const managers = snap.nodes.filter((n) => n.ManagerStatus && snap.alive.has(n.ID)).map((n) => n.Status.Addr);
    type File = { kind: 'secret' | 'config'; name: string; data: Buffer; templated: boolean; file: { Name: string; UID?: string; GID?: string; Mode?: number } };
    const files: File[] = [];
    for (const r of c.Configs ?? []) {
      const config = snap.configs.find((x) => x.ID === r.ConfigID);
      if (!config || !r.File) throw new Error(`config ${r.ConfigName ?? r.ConfigID} not found`);
      files.push({ kind: 'config', name: config.Spec.Name, data: Buffer.from(config.Spec.Data ?? '', 'base64'), templated: !!config.Spec.Templating, file: r.File });
    }
    for (const r of c.Secrets ?? []) {
      if (!r.SecretID || !r.File) throw new Error(`secret ${r.SecretName} not found`);
      const secret = snap.secrets.find((x) => x.ID === r.SecretID);
      files.push({ kind: 'secret', name: secret?.Spec.Name ?? r.SecretName ?? '', data: await this.d.fetchSecret(t.ID, r.SecretID, managers), templated: !!secret?.Spec.Templating, file: r.File });
    }
    // templated payloads see the task's other files as they are stored, never rendered
    const raw = (kind: 'secret' | 'config') => (name: string) => {
      const f = files.find((x) => x.kind === kind && x.name === name);
      if (!f) throw new Error(`${kind} ${name} is not one of the task's`);
      return f.data.toString('utf8');
    };
    const ctx = templateContext(t, svc, snap.nodes.find((n) => n.ID === t.NodeID));
    const out: FileMount[] = [];
    for (const [i, f] of files.entries()) {
      const data = f.templated ? renderPayload(f.data, ctx, { env: c.Env ?? [], config: raw('config'), secret: raw('secret') }) : f.data;
      const source = path.join(dir, `${f.kind}-${i}`);
      await fsp.writeFile(source, data, { mode: 0o600 });
      await fsp.chown(source, Number(f.file.UID ?? 0) || 0, Number(f.file.GID ?? 0) || 0);
      await fsp.chmod(source, f.file.Mode ?? 0o444);
      out.push({ Type: 'bind', Source: source, Target: fileTarget(f.kind === 'secret' ? 'secrets' : 'configs', f.file.Name), ReadOnly: true });
    }
    return out;
  }

  private async removeTaskFiles(taskId: string): Promise<void> {
    await fsp.rm(path.join(this.d.filesDir, taskId), { recursive: true, force: true }).catch(() => undefined);
  }

  private async stopTask(taskId: string, containerId: string, t: Task | undefined, keepContainer = false): Promise<void> {
    const rec = this.d.containers.find(containerId);
    const grace = t?.Spec.ContainerSpec.StopGracePeriod;
    if (rec?.State.Running) await this.d.containers.stop(containerId, { timeout: grace !== undefined ? Math.round(grace / 1e9) : 10 }).catch(() => undefined);
    if (!keepContainer) await this.d.containers.remove(containerId, { force: true, volumes: true }).catch((e) => this.d.log(`swarm agent: removing ${containerId}: ${(e as Error).message}`));
    await this.removeTaskFiles(taskId);
    if (t && !isTerminal(t.Status.State)) await this.setStatus(taskId, 'shutdown', 'shutdown').catch((e) => this.d.log(`swarm agent: task ${taskId}: ${(e as Error).message}`));
  }

  private containerEvent(ev: EngineEvent): void {
    if (ev.Type !== 'container') return;
    const rec = this.d.containers.find(ev.Actor.ID);
    const taskId = rec?.Config.Labels?.[TASK_LABEL];
    if (!taskId || !rec) return;
    const fail = (e: unknown) => this.d.log(`swarm agent: task ${taskId}: ${(e as Error).message}`);
    if (ev.Action === 'die') void this.reportExit(taskId, Number(ev.Actor.Attributes.exitCode ?? rec.State.ExitCode ?? 0)).catch(fail);
    else if (ev.Action === 'health_status: healthy') {
      void this.setStatus(taskId, 'running', 'started', { ContainerStatus: { ContainerID: rec.ID, PID: rec.State.Pid, ExitCode: 0 } }).catch(fail);
    } else if (ev.Action === 'health_status: unhealthy') {
      // Docker's: an unhealthy task has failed, and its container goes; the restart policy replaces it
      void (async () => {
        const t = await this.d.store.getObject<Task>('tasks', taskId);
        if (!t || isTerminal(t.Status.State)) return;
        await this.setStatus(taskId, 'failed', 'started', { Err: 'task: non-zero exit (137): dockerexec: unhealthy container', ContainerStatus: { ContainerID: rec.ID, PID: 0, ExitCode: 137 } });
        await this.d.containers.kill(rec.ID, 'SIGKILL').catch(() => undefined);
      })().catch(fail);
    }
  }

  private async reportExit(taskId: string, exitCode: number): Promise<void> {
    const t = await this.d.store.getObject<Task>('tasks', taskId);
    if (!t || isTerminal(t.Status.State)) return;
    if (t.DesiredState !== 'running') await this.setStatus(taskId, 'shutdown', 'shutdown', { ContainerStatus: { ...t.Status.ContainerStatus, ExitCode: exitCode } });
    else if (exitCode === 0) await this.setStatus(taskId, 'complete', 'finished', { ContainerStatus: { ...t.Status.ContainerStatus, ExitCode: 0 } });
    else await this.setStatus(taskId, 'failed', 'started', { Err: `task: non-zero exit (${exitCode})`, ContainerStatus: { ...t.Status.ContainerStatus, ExitCode: exitCode } });
  }
}

/** The container a task runs as, with the labels Docker gives task containers. */
/**
 * The task with the spec its service gives it, not the one in the task object: any agent may
 * write task objects (their states), only managers services. A task made from the service's
 * spec before the last change runs with the previous one; an older one runs with none.
 */
export function asItsServiceDefines(t: Task, svc: Service): Task | undefined {
  const current = svc.SpecVersion ?? 0;
  const made = t.SpecVersion ?? 0;
  const template = made === current ? svc.Spec.TaskTemplate : made === current - 1 ? svc.PreviousSpec?.TaskTemplate : undefined;
  return template ? { ...t, Spec: template } : undefined;
}

/** What a node keeps of a cluster network to attach its tasks to it. */
function localOverlay(n: ClusterNetwork) {
  const c = n.IPAMOptions.Configs[0];
  return {
    Id: n.ID,
    Name: n.Spec.Name,
    Created: n.CreatedAt,
    Labels: n.Spec.Labels ?? {},
    Options: n.Spec.DriverConfiguration.Options ?? {},
    Internal: n.Spec.Internal === true,
    Attachable: n.Spec.Attachable === true,
    subnet: c.Subnet,
    gateway: c.Gateway,
    vni: n.VNI,
  };
}

/**
 * The names a task answers to on a network besides its own (Docker's): `tasks.<service>` and
 * `tasks.<alias>` always; the service's name and aliases only in endpoint mode dnsrr (else
 * they are the VIP's). A stack's services have their compose names as aliases.
 */
function taskAliases(svc: Service, aliases: string[] | undefined): string[] {
  const names = [svc.Spec.Name, ...(aliases ?? [])];
  const tasks = names.map((n) => `tasks.${n}`);
  return [...new Set(svc.Spec.EndpointSpec?.Mode === 'dnsrr' ? [...names, ...tasks] : tasks)];
}

/** A secret's or config's file, bind-mounted into the task's container. */
interface FileMount {
  Type: 'bind';
  Source: string;
  Target: string;
  ReadOnly: true;
}

export function containerBody(t: Task, svc: Service, nodeId: string, files: FileMount[] = []): ContainerCreateBody {
  const c = t.Spec.ContainerSpec;
  const limits = t.Spec.Resources?.Limits ?? {};
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const p of svc.Spec.EndpointSpec?.Ports ?? []) {
    const key = `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
    exposed[key] = {};
    // host mode: the published port on this node; ingress: a free port the routing mesh forwards to
    const hostPort = p.PublishMode === 'host' && p.PublishedPort ? String(p.PublishedPort) : '';
    if (!(bindings[key] ??= []).some((b) => b.HostPort === hostPort)) bindings[key].push({ HostPort: hostPort });
  }
  const attachments = t.NetworksAttachments ?? [];
  const endpoints = Object.fromEntries(
    attachments.map((a) => [a.Network.ID, { IPAMConfig: { IPv4Address: a.Addresses[0].split('/')[0] }, Aliases: taskAliases(svc, a.Aliases) }]),
  );
  return {
    Image: c.Image,
    NetworkingConfig: attachments.length ? { EndpointsConfig: endpoints } : undefined,
    Entrypoint: c.Command && c.Command.length ? c.Command : undefined,
    Cmd: c.Args && c.Args.length ? c.Args : undefined,
    Env: c.Env,
    Hostname: c.Hostname || undefined,
    WorkingDir: c.Dir,
    User: c.User,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Labels: {
      ...(c.Labels ?? {}),
      'com.docker.swarm.service.id': svc.ID,
      'com.docker.swarm.service.name': svc.Spec.Name,
      'com.docker.swarm.task': '',
      [TASK_LABEL]: t.ID,
      'com.docker.swarm.task.name': `${svc.Spec.Name}.${t.Slot ?? nodeId}.${t.ID}`,
      'com.docker.swarm.node.id': nodeId,
    },
    Healthcheck: c.Healthcheck as ContainerCreateBody['Healthcheck'],
    HostConfig: {
      Memory: limits.MemoryBytes || undefined,
      NanoCpus: limits.NanoCPUs || undefined,
      PidsLimit: limits.Pids || undefined,
      Init: c.Init,
      PortBindings: Object.keys(bindings).length ? bindings : undefined,
      NetworkMode: attachments[0]?.Network.ID,
      Mounts: [...(c.Mounts ?? []).map((m) => ({ Type: (m.Type ?? 'volume') as 'volume' | 'bind', Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly })), ...files],
    },
  } as ContainerCreateBody;
}
