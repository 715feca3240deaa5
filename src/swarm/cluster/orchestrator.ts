/**
 * The leader's reconciliation, as a pure function of what the cluster holds: which tasks
 * to create, which to stop, where new ones run, and how far a rolling update goes. The
 * leader applies the plan to etcd; the agents on the nodes act on what it writes.
 */
import { randomBytes } from 'node:crypto';
import { isGlobal, isJob, isTerminal, jobLimits, replicasOf, type Service, type SwarmNode, type Task, type TaskState } from './model';
import { acceptsTasks, addToLoad, chooseNode, emptyLoad, loadOf, satisfies } from './scheduler';

export interface TaskPatch {
  DesiredState?: TaskState;
  NodeID?: string;
  Status?: Task['Status'];
}

export interface Plan {
  create: Task[];
  patch: Map<string, TaskPatch>;
  remove: string[];
  /** service ID → new UpdateStatus (and Spec swap for a rollback) */
  services: Map<string, Pick<Service, 'UpdateStatus'> & { rollback?: boolean }>;
  /** the next moment something is due (a restart delay, an update's delay), ms since epoch */
  wakeAt?: number;
}

export interface ClusterView {
  services: Service[];
  tasks: Task[];
  nodes: SwarmNode[];
  now: number;
  /** terminal tasks kept per slot (Docker's TaskHistoryRetentionLimit, default 5) */
  historyLimit: number;
}

const DEFAULT_RESTART_DELAY_NS = 5e9;
/** how long a new task must run before an update counts as done (Docker's default Monitor) */
const DEFAULT_MONITOR_NS = 5e9;

export function newTaskId(): string {
  // Docker's task IDs: 25 lowercase base-36 characters
  let s = '';
  while (s.length < 25) s += BigInt('0x' + randomBytes(16).toString('hex')).toString(36);
  return s.slice(0, 25);
}

/** A task is current while it is meant to run and has not ended. */
function isCurrent(t: Task): boolean {
  return t.DesiredState === 'running' && !isTerminal(t.Status.State);
}

export function reconcile(view: ClusterView): Plan {
  const plan: Plan = { create: [], patch: new Map(), remove: [], services: new Map() };
  const iso = new Date(view.now).toISOString();
  const nodes = new Map(view.nodes.map((n) => [n.ID, n]));
  const patch = (t: Task, p: TaskPatch) => plan.patch.set(t.ID, { ...(plan.patch.get(t.ID) ?? {}), ...p });
  const wake = (at: number) => {
    if (plan.wakeAt === undefined || at < plan.wakeAt) plan.wakeAt = at;
  };
  const services = new Map(view.services.map((s) => [s.ID, s]));
  // what each task will be once this plan applies (for the load and the slot views)
  const desired = (t: Task) => plan.patch.get(t.ID)?.DesiredState ?? t.DesiredState;

  // tasks of removed services, and tasks on nodes that are gone, down or drained
  for (const t of view.tasks) {
    const svc = services.get(t.ServiceID);
    if (!svc) {
      if (t.DesiredState !== 'remove') patch(t, { DesiredState: 'remove' });
      const node = t.NodeID ? nodes.get(t.NodeID) : undefined;
      if (isTerminal(t.Status.State) || !node || node.Status.State !== 'ready') plan.remove.push(t.ID);
      continue;
    }
    if (t.DesiredState !== 'running' || !t.NodeID) continue;
    const node = nodes.get(t.NodeID);
    if (!node || node.Status.State === 'down' || node.Spec.Availability === 'drain') {
      patch(t, { DesiredState: 'shutdown' });
    }
  }

  const live = () => view.tasks.filter((t) => services.has(t.ServiceID) && desired(t) === 'running');
  for (const svc of view.services) {
    const mine = view.tasks.filter((t) => t.ServiceID === svc.ID);
    const rs = svc.Spec.TaskTemplate.RestartPolicy ?? {};
    // a job's task that completed is done: only a failed one is run again
    const condition = isJob(svc.Spec) && (rs.Condition ?? 'any') === 'any' ? 'on-failure' : (rs.Condition ?? 'any');
    const delayMs = (rs.Delay ?? DEFAULT_RESTART_DELAY_NS) / 1e6;
    const newTask = (slot: number | undefined, nodeId: string | undefined, notBefore?: number): Task => {
      const t = makeTask(svc, slot, nodeId, iso);
      if (notBefore && notBefore > view.now) {
        t.NotBefore = new Date(notBefore).toISOString();
        wake(notBefore);
      }
      plan.create.push(t);
      return t;
    };
    /** whether an ended task of this slot is restarted, and when */
    const restartOf: Restart = (ended, last) => {
      const failed = last.Status.State === 'failed' || last.Status.State === 'rejected';
      if (condition === 'none' || (condition === 'on-failure' && !failed)) return { restart: false, at: 0 };
      const max = rs.MaxAttempts ?? 0;
      if (max > 0) {
        const windowMs = (rs.Window ?? 0) / 1e6;
        const attempts = ended.filter((t) => windowMs === 0 || view.now - Date.parse(t.Status.Timestamp) <= windowMs).length;
        if (attempts > max) return { restart: false, at: 0 };
      }
      // a task its node lost is replaced at once; one that ended waits the restart delay
      const lost = desired(last) === 'shutdown' && last.DesiredState === 'running' && !isTerminal(last.Status.State);
      return { restart: true, at: lost ? view.now : Date.parse(last.Status.Timestamp) + delayMs };
    };

    if (isJob(svc.Spec)) {
      reconcileJob(svc, mine, view, plan, desired, patch, restartOf, newTask);
      continue;
    }

    if (isGlobal(svc.Spec)) {
      for (const node of view.nodes) {
        const onNode = mine.filter((t) => t.NodeID === node.ID);
        const current = onNode.filter((t) => desired(t) === 'running' && !isTerminal(t.Status.State));
        const eligible = satisfies(node, svc.Spec.TaskTemplate.Placement?.Constraints) && node.Spec.Availability !== 'drain' && node.Status.State !== 'down';
        if (!eligible) {
          for (const t of current) patch(t, { DesiredState: 'shutdown' });
          continue;
        }
        for (const t of onNode) if (desired(t) === 'running' && isTerminal(t.Status.State)) patch(t, { DesiredState: 'shutdown' });
        if (current.length > 0 || !acceptsTasks(node)) continue;
        const ended = onNode.filter((t) => isTerminal(t.Status.State)).sort(byTime);
        const last = ended[ended.length - 1];
        if (last) {
          const r = restartOf(ended, last);
          if (!r.restart) continue;
          newTask(undefined, node.ID, r.at);
        } else {
          newTask(undefined, node.ID);
        }
      }
      pruneHistory(mine, (t) => t.NodeID ?? '', view.historyLimit, plan, desired);
      continue;
    }

    const replicas = replicasOf(svc.Spec);
    const bySlot = new Map<number, Task[]>();
    for (const t of mine) {
      const list = bySlot.get(t.Slot ?? 0) ?? [];
      list.push(t);
      bySlot.set(t.Slot ?? 0, list);
    }
    for (let slot = 1; slot <= replicas; slot++) {
      const tasks = (bySlot.get(slot) ?? []).sort(byTime);
      const current = tasks.filter((t) => desired(t) === 'running' && !isTerminal(t.Status.State));
      for (const t of tasks) if (desired(t) === 'running' && isTerminal(t.Status.State)) patch(t, { DesiredState: 'shutdown' });
      if (current.length > 0) continue;
      const last = tasks[tasks.length - 1];
      if (!last) {
        newTask(slot, undefined);
        continue;
      }
      const ended = tasks.filter((t) => isTerminal(t.Status.State) || desired(t) !== 'running');
      const r = restartOf(ended, last);
      if (r.restart) newTask(slot, undefined, r.at);
    }
    // scaled down: the highest slots go
    for (const [slot, tasks] of bySlot) {
      if (slot <= replicas) continue;
      for (const t of tasks) if (desired(t) === 'running') patch(t, { DesiredState: 'shutdown' });
    }
    rollingUpdate(svc, mine, plan, view.now, desired, wake);
    pruneHistory(mine, (t) => String(t.Slot ?? 0), view.historyLimit, plan, desired);
  }

  schedule(view, plan, live(), iso);
  return plan;
}

type Restart = (ended: Task[], last: Task) => { restart: boolean; at: number };

/**
 * A job's current iteration, as swarmkit runs it: a replicated job fills its completion
 * slots, at most MaxConcurrent at once, until TotalCompletions tasks have completed; a
 * global job runs one task on each eligible node. Tasks of an earlier iteration stop.
 */
function reconcileJob(
  svc: Service,
  mine: Task[],
  view: ClusterView,
  plan: Plan,
  desired: (t: Task) => TaskState,
  patch: (t: Task, p: TaskPatch) => void,
  restartOf: Restart,
  newTask: (slot: number | undefined, nodeId: string | undefined, notBefore?: number) => Task,
): void {
  const iteration = svc.JobStatus?.JobIteration.Index ?? 0;
  const ofIteration = (t: Task) => (t.JobIteration?.Index ?? 0) === iteration;
  for (const t of mine) {
    if (desired(t) !== 'running') continue;
    if (!ofIteration(t) || isTerminal(t.Status.State)) patch(t, { DesiredState: 'shutdown' });
  }
  const current = mine.filter(ofIteration);
  const active = (ts: Task[]) => ts.some((t) => desired(t) === 'running' && !isTerminal(t.Status.State));
  /** the next task of a group (a slot, a node) that has not completed yet, if it is due one */
  const next = (group: Task[], slot: number | undefined, nodeId: string | undefined): boolean => {
    if (group.some((t) => t.Status.State === 'complete') || active(group)) return false;
    const ended = group.filter((t) => isTerminal(t.Status.State)).sort(byTime);
    const last = ended[ended.length - 1];
    if (!last) {
      newTask(slot, nodeId).JobIteration = { Index: iteration };
      return true;
    }
    const r = restartOf(ended, last);
    if (r.restart) newTask(slot, nodeId, r.at).JobIteration = { Index: iteration };
    return r.restart;
  };

  if (svc.Spec.Mode?.GlobalJob) {
    for (const node of view.nodes) {
      const onNode = current.filter((t) => t.NodeID === node.ID);
      const eligible = satisfies(node, svc.Spec.TaskTemplate.Placement?.Constraints) && node.Spec.Availability !== 'drain' && node.Status.State !== 'down';
      if (!eligible || !acceptsTasks(node)) continue;
      next(onNode, undefined, node.ID);
    }
    pruneHistory(mine, (t) => t.NodeID ?? '', view.historyLimit, plan, desired);
    return;
  }
  const { maxConcurrent, totalCompletions } = jobLimits(svc.Spec);
  const bySlot = new Map<number, Task[]>();
  for (const t of current) bySlot.set(t.Slot ?? 0, [...(bySlot.get(t.Slot ?? 0) ?? []), t]);
  let running = [...bySlot.values()].filter(active).length;
  for (let slot = 1; slot <= totalCompletions && running < maxConcurrent; slot++) {
    if (next(bySlot.get(slot) ?? [], slot, undefined)) running++;
  }
  pruneHistory(mine, (t) => String(t.Slot ?? 0), view.historyLimit, plan, desired);
}

/** A new task of the service's current spec; one given its node is assigned already. */
function makeTask(svc: Service, slot: number | undefined, nodeId: string | undefined, iso: string): Task {
  return {
    ID: newTaskId(),
    Version: { Index: 0 },
    CreatedAt: iso,
    UpdatedAt: iso,
    Labels: {},
    Spec: svc.Spec.TaskTemplate,
    ServiceID: svc.ID,
    Slot: slot,
    NodeID: nodeId,
    Status: nodeId ? { Timestamp: iso, State: 'assigned', Message: 'scheduler assigned task to node' } : { Timestamp: iso, State: 'new', Message: 'created' },
    DesiredState: 'running',
    SpecVersion: svc.SpecVersion ?? 0,
  };
}

function byTime(a: Task, b: Task): number {
  return Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt) || a.ID.localeCompare(b.ID);
}

/**
 * Replaces tasks made from an older spec, `Parallelism` at a time with `Delay` between
 * batches, stopping the old task first or (`Order: start-first`) once its replacement runs;
 * a new task that fails pauses the update (or rolls it back) as the service says.
 */
function rollingUpdate(svc: Service, mine: Task[], plan: Plan, now: number, desired: (t: Task) => TaskState, wake: (at: number) => void): void {
  const version = svc.SpecVersion ?? 0;
  const state = svc.UpdateStatus?.State;
  if (state === 'paused' || state === 'rollback_paused') return;
  const rollingBack = state === 'rollback_started';
  const cfg = (rollingBack ? svc.Spec.RollbackConfig : svc.Spec.UpdateConfig) ?? {};
  let outdated = mine.filter((t) => desired(t) === 'running' && !isTerminal(t.Status.State) && (t.SpecVersion ?? 0) !== version && !plan.patch.has(t.ID));
  const fresh = mine.filter((t) => (t.SpecVersion ?? 0) === version);
  // start-first: an old task goes once its replacement runs, and a slot (a node for a global
  // service) whose replacement is on its way is not replaced again meanwhile
  const startFirst = cfg.Order === 'start-first';
  if (startFirst) {
    const place = (t: Task) => (t.Slot === undefined ? `node ${t.NodeID}` : `slot ${t.Slot}`);
    const replacement = new Map<string, Task>();
    for (const t of fresh) if (desired(t) === 'running' && !isTerminal(t.Status.State)) replacement.set(place(t), t);
    for (const t of outdated) if (replacement.get(place(t))?.Status.State === 'running') plan.patch.set(t.ID, { ...(plan.patch.get(t.ID) ?? {}), DesiredState: 'shutdown' });
    outdated = outdated.filter((t) => !replacement.has(place(t)));
  }
  const startedAt = svc.UpdateStatus?.StartedAt ? Date.parse(svc.UpdateStatus.StartedAt) : 0;
  const failedFresh = fresh.find((t) => (t.Status.State === 'failed' || t.Status.State === 'rejected') && Date.parse(t.CreatedAt) >= startedAt);
  if (failedFresh && (state === 'updating' || state === 'rollback_started')) {
    const action = cfg.FailureAction ?? 'pause';
    if (action === 'pause') {
      plan.services.set(svc.ID, {
        UpdateStatus: { State: rollingBack ? 'rollback_paused' : 'paused', StartedAt: svc.UpdateStatus?.StartedAt, Message: `update paused due to failure or early termination of task ${failedFresh.ID}` },
      });
      return;
    }
    if (action === 'rollback' && !rollingBack && svc.PreviousSpec) {
      plan.services.set(svc.ID, { rollback: true, UpdateStatus: { State: 'rollback_started', StartedAt: new Date(now).toISOString(), Message: 'update rolled back due to failure or early termination of task ' + failedFresh.ID } });
      return;
    }
  }
  if (outdated.length === 0) {
    if (state === 'updating' || state === 'rollback_started') {
      const pendingFresh = fresh.some((t) => desired(t) === 'running' && !isTerminal(t.Status.State) && t.Status.State !== 'running');
      // as Docker's: done once the last new task has run for the monitor period without failing
      const settledAt = Math.max(0, ...fresh.filter((t) => t.Status.State === 'running').map((t) => Date.parse(t.Status.Timestamp))) + (cfg.Monitor ?? DEFAULT_MONITOR_NS) / 1e6;
      if (!pendingFresh && now < settledAt) {
        wake(settledAt);
        return;
      }
      if (!pendingFresh) {
        plan.services.set(svc.ID, {
          UpdateStatus: { State: rollingBack ? 'rollback_completed' : 'completed', StartedAt: svc.UpdateStatus?.StartedAt, CompletedAt: new Date(now).toISOString(), Message: rollingBack ? 'rollback completed' : 'update completed' },
        });
      }
    }
    return;
  }
  // a batch is under way while fresh tasks of this update are not running yet
  const inFlight = fresh.filter((t) => desired(t) === 'running' && !isTerminal(t.Status.State) && t.Status.State !== 'running').length + plan.create.filter((t) => t.ServiceID === svc.ID).length;
  const parallelism = cfg.Parallelism === undefined ? 1 : cfg.Parallelism;
  const room = parallelism === 0 ? outdated.length : parallelism - inFlight;
  if (room <= 0) return;
  // the delay runs from the moment the last fresh task started running
  const lastRunning = Math.max(0, ...fresh.filter((t) => t.Status.State === 'running' && Date.parse(t.CreatedAt) >= startedAt).map((t) => Date.parse(t.Status.Timestamp)));
  const delayMs = (cfg.Delay ?? 0) / 1e6;
  if (lastRunning > 0 && now < lastRunning + delayMs) {
    wake(lastRunning + delayMs);
    return;
  }
  for (const t of outdated.sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)).slice(0, room)) {
    if (!startFirst) plan.patch.set(t.ID, { ...(plan.patch.get(t.ID) ?? {}), DesiredState: 'shutdown' });
    // a global task stays on its node; a replica goes where the scheduler says
    plan.create.push(makeTask(svc, t.Slot, t.Slot === undefined ? t.NodeID : undefined, new Date(now).toISOString()));
  }
}

/** Terminal tasks beyond the history limit of their slot (or node) are deleted, oldest first. */
function pruneHistory(mine: Task[], slotOf: (t: Task) => string, limit: number, plan: Plan, desired: (t: Task) => TaskState): void {
  const groups = new Map<string, Task[]>();
  for (const t of mine) {
    if (desired(t) === 'running' || !isTerminal(t.Status.State)) continue;
    const g = groups.get(slotOf(t)) ?? [];
    g.push(t);
    groups.set(slotOf(t), g);
  }
  for (const g of groups.values()) {
    g.sort(byTime);
    for (const t of g.slice(0, Math.max(0, g.length - limit))) plan.remove.push(t.ID);
  }
}

/** Gives unplaced tasks their nodes, spreading each service evenly. */
function schedule(view: ClusterView, plan: Plan, live: Task[], iso: string): void {
  const load = loadOf(live.filter((t) => t.NodeID));
  const place = (t: Task): TaskPatch | undefined => {
    if (t.NotBefore && Date.parse(t.NotBefore) > view.now) return undefined;
    const p = chooseNode(t.ServiceID, t.Spec, view.nodes, load);
    if ('nodeId' in p) {
      const l = load.get(p.nodeId) ?? emptyLoad();
      addToLoad(l, { ...t, NodeID: p.nodeId });
      load.set(p.nodeId, l);
      return { NodeID: p.nodeId, Status: { Timestamp: iso, State: 'assigned', Message: 'scheduler assigned task to node' } };
    }
    if (t.Status.State === 'pending' && t.Status.Err === p.reason) return undefined;
    return { Status: { Timestamp: iso, State: 'pending', Message: 'pending task scheduling', Err: p.reason } };
  };
  for (const t of plan.create) {
    if (t.NodeID) {
      const l = load.get(t.NodeID) ?? emptyLoad();
      addToLoad(l, t);
      load.set(t.NodeID, l);
      continue;
    }
    const p = place(t);
    if (p) Object.assign(t, p);
    else if (t.Status.State === 'new') t.Status = { Timestamp: iso, State: 'pending', Message: 'pending task scheduling' };
  }
  for (const t of live) {
    if (t.NodeID || isTerminal(t.Status.State) || plan.patch.get(t.ID)?.DesiredState) continue;
    const p = place(t);
    if (p) plan.patch.set(t.ID, { ...(plan.patch.get(t.ID) ?? {}), ...p });
  }
}

export { isCurrent };
