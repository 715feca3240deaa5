/**
 * The managers' API on cluster objects: nodes, services and tasks, looked up by ID, name
 * or unique ID prefix as Docker does, changed with the API's optimistic `version`, and
 * refused in Docker's words.
 */
import { randomBytes } from 'node:crypto';
import { conflict, invalid, notFound, unavailable } from '../../common/errors';
import { labelsMatch } from '../../common/filters';
import { isGlobal, isJob, isTerminal, jobLimits, modeKind, replicasOf, type NodeSpec, type Service, type ServiceSpec, type SwarmNode, type Task } from './model';
import { parseConstraint } from './scheduler';
import { resolveServiceNetworks, serviceVips } from './networks';
import { resolveServiceFiles } from './files';
import type { ClusterStore, Snapshot } from './store';

const NO_LEADER =
  "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

export type Filters = Record<string, string[]>;

/** Runs a store call; an etcd without quorum (time-outs, refusals) reads as Docker's "no leader". */
export async function cluster<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const msg = (e as Error).message ?? '';
    if (/timed? ?out|no answer within|ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|no leader|unavailable|EHOSTUNREACH|ETIMEDOUT|etcdserver/i.test(msg) && !(e as { status?: number }).status) throw unavailable(NO_LEADER);
    throw e;
  }
}

function findBy<T extends { ID: string }>(list: T[], ref: string, name: (x: T) => string | undefined, what: string): T {
  const exact = list.find((x) => x.ID === ref) ?? list.find((x) => name(x) === ref);
  if (exact) return exact;
  const prefixed = list.filter((x) => x.ID.startsWith(ref));
  if (prefixed.length === 1 && ref.length > 0) return prefixed[0];
  if (prefixed.length > 1) throw invalid(`${what} ${ref} is ambiguous (${prefixed.length} matches found)`);
  throw notFound(`${what} ${ref} not found`);
}

export function findNode(snap: Snapshot, ref: string, self?: string): SwarmNode {
  if (ref === 'self' && self) ref = self;
  return findBy(snap.nodes, ref, (n) => n.Description.Hostname, 'node');
}

export function findService(snap: Snapshot, ref: string): Service {
  return findBy(snap.services, ref, (s) => s.Spec.Name, 'service');
}

export function findTask(snap: Snapshot, ref: string): Task {
  return findBy(snap.tasks, ref, () => undefined, 'task');
}

// ---- nodes --------------------------------------------------------------------------

export function filterNodes(nodes: SwarmNode[], f: Filters, self: string): SwarmNode[] {
  return nodes.filter((n) => {
    if (f.id && !f.id.some((v) => n.ID.startsWith(v))) return false;
    if (f.name && !f.name.some((v) => n.Description.Hostname.includes(v) || n.Spec.Name === v)) return false;
    if (f.role && !f.role.includes(n.Spec.Role)) return false;
    if (f.membership && !f.membership.includes('accepted')) return false;
    if (!labelsMatch(n.Spec.Labels, f['node.label'])) return false;
    if (!labelsMatch(n.Description.Engine.Labels, f.label)) return false;
    return true;
  });
}

export async function updateNode(store: ClusterStore, ref: string, version: number, spec: NodeSpec): Promise<void> {
  const snap = await store.snapshot();
  const node = findNode(snap, ref);
  if (!['active', 'pause', 'drain'].includes(spec.Availability)) throw invalid(`invalid availability: ${spec.Availability}`);
  if (!['worker', 'manager'].includes(spec.Role)) throw invalid(`invalid role: ${spec.Role}`);
  if (spec.Role === 'worker' && node.Spec.Role === 'manager') {
    const managers = snap.nodes.filter((n) => n.Spec.Role === 'manager');
    if (managers.length <= 1) throw invalid('rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm');
    // the remaining members must still be a majority of the smaller cluster
    const alive = managers.filter((n) => n.ID !== node.ID && snap.alive.has(n.ID)).length;
    if (alive < Math.floor((managers.length - 1) / 2) + 1) {
      throw invalid(`rpc error: code = FailedPrecondition desc = can't remove member from the raft: this would result in a loss of quorum`);
    }
  }
  if (spec.Role !== node.Spec.Role && !snap.alive.has(node.ID)) {
    throw invalid(`rpc error: code = FailedPrecondition desc = node ${node.ID} is down: its role can change only while it is up`);
  }
  const next: SwarmNode = { ...node, Spec: { ...spec, Labels: spec.Labels ?? {} }, UpdatedAt: new Date().toISOString() };
  if (!(await store.replace('nodes', next, version))) throw outOfSequence();
}

/** Removes a node from the cluster's books; its ID. */
export async function removeNode(store: ClusterStore, ref: string, force: boolean, self: string): Promise<string> {
  const snap = await store.snapshot();
  const node = findNode(snap, ref);
  if (node.ID === self) throw invalid(`rpc error: code = FailedPrecondition desc = node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
  if (node.Spec.Role === 'manager') throw invalid(`rpc error: code = FailedPrecondition desc = node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
  if (!force && snap.alive.has(node.ID)) {
    throw invalid(`rpc error: code = FailedPrecondition desc = node ${node.ID} is not down and can't be removed`);
  }
  await store.remove('nodes', node.ID);
  // its tasks are the leader's to replace: mark them so
  for (const t of snap.tasks.filter((x) => x.NodeID === node.ID)) {
    await store.mutate<Task>('tasks', t.ID, (x) => (x.DesiredState === 'running' ? { ...x, DesiredState: 'shutdown' } : undefined));
  }
  return node.ID;
}

// ---- services -----------------------------------------------------------------------

const SERVICE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-_.]{0,61}[a-zA-Z0-9])?$/;

export function validateServiceSpec(spec: ServiceSpec): void {
  if (!spec || typeof spec !== 'object') throw invalid('service spec is required');
  if (!spec.TaskTemplate?.ContainerSpec?.Image) throw invalid('rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be provided');
  if (spec.Name !== undefined && spec.Name !== '' && !SERVICE_NAME.test(spec.Name)) {
    throw invalid(`rpc error: code = InvalidArgument desc = name must be valid as a DNS name component`);
  }
  const replicas = spec.Mode?.Replicated?.Replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) throw invalid(`invalid replicas value ${replicas}`);
  const modes = ['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'] as const;
  if (modes.filter((m) => spec.Mode?.[m]).length > 1) throw invalid('rpc error: code = InvalidArgument desc = service mode is not valid');
  const job = spec.Mode?.ReplicatedJob;
  for (const [field, n] of Object.entries({ MaxConcurrent: job?.MaxConcurrent, TotalCompletions: job?.TotalCompletions })) {
    if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw invalid(`rpc error: code = InvalidArgument desc = ReplicatedJob: ${field} must be a non-negative integer`);
  }
  for (const c of spec.TaskTemplate.Placement?.Constraints ?? []) {
    try {
      parseConstraint(c);
    } catch {
      throw invalid(`rpc error: code = InvalidArgument desc = invalid constraint: ${c}`);
    }
  }
  const seen = new Set<string>();
  for (const p of spec.EndpointSpec?.Ports ?? []) {
    if (!p.TargetPort || p.TargetPort < 1 || p.TargetPort > 65535) throw invalid(`invalid target port ${p.TargetPort}`);
    if (p.PublishedPort) {
      const key = `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`;
      if (seen.has(key)) throw invalid(`rpc error: code = InvalidArgument desc = EndpointSpec: duplicate published ports provided`);
      seen.add(key);
    }
  }
}

function normalizeSpec(spec: ServiceSpec, id: string): ServiceSpec {
  const out: ServiceSpec = structuredClone(spec);
  if (!out.Name) out.Name = id.slice(0, 12).replace(/^[^a-z]/, 'x');
  if (!out.Mode || (!out.Mode.Replicated && !out.Mode.Global && !out.Mode.ReplicatedJob && !out.Mode.GlobalJob)) out.Mode = { Replicated: { Replicas: 1 } };
  if (out.Mode.Replicated && out.Mode.Replicated.Replicas === undefined) out.Mode.Replicated.Replicas = 1;
  if (out.Mode.ReplicatedJob) {
    const { maxConcurrent, totalCompletions } = jobLimits(out);
    out.Mode.ReplicatedJob = { MaxConcurrent: maxConcurrent, TotalCompletions: totalCompletions };
  }
  out.Labels ??= {};
  out.TaskTemplate.ForceUpdate ??= 0;
  out.TaskTemplate.Placement ??= {};
  out.EndpointSpec = { Mode: 'vip', ...(out.EndpointSpec ?? {}) };
  for (const p of out.EndpointSpec.Ports ?? []) {
    p.Protocol ??= 'tcp';
    p.PublishMode ??= 'ingress';
  }
  return out;
}

export function newObjectId(): string {
  let s = '';
  while (s.length < 25) s += BigInt('0x' + randomBytes(16).toString('hex')).toString(36);
  return s.slice(0, 25);
}

export async function createService(store: ClusterStore, spec: ServiceSpec): Promise<{ ID: string; Warnings: string[] | null }> {
  validateServiceSpec(spec);
  const snap = await store.snapshot();
  if (spec.Name && snap.services.some((s) => s.Spec.Name === spec.Name)) {
    throw conflict(`rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ${spec.Name} already exists`);
  }
  const id = newObjectId();
  const now = new Date().toISOString();
  const norm = normalizeSpec(spec, id);
  resolveServiceNetworks(norm, snap);
  resolveServiceFiles(norm, snap);
  const svc: Service = { ID: id, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: norm, Endpoint: endpointOf(norm, snap.services), SpecVersion: 1 };
  if (isJob(norm)) svc.JobStatus = { JobIteration: { Index: 0 }, LastExecution: now };
  const vips = serviceVips(norm, snap, id, undefined);
  if (vips) svc.Endpoint!.VirtualIPs = vips;
  if (!(await store.create('services', svc))) throw conflict(`service ${id} already exists`);
  return { ID: id, Warnings: null };
}

/**
 * The service's ports as published: an ingress port without a number gets one from
 * Docker's range (30000-32767) that no other service holds, kept across updates.
 */
function endpointOf(spec: ServiceSpec, others: Service[], previous?: Service['Endpoint']): Service['Endpoint'] {
  const taken = new Set(others.flatMap((s) => (s.Endpoint?.Ports ?? []).map((p) => `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`)));
  const ports = (spec.EndpointSpec?.Ports ?? []).map((p) => ({ ...p }));
  for (const p of ports) {
    const key = (n: number | undefined) => `${n}/${p.Protocol ?? 'tcp'}`;
    if (p.PublishedPort && p.PublishMode !== 'host' && taken.has(key(p.PublishedPort))) {
      throw invalid(`rpc error: code = InvalidArgument desc = port '${p.PublishedPort}' is already in use by another service`);
    }
    if (!p.PublishedPort && p.PublishMode !== 'host') {
      const before = previous?.Ports?.find((x) => x.TargetPort === p.TargetPort && (x.Protocol ?? 'tcp') === (p.Protocol ?? 'tcp'));
      let n = before?.PublishedPort ?? 30000;
      while (taken.has(key(n))) n++;
      if (n > 32767) throw invalid('rpc error: code = ResourceExhausted desc = no free port in the range 30000-32767');
      p.PublishedPort = n;
    }
    taken.add(key(p.PublishedPort));
  }
  return { Spec: spec.EndpointSpec ?? { Mode: 'vip' }, Ports: ports.length ? ports : undefined };
}

export async function updateService(store: ClusterStore, ref: string, version: number, spec: ServiceSpec, rollback: boolean): Promise<{ Warnings: string[] | null }> {
  const snap = await store.snapshot();
  const svc = findService(snap, ref);
  if (!Number.isFinite(version)) throw invalid('invalid service version');
  let next: Service;
  if (rollback) {
    if (!svc.PreviousSpec) throw invalid(`rpc error: code = FailedPrecondition desc = service ${svc.ID} does not have a previous spec`);
    next = { ...svc, Spec: svc.PreviousSpec, PreviousSpec: svc.Spec, UpdateStatus: { State: 'rollback_started', StartedAt: new Date().toISOString(), Message: 'manually requested rollback' } };
  } else {
    validateServiceSpec(spec);
    if (spec.Name && spec.Name !== svc.Spec.Name) throw invalid('rpc error: code = Unimplemented desc = renaming services is not supported');
    if (modeKind(spec) !== modeKind(svc.Spec)) throw invalid('rpc error: code = Unimplemented desc = service mode change is not allowed');
    const norm = normalizeSpec({ ...spec, Name: svc.Spec.Name }, svc.ID);
    resolveServiceNetworks(norm, snap);
    resolveServiceFiles(norm, snap);
    next = { ...svc, Spec: norm, PreviousSpec: svc.Spec, Endpoint: endpointOf(norm, snap.services.filter((s) => s.ID !== svc.ID), svc.Endpoint) };
    const vips = serviceVips(norm, snap, svc.ID, svc.Endpoint?.VirtualIPs);
    if (vips) next.Endpoint!.VirtualIPs = vips;
    // as swarmkit's: every update of a job runs it again, as a new iteration
    if (isJob(norm)) next.JobStatus = { JobIteration: { Index: (svc.JobStatus?.JobIteration.Index ?? 0) + 1 }, LastExecution: new Date().toISOString() };
    // only a change of what the tasks run starts a rolling update; scaling does not (nor a job's run)
    else if (JSON.stringify(norm.TaskTemplate) !== JSON.stringify(svc.Spec.TaskTemplate)) {
      next.UpdateStatus = { State: 'updating', StartedAt: new Date().toISOString(), Message: 'update in progress' };
    }
  }
  if (JSON.stringify(next.Spec.TaskTemplate) !== JSON.stringify(svc.Spec.TaskTemplate)) next.SpecVersion = (svc.SpecVersion ?? 0) + 1;
  next.UpdatedAt = new Date().toISOString();
  if (!(await store.replace('services', next, version))) throw outOfSequence();
  return { Warnings: null };
}

export async function removeService(store: ClusterStore, ref: string): Promise<void> {
  const snap = await store.snapshot();
  const svc = findService(snap, ref);
  await store.remove('services', svc.ID);
  // its tasks stop now, not at the leader's next pass: a `stack rm` removes their network next
  for (const t of snap.tasks.filter((x) => x.ServiceID === svc.ID && x.DesiredState === 'running')) {
    await store.mutate<Task>('tasks', t.ID, (x) => (x.DesiredState === 'running' ? { ...x, DesiredState: 'shutdown' } : undefined));
  }
}

/** swarmkit's words exactly: docker-py retries an update whose error ends with them */
function outOfSequence() {
  return invalid('rpc error: code = Unknown desc = update out of sequence');
}

export function filterServices(services: Service[], f: Filters): Service[] {
  return services.filter((s) => {
    if (f.id && !f.id.some((v) => s.ID.startsWith(v))) return false;
    if (f.name && !f.name.some((v) => s.Spec.Name.startsWith(v))) return false;
    if (!labelsMatch(s.Spec.Labels, f.label)) return false;
    // berth's services are all of containers (Docker's other runtime is plugins)
    if (f.runtime && !f.runtime.includes('container')) return false;
    if (f.mode && !f.mode.includes(modeKind(s.Spec))) return false;
    return true;
  });
}

/** ServiceStatus for `service ls`: tasks running, and tasks wanted. */
export function serviceStatus(svc: Service, snap: Snapshot): { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } {
  const mine = snap.tasks.filter((t) => t.ServiceID === svc.ID);
  const running = mine.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').length;
  if (isJob(svc.Spec)) {
    const iteration = svc.JobStatus?.JobIteration.Index ?? 0;
    const current = mine.filter((t) => (t.JobIteration?.Index ?? 0) === iteration);
    const completed = current.filter((t) => t.Status.State === 'complete').length;
    const wanted = current.filter((t) => t.DesiredState === 'running').length;
    // a replicated job wants as many at once as it may run and has left to do; a global job
    // the tasks not completed yet (the docker CLI adds the completed ones for its total)
    const desired = svc.Spec.Mode?.ReplicatedJob ? Math.min(jobLimits(svc.Spec).maxConcurrent, Math.max(0, jobLimits(svc.Spec).totalCompletions - completed)) : wanted;
    return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
  }
  const desired = isGlobal(svc.Spec) ? mine.filter((t) => t.DesiredState === 'running').length : replicasOf(svc.Spec);
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: 0 };
}

/**
 * What swarmkit fills in for a field the spec leaves out; the spec is kept as sent, and
 * `GET /services/{id}?insertDefaults=true` shows it with these filled in.
 */
const UPDATE_DEFAULTS = { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' } as const;
const SERVICE_DEFAULTS = {
  TaskTemplate: {
    ContainerSpec: { StopGracePeriod: 10e9, DNSConfig: {} },
    Resources: { Limits: {}, Reservations: {} },
    RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 },
    Placement: {},
  },
  UpdateConfig: UPDATE_DEFAULTS,
  RollbackConfig: UPDATE_DEFAULTS,
  EndpointSpec: { Mode: 'vip' },
};

/** `given` with every field it leaves out taken from `defaults`, objects merged field by field. */
function withDefaults(given: unknown, defaults: unknown): unknown {
  if (given === undefined || given === null) return structuredClone(defaults);
  if (typeof given !== 'object' || Array.isArray(given) || typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) return given;
  const out: Record<string, unknown> = { ...(given as Record<string, unknown>) };
  for (const [k, v] of Object.entries(defaults)) out[k] = withDefaults(out[k], v);
  return out;
}

export function insertServiceDefaults(spec: ServiceSpec): ServiceSpec {
  return withDefaults(spec, SERVICE_DEFAULTS) as ServiceSpec;
}

/** A service as the API shows it (the internal SpecVersion left out), with defaults if asked. */
export function presentService(svc: Service, insertDefaults = false): Service {
  const { SpecVersion: _s, ...rest } = svc;
  if (!insertDefaults) return rest as Service;
  return { ...rest, Spec: insertServiceDefaults(rest.Spec), ...(rest.PreviousSpec ? { PreviousSpec: insertServiceDefaults(rest.PreviousSpec) } : {}) } as Service;
}

export function presentTask(t: Task, svc: Service | undefined): Task {
  const { SpecVersion: _s, NotBefore: _n, MeshPorts: _m, ...rest } = t;
  const out = rest as Task;
  if (svc) out.Labels = { ...(t.Labels ?? {}) };
  return out;
}

export function filterTasks(tasks: Task[], f: Filters, snap: Snapshot, self: string): Task[] {
  const serviceIds = f.service?.map((ref) => {
    try {
      return findService(snap, ref).ID;
    } catch {
      return ref;
    }
  });
  const nodeIds = f.node?.map((ref) => {
    try {
      return findNode(snap, ref, self).ID;
    } catch {
      return ref;
    }
  });
  return tasks.filter((t) => {
    if (f.id && !f.id.some((v) => t.ID.startsWith(v))) return false;
    if (serviceIds && !serviceIds.includes(t.ServiceID)) return false;
    if (nodeIds && !nodeIds.includes(t.NodeID ?? '')) return false;
    if (f['desired-state'] && !f['desired-state'].some((s) => (s === 'running' ? t.DesiredState === 'running' : s === 'shutdown' ? t.DesiredState !== 'running' : s === 'accepted' ? t.DesiredState === 'accepted' : false))) return false;
    if (f.name) {
      const svc = snap.services.find((s) => s.ID === t.ServiceID);
      const name = svc ? `${svc.Spec.Name}.${t.Slot ?? t.NodeID}` : '';
      if (!f.name.some((n) => name.startsWith(n))) return false;
    }
    // as swarmkit's: a task's labels here are its service's (docker stack ps filters on the stack's)
    if (f.label) {
      const labels = { ...(snap.services.find((s) => s.ID === t.ServiceID)?.Spec.Labels ?? {}), ...(t.Labels ?? {}) };
      if (!labelsMatch(labels, f.label)) return false;
    }
    if (f.runtime && !f.runtime.includes('container')) return false;
    // the docker CLI's progress asks for the tasks of the service's current spec only
    if (f['_up-to-date']?.includes('true')) {
      const svc = snap.services.find((s) => s.ID === t.ServiceID);
      if (!svc || (t.SpecVersion ?? 0) !== (svc.SpecVersion ?? 0)) return false;
    }
    return true;
  });
}

export { isTerminal, NO_LEADER };
