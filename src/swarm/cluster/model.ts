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
  Secrets?: FileReference<'SecretID', 'SecretName'>[];
  Configs?: FileReference<'ConfigID', 'ConfigName'>[];
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
  Networks?: NetworkAttachmentConfig[];
  [other: string]: unknown;
}

/** A service's place on a network: the network, its names there, and options for the driver (kept, not used by berth's overlay). */
export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
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
  Mode?: {
    Replicated?: { Replicas?: number };
    Global?: Record<string, never>;
    ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
    GlobalJob?: Record<string, never>;
  };
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  EndpointSpec?: { Mode?: 'vip' | 'dnsrr'; Ports?: PortConfig[] };
  Networks?: NetworkAttachmentConfig[];
}

export interface Service {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: { Spec: NonNullable<ServiceSpec['EndpointSpec']>; Ports?: PortConfig[]; VirtualIPs?: VirtualIP[] };
  UpdateStatus?: { State: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed'; StartedAt?: string; CompletedAt?: string; Message?: string };
  /** a job's run: each update of a job service runs it again, as a new iteration */
  JobStatus?: { JobIteration: ObjectVersion; LastExecution: string };
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
  /** the run of its job service this task belongs to */
  JobIteration?: ObjectVersion;
  /** internal: the service's SpecVersion this task was made from */
  SpecVersion?: number;
  /** internal: when the task may start (a restart delay) */
  NotBefore?: string;
  /** the task's addresses on the overlay networks it joins, given when it is made */
  NetworksAttachments?: NetworkAttachment[];
  /** internal: the node's ports where the routing mesh reaches this task's ingress ports */
  MeshPorts?: { TargetPort: number; Protocol: string; HostPort: number }[];
}

export function isGlobal(spec: ServiceSpec): boolean {
  return spec.Mode?.Global !== undefined;
}

export type ServiceModeKind = 'replicated' | 'global' | 'replicated-job' | 'global-job';

export function modeKind(spec: ServiceSpec): ServiceModeKind {
  const m = spec.Mode ?? {};
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated-job';
  if (m.GlobalJob) return 'global-job';
  return 'replicated';
}

/** A job's tasks run to completion once; a failed one is retried, a completed one never. */
export function isJob(spec: ServiceSpec): boolean {
  return spec.Mode?.ReplicatedJob !== undefined || spec.Mode?.GlobalJob !== undefined;
}

/** A replicated job's limits as swarmkit reads them: one at a time, and as many completions as may run at once. */
export function jobLimits(spec: ServiceSpec): { maxConcurrent: number; totalCompletions: number } {
  const j = spec.Mode?.ReplicatedJob ?? {};
  const maxConcurrent = j.MaxConcurrent || 1;
  return { maxConcurrent, totalCompletions: j.TotalCompletions || maxConcurrent };
}

export function replicasOf(spec: ServiceSpec): number {
  return spec.Mode?.Replicated?.Replicas ?? 1;
}

/** An overlay network of the swarm, as the API's swarm Network object shows it. */
export interface ClusterNetwork {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    DriverConfiguration: { Name: 'overlay'; Options?: Record<string, string> };
    IPAMOptions: { Driver: { Name: string }; Configs: { Subnet: string; Gateway: string }[] };
    Internal?: boolean;
    Attachable?: boolean;
    Ingress?: boolean;
    Scope: 'swarm';
  };
  DriverState: { Name: 'overlay'; Options: Record<string, string> };
  IPAMOptions: { Driver: { Name: string }; Configs: { Subnet: string; Gateway: string }[] };
  /** the VXLAN network identifier, 4097 and up as Docker's */
  VNI: number;
}

/** A service's address on one of its networks, balanced over its tasks (endpoint mode vip). */
export interface VirtualIP {
  NetworkID: string;
  /** "10.0.1.254/24" */
  Addr: string;
}

export interface NetworkAttachment {
  Network: { ID: string; Spec: { Name: string } };
  /** "10.0.1.3/24" */
  Addresses: string[];
  /** the names the task answers to on this network besides its own */
  Aliases?: string[];
}

/** A secret or config a task's container gets as a file: which, and the file's name and mode. */
export type FileReference<IdKey extends string, NameKey extends string> = {
  File?: { Name: string; UID?: string; GID?: string; Mode?: number };
} & { [K in IdKey | NameKey]?: string };

/** A secret or a config (Docker's objects; a secret's Data is never shown or kept with it). */
export interface SwarmFileObject {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Labels?: Record<string, string>; Data?: string; Driver?: unknown; Templating?: unknown };
}
