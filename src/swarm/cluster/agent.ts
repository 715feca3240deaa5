/**
 * The agent every swarm node runs: it keeps the node's heartbeat alive, and makes the
 * containers on this node match the tasks the leader assigned to it. A task it is told to
 * run is pulled, created and started, and its progress written back (preparing, starting,
 * running, then complete or failed with the exit code); a task told to stop is stopped and
 * removed. Containers of tasks no longer assigned here (stale after the node was away) go.
 */
import type { ContainerCreateBody } from '../../api/types';
import type { ContainerManager } from '../../container/manager';
import type { EngineEvent, EventBus } from '../../daemon/events';
import { isTerminal, stateRank, type Service, type Task, type TaskState } from './model';
import { PREFIX, type ClusterStore } from './store';
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
  events: EventBus;
  /** makes sure the image is here, pulling it if not */
  ensureImage: (image: string) => Promise<void>;
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
  /** tasks being started or stopped right now */
  private readonly busy = new Set<string>();
  private readonly onEvent = (ev: EngineEvent) => this.containerEvent(ev);

  constructor(private readonly d: AgentDeps) {}

  async start(): Promise<void> {
    await this.heartbeat();
    this.timers.push(setInterval(() => void this.heartbeat(), HEARTBEAT_EVERY_MS));
    this.watch = this.d.store.kv.watchPrefix(`${PREFIX}tasks/`, 0, () => void this.sync(), (e) => this.d.log(`swarm agent: watch: ${e.message}`));
    this.timers.push(setInterval(() => void this.sync(), SYNC_EVERY_MS));
    this.d.events.on('event', this.onEvent);
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
    return this.d.containers.store.all().filter((c) => c.Config.Labels?.[TASK_LABEL]);
  }

  sync(): Promise<void> {
    return this.syncer.run();
  }

  private async syncOnce(): Promise<void> {
    const snap = await this.d.store.snapshot();
    const mine = new Map(snap.tasks.filter((t) => t.NodeID === this.d.nodeId).map((t) => [t.ID, t]));
    const services = new Map(snap.services.map((s) => [s.ID, s]));
    const byTask = new Map(this.taskContainers().map((c) => [c.Config.Labels![TASK_LABEL], c]));
    // containers of tasks that are not (or no longer) this node's
    for (const [taskId, c] of byTask) {
      const t = mine.get(taskId);
      if (t && t.DesiredState === 'running') continue;
      if (this.busy.has(taskId)) continue;
      this.busy.add(taskId);
      void this.stopTask(taskId, c.ID, t).finally(() => this.busy.delete(taskId));
    }
    for (const t of mine.values()) {
      if (t.DesiredState !== 'running' || isTerminal(t.Status.State) || this.busy.has(t.ID)) continue;
      const c = byTask.get(t.ID);
      if (c) {
        // running already: an exit missed while berthd was down is reported now
        if (!c.State.Running && t.Status.State === 'running') await this.reportExit(t.ID, c.State.ExitCode);
        continue;
      }
      if (t.NotBefore && Date.parse(t.NotBefore) > Date.now()) continue;
      const svc = services.get(t.ServiceID);
      if (!svc) continue;
      this.busy.add(t.ID);
      void this.runTask(t, svc).finally(() => this.busy.delete(t.ID));
    }
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

  private async runTask(t: Task, svc: Service): Promise<void> {
    const spec = t.Spec.ContainerSpec;
    try {
      await this.setStatus(t.ID, 'accepted', 'accepted');
      await this.setStatus(t.ID, 'preparing', 'preparing');
      try {
        await this.d.ensureImage(spec.Image);
      } catch (e) {
        await this.setStatus(t.ID, 'rejected', 'preparing', { Err: (e as Error).message });
        return;
      }
      const name = `${svc.Spec.Name}.${t.Slot ?? this.d.nodeId}.${t.ID}`;
      const { Id } = await this.d.containers.create(containerBody(t, svc, this.d.nodeId), name);
      await this.setStatus(t.ID, 'starting', 'starting', { ContainerStatus: { ContainerID: Id } });
      // the task may have been told to stop meanwhile
      const now = await this.d.store.getObject<Task>('tasks', t.ID);
      if (!now || now.DesiredState !== 'running') {
        await this.d.containers.remove(Id, { force: true, volumes: true }).catch(() => undefined);
        return;
      }
      await this.d.containers.start(Id);
      const rec = this.d.containers.store.find(Id);
      const ingress = (svc.Spec.EndpointSpec?.Ports ?? []).filter((p) => p.PublishMode !== 'host');
      const meshPorts = ingress
        .map((p) => {
          const m = (rec?.Sandbox?.ports ?? []).find((x) => x.containerPort === p.TargetPort && x.protocol === (p.Protocol ?? 'tcp') && x.hostPort !== p.PublishedPort);
          return m ? { TargetPort: p.TargetPort, Protocol: p.Protocol ?? 'tcp', HostPort: m.hostPort } : undefined;
        })
        .filter((x): x is NonNullable<typeof x> => x !== undefined);
      if (meshPorts.length) await this.d.store.mutate<Task>('tasks', t.ID, (x) => ({ ...x, MeshPorts: meshPorts }));
      await this.setStatus(t.ID, 'running', 'started', { ContainerStatus: { ContainerID: Id, PID: rec?.State.Pid ?? 0, ExitCode: 0 } });
      // an exit before the status said running was not reported
      if (rec && !rec.State.Running) await this.reportExit(t.ID, rec.State.ExitCode);
    } catch (e) {
      this.d.log(`swarm agent: task ${t.ID}: ${(e as Error).message}`);
      await this.setStatus(t.ID, 'failed', 'starting container failed', { Err: (e as Error).message }).catch(() => undefined);
    }
  }

  private async stopTask(taskId: string, containerId: string, t: Task | undefined): Promise<void> {
    const rec = this.d.containers.store.find(containerId);
    const grace = t?.Spec.ContainerSpec.StopGracePeriod;
    if (rec?.State.Running) await this.d.containers.stop(containerId, { timeout: grace !== undefined ? Math.round(grace / 1e9) : 10 }).catch(() => undefined);
    await this.d.containers.remove(containerId, { force: true, volumes: true }).catch((e) => this.d.log(`swarm agent: removing ${containerId}: ${(e as Error).message}`));
    if (t && !isTerminal(t.Status.State)) await this.setStatus(taskId, 'shutdown', 'shutdown').catch((e) => this.d.log(`swarm agent: task ${taskId}: ${(e as Error).message}`));
  }

  private containerEvent(ev: EngineEvent): void {
    if (ev.Type !== 'container' || ev.Action !== 'die') return;
    const rec = this.d.containers.store.find(ev.Actor.ID);
    const taskId = rec?.Config.Labels?.[TASK_LABEL];
    if (!taskId) return;
    void this.reportExit(taskId, Number(ev.Actor.Attributes.exitCode ?? rec?.State.ExitCode ?? 0)).catch((e) => this.d.log(`swarm agent: ${(e as Error).message}`));
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
export function containerBody(t: Task, svc: Service, nodeId: string): ContainerCreateBody {
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
  return {
    Image: c.Image,
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
    HostConfig: {
      Memory: limits.MemoryBytes || undefined,
      NanoCpus: limits.NanoCPUs || undefined,
      PidsLimit: limits.Pids || undefined,
      Init: c.Init,
      PortBindings: Object.keys(bindings).length ? bindings : undefined,
      Mounts: (c.Mounts ?? []).map((m) => ({ Type: (m.Type ?? 'volume') as 'volume', Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly })),
    },
  } as ContainerCreateBody;
}
