/**
 * Where a task runs: among the nodes that are ready, active and satisfy the service's
 * constraints and reservations, the one with the fewest tasks of this service, then the
 * fewest tasks in all (so replicas spread evenly: counts differ by at most one).
 */
import type { SwarmNode, Task, TaskSpec } from './model';

export interface NodeLoad {
  /** running-or-to-run tasks per service */
  byService: Map<string, number>;
  total: number;
  reservedNanoCPUs: number;
  reservedMemory: number;
}

export function emptyLoad(): NodeLoad {
  return { byService: new Map(), total: 0, reservedNanoCPUs: 0, reservedMemory: 0 };
}

/** The load each node carries from tasks that are meant to run. */
export function loadOf(tasks: Task[]): Map<string, NodeLoad> {
  const out = new Map<string, NodeLoad>();
  for (const t of tasks) {
    if (!t.NodeID || t.DesiredState !== 'running') continue;
    const l = out.get(t.NodeID) ?? emptyLoad();
    addToLoad(l, t);
    out.set(t.NodeID, l);
  }
  return out;
}

export function addToLoad(l: NodeLoad, t: Task): void {
  l.byService.set(t.ServiceID, (l.byService.get(t.ServiceID) ?? 0) + 1);
  l.total++;
  l.reservedNanoCPUs += t.Spec.Resources?.Reservations?.NanoCPUs ?? 0;
  l.reservedMemory += t.Spec.Resources?.Reservations?.MemoryBytes ?? 0;
}

/** One placement constraint: `node.labels.zone==a`, `node.role!=manager`, `node.hostname==n2` … */
export function parseConstraint(c: string): { key: string; op: '==' | '!='; value: string } {
  const m = /^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$/.exec(c);
  if (!m || m[3] === '') throw new Error(`invalid constraint: ${c}`);
  return { key: m[1], op: m[2] as '==' | '!=', value: m[3] };
}

function nodeAttribute(node: SwarmNode, key: string): string | undefined {
  const lower = key.toLowerCase();
  if (lower === 'node.id') return node.ID;
  if (lower === 'node.hostname') return node.Description.Hostname;
  if (lower === 'node.role') return node.Spec.Role;
  if (lower === 'node.platform.os') return node.Description.Platform.OS;
  if (lower === 'node.platform.arch') return node.Description.Platform.Architecture;
  if (lower.startsWith('node.labels.')) return node.Spec.Labels?.[key.slice('node.labels.'.length)];
  if (lower.startsWith('engine.labels.')) return node.Description.Engine.Labels?.[key.slice('engine.labels.'.length)];
  return undefined;
}

export function satisfies(node: SwarmNode, constraints: readonly string[] = []): boolean {
  for (const c of constraints) {
    const { key, op, value } = parseConstraint(c);
    const actual = nodeAttribute(node, key);
    // Docker compares names case-insensitively for the built-in attributes, labels exactly
    const same = actual !== undefined && (key.toLowerCase().includes('.labels.') ? actual === value : actual.toLowerCase() === value.toLowerCase());
    if (op === '==' ? !same : same) return false;
  }
  return true;
}

export type Placement = { nodeId: string } | { reason: string };

/** Whether a node takes new tasks at all: up and neither paused nor drained. */
export function acceptsTasks(node: SwarmNode): boolean {
  return node.Status.State === 'ready' && node.Spec.Availability === 'active';
}

function plural(n: number): string {
  return `${n} node${n === 1 ? '' : 's'}`;
}

/**
 * Chooses a node for a task of `serviceId`; `load` is updated by the caller once placed.
 * The reason for no node reads as Docker's ("no suitable node (...)").
 */
export function chooseNode(serviceId: string, spec: TaskSpec, nodes: SwarmNode[], load: Map<string, NodeLoad>): Placement {
  let unavailable = 0;
  let constrained = 0;
  let resources = 0;
  let maxReplicas = 0;
  let best: { node: SwarmNode; mine: number; total: number } | undefined;
  const want = spec.Resources?.Reservations ?? {};
  for (const node of nodes) {
    if (!acceptsTasks(node)) {
      unavailable++;
      continue;
    }
    if (!satisfies(node, spec.Placement?.Constraints)) {
      constrained++;
      continue;
    }
    const l = load.get(node.ID) ?? emptyLoad();
    const cpus = node.Description.Resources.NanoCPUs;
    const mem = node.Description.Resources.MemoryBytes;
    if ((want.NanoCPUs ?? 0) > 0 && l.reservedNanoCPUs + want.NanoCPUs! > cpus) {
      resources++;
      continue;
    }
    if ((want.MemoryBytes ?? 0) > 0 && l.reservedMemory + want.MemoryBytes! > mem) {
      resources++;
      continue;
    }
    const mine = l.byService.get(serviceId) ?? 0;
    if ((spec.Placement?.MaxReplicas ?? 0) > 0 && mine >= spec.Placement!.MaxReplicas!) {
      maxReplicas++;
      continue;
    }
    if (!best || mine < best.mine || (mine === best.mine && (l.total < best.total || (l.total === best.total && node.ID < best.node.ID)))) {
      best = { node, mine, total: l.total };
    }
  }
  if (best) return { nodeId: best.node.ID };
  const why: string[] = [];
  if (unavailable) why.push(`${plural(unavailable)} not available for new tasks`);
  if (constrained) why.push(`scheduling constraints not satisfied on ${plural(constrained)}`);
  if (resources) why.push(`insufficient resources on ${plural(resources)}`);
  if (maxReplicas) why.push(`max replicas per node limit exceed on ${plural(maxReplicas)}`);
  return { reason: `no suitable node (${why.join('; ') || 'no nodes in the swarm'})` };
}
