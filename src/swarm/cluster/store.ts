/**
 * The cluster's objects in etcd, under one prefix: the cluster itself, nodes, services,
 * tasks, the nodes' heartbeats (keys bound to short leases: a node whose lease lapsed is
 * down) and the leader's key. Writes that must not lose a concurrent change are
 * compare-and-swap on the object's revision, retried with the change applied again.
 */
import type { ClusterNetwork, ObjectVersion, Service, SwarmFileObject, SwarmNode, Task } from './model';

/** What the store needs of etcd (src/swarm/etcd/client.ts provides it). */
export interface KV {
  get(key: string): Promise<{ value: string; modRevision: string | number } | undefined>;
  getPrefix(prefix: string): Promise<{ kvs: { key: string; value: string; modRevision: string | number }[]; revision: string | number }>;
  put(key: string, value: string, opts?: { lease?: string }): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  putIfAbsent(key: string, value: string, lease?: string): Promise<boolean>;
  putIfModRevision(key: string, value: string, modRevision: string | number): Promise<boolean>;
  grantLease(ttlSeconds: number): Promise<string>;
  keepAlive(id: string): Promise<number>;
  revokeLease(id: string): Promise<unknown>;
  watchPrefix(prefix: string, fromRevision: string | number, onEvents: (events: { type: 'put' | 'delete'; key: string; value?: string; modRevision?: string | number }[]) => void, onError?: (e: Error) => void): { close(): void };
}

export const PREFIX = '/berth/swarm/';
/** what only managers may read (see access.ts) */
export const SECRETS_KEY = '/berth/secrets/cluster';
/** the data of the users' secrets (`docker secret create`), by secret ID: managers' alone */
export const SECRET_DATA_PREFIX = '/berth/secrets/data/';
/**
 * which node the leader placed each task on, by task ID: a task object is the agents' to
 * write (its state), so the managers trust this record, not the task's NodeID, before they
 * hand a node a secret
 */
export const ASSIGNMENT_PREFIX = '/berth/secrets/assigned/';

/** The cluster's secrets: kept apart from its objects, which every node reads. */
export interface ClusterSecrets {
  JoinTokens: { Worker: string; Manager: string };
  /** the CA's key: any manager signs the certificates of nodes that join */
  CAKeyPem: string;
  /** the managers' unlock key while autolock is on (src/swarm/autolock.ts) */
  UnlockKey?: string;
}

export interface ClusterObject {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: Record<string, unknown> & {
    Name: string;
    Orchestration?: { TaskHistoryRetentionLimit?: number };
    Dispatcher?: { HeartbeatPeriod?: number };
    CAConfig?: Record<string, unknown>;
    Raft?: Record<string, unknown>;
    EncryptionConfig?: { AutoLockManagers: boolean };
    TaskDefaults?: Record<string, unknown>;
    Labels?: Record<string, string>;
  };
  /** the CA's certificate (its key is a secret: ClusterSecrets) */
  RootCA: { CertPem: string };
  DefaultAddrPool?: string[];
  SubnetSize?: number;
  DataPathPort?: number;
}

export interface Snapshot {
  cluster?: ClusterObject;
  nodes: SwarmNode[];
  services: Service[];
  tasks: Task[];
  networks: ClusterNetwork[];
  /** secrets without their data, and configs with theirs */
  secrets: SwarmFileObject[];
  configs: SwarmFileObject[];
  /** nodes whose heartbeat lease is alive */
  alive: Set<string>;
  leader?: string;
  revision: string;
}

type Kind = 'nodes' | 'services' | 'tasks' | 'networks' | 'secrets' | 'configs';

export class ClusterStore {
  constructor(readonly kv: KV) {}

  key(kind: Kind, id: string): string {
    return `${PREFIX}${kind}/${id}`;
  }

  /** Everything at one revision. */
  async snapshot(): Promise<Snapshot> {
    const { kvs, revision } = await this.kv.getPrefix(PREFIX);
    const snap: Snapshot = { nodes: [], services: [], tasks: [], networks: [], secrets: [], configs: [], alive: new Set(), revision: String(revision) };
    for (const kv of kvs) {
      const rest = kv.key.slice(PREFIX.length);
      const [kind, id] = rest.split('/');
      const version = { Index: Number(kv.modRevision) };
      try {
        if (rest === 'cluster') snap.cluster = { ...(JSON.parse(kv.value) as ClusterObject), Version: version };
        else if (rest === 'leader') snap.leader = kv.value;
        else if (kind === 'heartbeats') snap.alive.add(id);
        else if (kind === 'nodes') snap.nodes.push({ ...(JSON.parse(kv.value) as SwarmNode), Version: version });
        else if (kind === 'services') snap.services.push({ ...(JSON.parse(kv.value) as Service), Version: version });
        else if (kind === 'tasks') snap.tasks.push({ ...(JSON.parse(kv.value) as Task), Version: version });
        else if (kind === 'networks') snap.networks.push({ ...(JSON.parse(kv.value) as ClusterNetwork), Version: version });
        else if (kind === 'secrets' || kind === 'configs') snap[kind].push({ ...(JSON.parse(kv.value) as SwarmFileObject), Version: version });
      } catch {
        // a damaged object is skipped, not fatal to the cluster
      }
    }
    return snap;
  }

  async getObject<T extends { Version: ObjectVersion }>(kind: Kind | 'cluster', id = ''): Promise<T | undefined> {
    const key = kind === 'cluster' ? `${PREFIX}cluster` : this.key(kind, id);
    const kv = await this.kv.get(key);
    if (!kv) return undefined;
    return { ...(JSON.parse(kv.value) as T), Version: { Index: Number(kv.modRevision) } };
  }

  /** Creates an object that must not exist yet. */
  async create(kind: Kind, obj: { ID: string }): Promise<boolean> {
    return this.kv.putIfAbsent(this.key(kind, obj.ID), JSON.stringify(strip(obj)));
  }

  /** Writes `obj` if nobody changed it since `version` (the API's ?version=N). */
  async replace(kind: Kind | 'cluster', obj: { ID: string; Version: ObjectVersion }, version = obj.Version.Index): Promise<boolean> {
    const key = kind === 'cluster' ? `${PREFIX}cluster` : this.key(kind, obj.ID);
    return this.kv.putIfModRevision(key, JSON.stringify(strip(obj)), version);
  }

  /**
   * Applies `change` to the current object and writes it, again on a concurrent write;
   * `change` returning undefined leaves it alone. Resolves with what was written.
   */
  async mutate<T extends { ID: string; Version: ObjectVersion }>(kind: Kind | 'cluster', id: string, change: (current: T) => T | undefined): Promise<T | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.getObject<T>(kind, id);
      if (!current) return undefined;
      const next = change(structuredClone(current));
      if (!next) return current;
      if (await this.replace(kind, next, current.Version.Index)) return next;
    }
    throw new Error(`${kind}/${id} keeps changing; try again`);
  }

  async getSecrets(): Promise<{ secrets: ClusterSecrets; modRevision: string | number } | undefined> {
    const kv = await this.kv.get(SECRETS_KEY);
    return kv ? { secrets: JSON.parse(kv.value) as ClusterSecrets, modRevision: kv.modRevision } : undefined;
  }

  async putSecrets(secrets: ClusterSecrets): Promise<void> {
    await this.kv.put(SECRETS_KEY, JSON.stringify(secrets));
  }

  async recordAssignment(taskId: string, nodeId: string): Promise<void> {
    await this.kv.put(`${ASSIGNMENT_PREFIX}${taskId}`, nodeId);
  }

  async assignedNode(taskId: string): Promise<string | undefined> {
    return (await this.kv.get(`${ASSIGNMENT_PREFIX}${taskId}`))?.value;
  }

  async forgetAssignment(taskId: string): Promise<void> {
    await this.kv.delete(`${ASSIGNMENT_PREFIX}${taskId}`);
  }

  async remove(kind: Kind, id: string): Promise<void> {
    await this.kv.delete(this.key(kind, id));
  }
}

/** The revision is the key's, not part of the stored value. */
function strip<T extends object>(obj: T): T {
  const { Version: _v, ...rest } = obj as T & { Version?: unknown };
  return rest as T;
}
