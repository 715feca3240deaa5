import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { reconcile, type ClusterView, type Plan } from '../../src/swarm/cluster/orchestrator';
import { chooseNode, loadOf, satisfies } from '../../src/swarm/cluster/scheduler';
import type { Service, SwarmNode, Task, TaskState } from '../../src/swarm/cluster/model';

const T0 = Date.parse('2026-11-28T10:00:00Z');

function node(id: string, extra: { labels?: Record<string, string>; state?: 'ready' | 'down'; availability?: 'active' | 'pause' | 'drain'; role?: 'manager' | 'worker' } = {}): SwarmNode {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: extra.role ?? 'worker', Availability: extra.availability ?? 'active', Labels: extra.labels ?? {} },
    Description: { Hostname: `host-${id}`, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: { NanoCPUs: 2e9, MemoryBytes: 4 * 2 ** 30 }, Engine: { EngineVersion: '0.1.0' } },
    Status: { State: extra.state ?? 'ready', Addr: '10.0.0.1' },
  };
}

function service(id: string, spec: Partial<Service['Spec']> = {}, extra: Partial<Service> = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: id, TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 1 } }, ...spec },
    SpecVersion: 1,
    ...extra,
  };
}

let n = 0;
function task(svc: string, slot: number | undefined, nodeId: string | undefined, state: TaskState, extra: Partial<Task> = {}): Task {
  n++;
  const at = new Date(T0 - 60_000 + n).toISOString();
  return { ID: `t${n}`, Version: { Index: n }, CreatedAt: at, UpdatedAt: at, Spec: { ContainerSpec: { Image: 'busybox' } }, ServiceID: svc, Slot: slot, NodeID: nodeId, Status: { Timestamp: at, State: state, Message: '' }, DesiredState: 'running', SpecVersion: 1, ...extra };
}

function view(v: Partial<ClusterView>): ClusterView {
  return { services: [], tasks: [], nodes: [], now: T0, historyLimit: 5, ...v };
}

/** The tasks as they would be after the plan: current ones per node. */
function placed(v: ClusterView, plan: Plan): Map<string, number> {
  const out = new Map<string, number>();
  const all = [...v.tasks.map((t) => ({ ...t, ...(plan.patch.get(t.ID) ?? {}) })), ...plan.create];
  for (const t of all) if (t.DesiredState === 'running' && t.NodeID) out.set(t.NodeID, (out.get(t.NodeID) ?? 0) + 1);
  return out;
}

test('replicas spread evenly: counts differ by at most one', () => {
  const nodes = [node('a'), node('b'), node('c')];
  for (const replicas of [1, 2, 3, 7, 30]) {
    const v = view({ nodes, services: [service('web', { Mode: { Replicated: { Replicas: replicas } } })] });
    const plan = reconcile(v);
    assert.equal(plan.create.length, replicas);
    assert.deepEqual(new Set(plan.create.map((t) => t.Slot)), new Set(Array.from({ length: replicas }, (_, i) => i + 1)));
    const counts = [...placed(v, plan).values()];
    assert.ok(Math.max(...counts) - Math.min(...counts, replicas >= 3 ? Infinity : 0) <= 1, `${replicas}: ${counts}`);
    assert.ok(plan.create.every((t) => t.Status.State === 'assigned'));
  }
});

test('constraints, drained and down nodes: nothing lands where it may not; the reason reads as Docker', () => {
  const nodes = [node('a', { labels: { zone: 'a' } }), node('b', { labels: { zone: 'b' } }), node('c', { labels: { zone: 'a' }, availability: 'drain' }), node('d', { labels: { zone: 'a' }, state: 'down' })];
  const svc = service('web', { Mode: { Replicated: { Replicas: 4 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Placement: { Constraints: ['node.labels.zone==a'] } } });
  svc.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==a'] };
  const v = view({ nodes, services: [svc] });
  const plan = reconcile(v);
  assert.deepEqual([...placed(v, plan).keys()], ['a']);
  const none = service('db');
  none.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==z'] };
  const p2 = reconcile(view({ nodes, services: [none] }));
  assert.equal(p2.create[0].Status.State, 'pending');
  assert.equal(p2.create[0].Status.Err, 'no suitable node (2 nodes not available for new tasks; scheduling constraints not satisfied on 2 nodes)');
  assert.equal(satisfies(nodes[0], ['node.role!=manager', 'node.hostname==host-a']), true);
  assert.equal(satisfies(nodes[0], ['node.role==manager']), false);
});

test('tasks of a node that goes down are started elsewhere at once', () => {
  const nodes = [node('a'), node('b', { state: 'down' }), node('c')];
  const tasks = [task('web', 1, 'a', 'running'), task('web', 2, 'b', 'running'), task('web', 3, 'c', 'running')];
  const v = view({ nodes, services: [service('web', { Mode: { Replicated: { Replicas: 3 } } })], tasks });
  const plan = reconcile(v);
  assert.equal(plan.patch.get(tasks[1].ID)?.DesiredState, 'shutdown');
  assert.equal(plan.create.length, 1);
  assert.equal(plan.create[0].Slot, 2);
  assert.notEqual(plan.create[0].NodeID, 'b');
  assert.equal(plan.create[0].NotBefore, undefined, 'no restart delay for a lost node');
});

test('restart policy: a failed task comes back after its delay; none and max attempts stop it', () => {
  const nodes = [node('a')];
  const failed = task('web', 1, 'a', 'failed');
  failed.Status.Timestamp = new Date(T0 - 1000).toISOString();
  const svc = service('web');
  const p = reconcile(view({ nodes, services: [svc], tasks: [failed] }));
  assert.equal(p.patch.get(failed.ID)?.DesiredState, 'shutdown');
  assert.equal(p.create.length, 1);
  assert.equal(p.create[0].NotBefore, new Date(T0 + 4000).toISOString(), 'the default 5 s delay from the failure');
  assert.equal(p.create[0].Status.State, 'pending', 'not placed before its time');
  assert.equal(p.wakeAt, T0 + 4000);
  const never = service('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'none' } } });
  assert.equal(reconcile(view({ nodes, services: [never], tasks: [failed] })).create.length, 0);
  const complete = task('web', 1, 'a', 'complete');
  const onFailure = service('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'on-failure', Delay: 0 } } });
  assert.equal(reconcile(view({ nodes, services: [onFailure], tasks: [complete] })).create.length, 0);
  const limited = service('web', { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'any', Delay: 0, MaxAttempts: 2 } } });
  const history = [task('web', 1, 'a', 'failed', { DesiredState: 'shutdown' }), task('web', 1, 'a', 'failed', { DesiredState: 'shutdown' }), task('web', 1, 'a', 'failed')];
  assert.equal(reconcile(view({ nodes, services: [limited], tasks: history })).create.length, 0, 'two restarts, then no more');
  assert.equal(reconcile(view({ nodes, services: [limited], tasks: history.slice(1) })).create.length, 1);
});

test('scaling down stops the highest slots; a global service runs one task per eligible node', () => {
  const nodes = [node('a'), node('b'), node('c', { availability: 'drain' })];
  const tasks = [1, 2, 3, 4].map((s) => task('web', s, s % 2 ? 'a' : 'b', 'running'));
  const p = reconcile(view({ nodes, services: [service('web', { Mode: { Replicated: { Replicas: 2 } } })], tasks }));
  assert.deepEqual([...p.patch.entries()].filter(([, x]) => x.DesiredState === 'shutdown').map(([id]) => id).sort(), [tasks[2].ID, tasks[3].ID].sort());
  assert.equal(p.create.length, 0);
  const g = reconcile(view({ nodes, services: [service('agent', { Mode: { Global: {} } })] }));
  assert.deepEqual(g.create.map((t) => t.NodeID).sort(), ['a', 'b']);
  assert.ok(g.create.every((t) => t.Slot === undefined));
});

test('a rolling update replaces Parallelism tasks at a time and waits Delay between batches', () => {
  const nodes = [node('a'), node('b')];
  const svc = service('web', { Mode: { Replicated: { Replicas: 4 } }, UpdateConfig: { Parallelism: 2, Delay: 2e9 } }, { SpecVersion: 2, UpdateStatus: { State: 'updating', StartedAt: new Date(T0 - 30_000).toISOString() } });
  const old = [1, 2, 3, 4].map((s) => task('web', s, s % 2 ? 'a' : 'b', 'running'));
  const first = reconcile(view({ nodes, services: [svc], tasks: old }));
  assert.equal(first.create.length, 2);
  assert.deepEqual(first.create.map((t) => t.Slot), [1, 2]);
  assert.ok(first.create.every((t) => t.SpecVersion === 2));
  // the first batch running since 1 s: the second waits for the 2 s delay
  const fresh = first.create.map((t) => ({ ...t, Status: { ...t.Status, State: 'running' as TaskState, Timestamp: new Date(T0 - 1000).toISOString() } }));
  const after = [...old.map((t, i) => (i < 2 ? { ...t, DesiredState: 'shutdown' as TaskState, Status: { ...t.Status, State: 'shutdown' as TaskState } } : t)), ...fresh];
  const second = reconcile(view({ nodes, services: [svc], tasks: after }));
  assert.equal(second.create.length, 0);
  assert.equal(second.wakeAt, T0 + 1000);
  const third = reconcile(view({ nodes, services: [svc], tasks: after, now: T0 + 1500 }));
  assert.deepEqual(third.create.map((t) => t.Slot), [3, 4]);
  // a fresh task that fails pauses the update (the default failure action)
  const broken = [...after, { ...third.create[0], Status: { ...third.create[0].Status, State: 'failed' as TaskState } }];
  const paused = reconcile(view({ nodes, services: [svc], tasks: broken, now: T0 + 2000 }));
  assert.equal(paused.services.get('web')?.UpdateStatus?.State, 'paused');
});

test('a start-first update starts each new task before its old one stops', () => {
  const nodes = [node('a'), node('b')];
  const svc = service('web', { Mode: { Replicated: { Replicas: 2 } }, UpdateConfig: { Parallelism: 1, Order: 'start-first' } }, { SpecVersion: 2, UpdateStatus: { State: 'updating', StartedAt: new Date(T0 - 30_000).toISOString() } });
  const old = [1, 2].map((s) => task('web', s, s === 1 ? 'a' : 'b', 'running'));
  const first = reconcile(view({ nodes, services: [svc], tasks: old }));
  assert.deepEqual(first.create.map((t) => t.Slot), [1]);
  assert.equal(first.patch.size, 0, 'the old task of slot 1 runs on while its replacement starts');
  // the replacement starting: nothing more happens (not a second one for slot 1, not slot 2)
  const starting = { ...first.create[0], Status: { ...first.create[0].Status, State: 'starting' as TaskState } };
  const second = reconcile(view({ nodes, services: [svc], tasks: [...old, starting] }));
  assert.equal(second.create.length, 0);
  assert.equal(second.patch.size, 0);
  // running: the old one of slot 1 stops, and slot 2 gets its replacement
  const running = { ...starting, Status: { ...starting.Status, State: 'running' as TaskState, Timestamp: new Date(T0 - 1000).toISOString() } };
  const third = reconcile(view({ nodes, services: [svc], tasks: [...old, running] }));
  assert.equal(third.patch.get(old[0].ID)?.DesiredState, 'shutdown');
  assert.equal(third.patch.get(old[1].ID), undefined);
  assert.deepEqual(third.create.map((t) => t.Slot), [2]);
  // stop-first (the default) stops the old one in the same step as it makes the new one
  const stopFirst = service('web', { Mode: { Replicated: { Replicas: 2 } }, UpdateConfig: { Parallelism: 1 } }, { SpecVersion: 2, UpdateStatus: { State: 'updating', StartedAt: new Date(T0 - 30_000).toISOString() } });
  const plain = reconcile(view({ nodes, services: [stopFirst], tasks: old }));
  assert.equal(plain.patch.get(old[0].ID)?.DesiredState, 'shutdown');
});

test('chooseNode respects reservations', () => {
  const nodes = [node('a'), node('b')];
  const heavy = { ContainerSpec: { Image: 'x' }, Resources: { Reservations: { MemoryBytes: 3 * 2 ** 30 } } };
  const load = loadOf([task('s', 1, 'a', 'running', { Spec: heavy })]);
  assert.deepEqual(chooseNode('s', heavy, nodes, load), { nodeId: 'b' });
  load.set('b', load.get('a')!);
  assert.deepEqual(chooseNode('s', heavy, nodes, load), { reason: 'no suitable node (insufficient resources on 2 nodes)' });
});

test('an update is completed only after the new tasks ran for the monitor period', () => {
  const nodes = [node('a')];
  const svc = service('web', { Mode: { Replicated: { Replicas: 1 } }, UpdateConfig: { Monitor: 3e9 } }, { SpecVersion: 2, UpdateStatus: { State: 'updating', StartedAt: new Date(T0 - 10_000).toISOString() } });
  const fresh = task('web', 1, 'a', 'running', { SpecVersion: 2, CreatedAt: new Date(T0 - 2000).toISOString() });
  fresh.Status.Timestamp = new Date(T0 - 1000).toISOString();
  const early = reconcile(view({ nodes, services: [svc], tasks: [fresh] }));
  assert.equal(early.services.get('web'), undefined);
  assert.equal(early.wakeAt, T0 + 2000);
  const late = reconcile(view({ nodes, services: [svc], tasks: [fresh], now: T0 + 2500 }));
  assert.equal(late.services.get('web')?.UpdateStatus?.State, 'completed');
});

test('a replicated job runs MaxConcurrent at a time until TotalCompletions completed; a failure is retried', () => {
  const nodes = [node('a'), node('b')];
  const job = service('job', { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } } }, { JobStatus: { JobIteration: { Index: 0 }, LastExecution: '' } });
  const first = reconcile(view({ nodes, services: [job] }));
  assert.deepEqual(first.create.map((t) => t.Slot), [1, 2]);
  assert.ok(first.create.every((t) => t.JobIteration?.Index === 0));
  const it0 = { JobIteration: { Index: 0 } };
  const done = task('job', 1, 'a', 'complete', it0);
  const failed = task('job', 2, 'b', 'failed', { ...it0, Status: { Timestamp: new Date(T0 - 10_000).toISOString(), State: 'failed', Message: '' } });
  const next = reconcile(view({ nodes, services: [job], tasks: [done, failed] }));
  assert.equal(next.patch.get(done.ID)?.DesiredState, 'shutdown', 'a completed task is ended, not restarted');
  assert.deepEqual(next.create.map((t) => t.Slot).sort(), [2, 3], 'the failed slot again, and the next one');
  const all = [1, 2, 3, 4, 5].map((s) => task('job', s, 'a', 'complete', { ...it0, DesiredState: 'shutdown' }));
  assert.equal(reconcile(view({ nodes, services: [job], tasks: all })).create.length, 0, 'done after TotalCompletions');
  const rerun = { ...job, JobStatus: { JobIteration: { Index: 1 }, LastExecution: '' } };
  assert.equal(reconcile(view({ nodes, services: [rerun], tasks: all })).create.length, 2, 'a new iteration runs again');
  const none = service('job', { Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }, TaskTemplate: { ContainerSpec: { Image: 'busybox' }, RestartPolicy: { Condition: 'none' } } });
  assert.equal(reconcile(view({ nodes, services: [none], tasks: [task('job', 1, 'a', 'failed', { DesiredState: 'shutdown' })] })).create.length, 0);
});

test('a global job runs once on each eligible node', () => {
  const nodes = [node('a'), node('b'), node('c', { availability: 'drain' })];
  const job = service('gj', { Mode: { GlobalJob: {} } });
  assert.deepEqual(reconcile(view({ nodes, services: [job] })).create.map((t) => t.NodeID).sort(), ['a', 'b']);
  const p = reconcile(view({ nodes, services: [job], tasks: [task('gj', undefined, 'a', 'complete'), task('gj', undefined, 'b', 'running')] }));
  assert.equal(p.create.length, 0);
});
