/**
 * Leadership among the managers and what the leader does. Every manager campaigns for the
 * `leader` key, bound to a lease of a few seconds it keeps alive; the one that holds it
 * watches the cluster and reconciles (src/swarm/cluster/orchestrator.ts): node states from
 * the heartbeats, tasks created, placed and stopped, rolling updates paced. When the leader
 * dies its lease lapses and another manager takes over within LEADER_TTL seconds.
 */
import { isTerminal, stateRank, type Service, type SwarmNode, type Task } from './model';
import { reconcile, type Plan } from './orchestrator';
import { allocateAddresses } from './networks';
import { PREFIX, type ClusterStore, type Snapshot } from './store';
import { Rerunner } from '../../common/rerun';

const LEADER_TTL_S = 3;
const CAMPAIGN_EVERY_MS = 1000;
/** a pass even without a change: timers due, nodes whose heartbeat lapsed */
const PASS_EVERY_MS = 1000;

export class Leader {
  private lease?: string;
  private leading = false;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private watch?: { close(): void };
  private passQueued = false;
  private readonly passes = new Rerunner(
    () => this.pass(),
    (e) => this.log(`swarm: reconciling: ${e.message}`),
    () => this.leading,
  );
  private wakeTimer?: NodeJS.Timeout;
  /** per overlay network, the last address given to a task */
  private readonly addressCursors = new Map<string, number>();

  /** each node's etcd access as last set by this leader */
  private readonly accessSet = new Map<string, 'manager' | 'worker'>();
  private lastAccessError = '';
  private passedOnce!: () => void;
  /** resolved once this manager has led one full pass: the nodes' states are written by then */
  private readonly firstPass = new Promise<void>((r) => (this.passedOnce = r));

  constructor(
    private readonly store: ClusterStore,
    private readonly nodeId: string,
    private readonly log: (msg: string) => void,
    /** gives a node the etcd access of its role (access.ts); none where etcd has no access control */
    private readonly setAccess?: (nodeId: string, role: 'manager' | 'worker') => Promise<void>,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Waits (up to `timeoutMs`) until this manager has led one pass; whether it has. */
  async settled(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.firstPass.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  start(): void {
    void this.campaign();
    this.timers.push(setInterval(() => void this.campaign(), CAMPAIGN_EVERY_MS));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.wakeTimer);
    this.watch?.close();
    const lease = this.lease;
    this.lease = undefined;
    this.leading = false;
    if (lease) await this.store.kv.revokeLease(lease).catch(() => undefined);
  }

  private async campaign(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.leading && this.lease) {
        const ttl = await this.store.kv.keepAlive(this.lease);
        if (ttl > 0) return;
        this.stepDown('the leadership lease lapsed');
      }
      const lease = await this.store.kv.grantLease(LEADER_TTL_S);
      if (await this.store.kv.putIfAbsent(`${PREFIX}leader`, this.nodeId, lease)) {
        this.lease = lease;
        this.leading = true;
        this.log(`swarm: this node leads the cluster`);
        this.lead();
      } else {
        await this.store.kv.revokeLease(lease).catch(() => undefined);
      }
    } catch (e) {
      if (this.leading) this.stepDown((e as Error).message);
    }
  }

  private stepDown(why: string): void {
    this.log(`swarm: no longer leading: ${why}`);
    this.leading = false;
    this.lease = undefined;
    this.watch?.close();
    this.watch = undefined;
  }

  private lead(): void {
    this.watch = this.store.kv.watchPrefix(PREFIX, 0, () => this.queuePass(), (e) => this.log(`swarm: watch: ${e.message}`));
    this.timers.push(setInterval(() => this.queuePass(), PASS_EVERY_MS));
    this.queuePass();
  }

  private queuePass(): void {
    if (!this.leading || this.passQueued) return;
    this.passQueued = true;
    setTimeout(() => void this.runPass(), 20);
  }

  private runPass(): Promise<void> {
    this.passQueued = false;
    return this.passes.run();
  }

  private async pass(): Promise<void> {
    const snap = await this.store.snapshot();
    if (snap.leader !== this.nodeId) return;
    await this.updateNodeStates(snap);
    await this.updateAccess(snap);
    const plan = reconcile({
      services: snap.services,
      tasks: snap.tasks,
      nodes: snap.nodes,
      now: Date.now(),
      historyLimit: snap.cluster?.Spec.Orchestration?.TaskHistoryRetentionLimit ?? 5,
    });
    await this.apply(plan, snap);
    if (plan.wakeAt !== undefined) {
      clearTimeout(this.wakeTimer);
      this.wakeTimer = setTimeout(() => this.queuePass(), Math.max(0, plan.wakeAt - Date.now()) + 5);
    }
    this.passedOnce();
  }

  /** A node is ready while its heartbeat lease lives; managers' reachability follows. */
  private async updateNodeStates(snap: Snapshot): Promise<void> {
    for (const node of snap.nodes) {
      const alive = snap.alive.has(node.ID);
      const state = alive ? 'ready' : 'down';
      const leader = node.ID === snap.leader;
      const reach = alive ? 'reachable' : 'unreachable';
      const managerChanged = node.ManagerStatus && (node.ManagerStatus.Leader !== leader || node.ManagerStatus.Reachability !== reach);
      if (node.Status.State === state && !managerChanged) continue;
      const written = await this.store.mutate<SwarmNode>('nodes', node.ID, (n) => {
        n.Status = { ...n.Status, State: state, Message: alive ? '' : 'heartbeat failure' };
        if (n.ManagerStatus) n.ManagerStatus = { ...n.ManagerStatus, Leader: leader, Reachability: reach };
        n.UpdatedAt = new Date().toISOString();
        return n;
      });
      if (written) Object.assign(node, written);
    }
  }

  /**
   * A promoted node gets root in etcd before it adds its member; a demoted one keeps it
   * until it has taken its member out (its ManagerStatus gone), then has a worker's.
   */
  private async updateAccess(snap: Snapshot): Promise<void> {
    if (!this.setAccess) return;
    for (const n of snap.nodes) {
      const role = n.Spec.Role === 'manager' || n.ManagerStatus ? 'manager' : 'worker';
      if (this.accessSet.get(n.ID) === role) continue;
      try {
        await this.setAccess(n.ID, role);
        this.accessSet.set(n.ID, role);
      } catch (e) {
        const msg = `swarm: etcd access of ${n.ID}: ${(e as Error).message}`;
        if (msg !== this.lastAccessError) this.log(msg);
        this.lastAccessError = msg;
      }
    }
  }

  private async apply(plan: Plan, snap: Snapshot): Promise<void> {
    allocateAddresses(plan.create, snap, this.addressCursors);
    for (const t of plan.create) {
      // the placement is on record before any agent can see the task
      if (t.NodeID) await this.store.recordAssignment(t.ID, t.NodeID);
      await this.store.create('tasks', t);
    }
    for (const [id, p] of plan.patch) {
      if (p.Status && p.NodeID) await this.store.recordAssignment(id, p.NodeID);
      await this.store.mutate<Task>('tasks', id, (t) => {
        let changed = false;
        if (p.DesiredState && stateRank(p.DesiredState) > stateRank(t.DesiredState)) {
          t.DesiredState = p.DesiredState;
          changed = true;
        }
        // placement only for a task still unplaced: never over what its agent reported
        if (p.Status && !t.NodeID && !isTerminal(t.Status.State)) {
          if (p.NodeID) t.NodeID = p.NodeID;
          t.Status = p.Status;
          changed = true;
        }
        if (!changed) return undefined;
        t.UpdatedAt = new Date().toISOString();
        return t;
      });
    }
    for (const id of plan.remove) {
      await this.store.remove('tasks', id);
      await this.store.forgetAssignment(id);
    }
    for (const [id, s] of plan.services) {
      await this.store.mutate<Service>('services', id, (svc) => {
        svc.UpdateStatus = s.UpdateStatus;
        if (s.rollback && svc.PreviousSpec) {
          const prev = svc.PreviousSpec;
          svc.PreviousSpec = svc.Spec;
          svc.Spec = prev;
          svc.SpecVersion = (svc.SpecVersion ?? 0) + 1;
        }
        svc.UpdatedAt = new Date().toISOString();
        return svc;
      });
    }
  }
}
