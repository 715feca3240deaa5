/**
 * Swarm objects as the Engine API shows them (Node, Service, Task), which is also how they
 * are kept in etcd. An object's Version.Index is the etcd revision it was last written at,
 * so `?version=N` on an update is a compare-and-swap on that revision.
 */

export interface ObjectVersion {
  Index: number;
}

export type NodeRole = 'worker' | 'manager';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

export interface NodeSpec {
  Name?: string;
  Labels?: Record<string, string>;
  Role: NodeRole;
  Availability: NodeAvailability;
}

export interface SwarmNode {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: NodeSpec;
  Description: {
    Hostname: string;
    Platform: { Architecture: string; OS: string };
    Resources: { NanoCPUs: number; MemoryBytes: number };
    Engine: { EngineVersion: string; Labels?: Record<string, string>; Plugins?: unknown[] };
    TLSInfo?: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  };
  Status: { State: NodeState; Message?: string; Addr: string };
  ManagerStatus?: { Leader?: boolean; Reachability: 'unknown' | 'unreachable' | 'reachable'; Addr: string };
}

export type TaskState =
  | 'new'
  | 'allocated'
  | 'pending'
  | 'assigned'
  | 'accepted'
  | 'preparing'
  | 'ready'
  | 'starting'
  | 'running'
  | 'complete'
  | 'shutdown'
  | 'failed'
  | 'rejected'
  | 'remove'
  | 'orphaned';

/** The order of task states: a task only moves forward (Docker's swarmkit rule). */
export const TASK_STATE_ORDER: TaskState[] = ['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'];

export function stateRank(s: TaskState): number {
  return TASK_STATE_ORDER.indexOf(s);
}

/** A task that has stopped for good: it is history, kept for `service ps`. */
export function isTerminal(s: TaskState): boolean {
  return stateRank(s) > stateRank('running');
}

export interface ContainerSpec {
  Image: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Mounts?: { Type?: string; Source?: string; Target: string; ReadOnly?: boolean }[];
  StopGracePeriod?: number;
  StopSignal?: string;
  Healthcheck?: Record<string, unknown>;
  Init?: boolean;
  [other: string]: unknown;
}

export interface TaskSpec {
  ContainerSpec: ContainerSpec;
  Resources?: {
    Limits?: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number };
    Reservations?: { NanoCPUs?: number; MemoryBytes?: number };
  };
  RestartPolicy?: { Condition?: 'none' | 'on-failure' | 'any'; Delay?: number; MaxAttempts?: number; Window?: number };
  Placement?: { Constraints?: string[]; Preferences?: unknown[]; MaxReplicas?: number };
  ForceUpdate?: number;
  Networks?: { Target: string; Aliases?: string[] }[];
  [other: string]: unknown;
}

export interface UpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface ServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: TaskSpec;
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  EndpointSpec?: { Mode?: 'vip' | 'dnsrr'; Ports?: PortConfig[] };
  Networks?: { Target: string }[];
}

export interface Service {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: { Spec: NonNullable<ServiceSpec['EndpointSpec']>; Ports?: PortConfig[] };
  UpdateStatus?: { State: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed'; StartedAt?: string; CompletedAt?: string; Message?: string };
  /** internal: bumped by every spec change, so tasks can tell which spec made them */
  SpecVersion?: number;
}

export interface Task {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Name?: string;
  Labels?: Record<string, string>;
  Spec: TaskSpec;
  ServiceID: string;
  /** replicated services number their tasks; a global service's tasks have no slot */
  Slot?: number;
  NodeID?: string;
  Status: {
    Timestamp: string;
    State: TaskState;
    Message: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
    PortStatus?: { Ports?: PortConfig[] };
  };
  DesiredState: TaskState;
  /** internal: the service's SpecVersion this task was made from */
  SpecVersion?: number;
  /** internal: when the task may start (a restart delay) */
  NotBefore?: string;
  /** internal: the node's ports where the routing mesh reaches this task's ingress ports */
  MeshPorts?: { TargetPort: number; Protocol: string; HostPort: number }[];
}

export function isGlobal(spec: ServiceSpec): boolean {
  return spec.Mode?.Global !== undefined;
}

export function replicasOf(spec: ServiceSpec): number {
  return spec.Mode?.Replicated?.Replicas ?? 1;
}
