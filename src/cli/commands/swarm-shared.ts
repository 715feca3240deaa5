/**
 * What `berth swarm`, `berth node` and `berth service` share: the shapes of the
 * Engine API's swarm objects (the fields the CLI reads), look-ups by name or ID,
 * the task table of `service ps` and `node ps`, `inspect` with --format/--pretty,
 * and the wait for a service to converge.
 */
import { formatFlagHelp, validateFilter, type CommandContext } from '../command';
import type { FlagDef } from '../flags';
import { parseUint } from '../flags';
import { StatusError } from '../errors';
import { EngineError, errorMessageFromBody } from '../../client/engine';
import { Template, TemplateError } from '../template';
import { indentJson } from '../format/json-indent';
import { ellipsis, naturalCompare, truncateId } from '../format/strings';
import { humanDuration } from '../../common/units';
import { parseGoDuration } from '../../common/time';
import { parseInspectFormat, type ListFormat } from '../format/render';
import { describeError } from './shared';

// ---------------------------------------------------------------- API shapes

export interface PortConfig {
  Name?: string;
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: string;
}

export interface SwarmNode {
  ID: string;
  Version: { Index: number };
  CreatedAt?: string;
  Spec: { Role?: string; Availability?: string; Labels?: Record<string, string> | null; Name?: string };
  Description?: {
    Hostname?: string;
    Platform?: { Architecture?: string; OS?: string };
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
    Engine?: { EngineVersion?: string; Labels?: Record<string, string> | null; Plugins?: { Type: string; Name: string }[] | null };
    TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string };
  };
  Status?: { State?: string; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string } | null;
}

export interface Task {
  ID: string;
  Name?: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState?: string;
  CreatedAt?: string;
  Spec?: { ContainerSpec?: { Image?: string } };
  Status?: { State?: string; Timestamp?: string; Err?: string; Message?: string; PortStatus?: { Ports?: PortConfig[] | null } };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ServiceSpec = Record<string, any>;

export interface Service {
  ID: string;
  Version: { Index: number };
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: { Spec?: { Mode?: string; Ports?: PortConfig[] }; Ports?: PortConfig[] | null };
  UpdateStatus?: { State?: string; Message?: string };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number; CompletedTasks?: number };
}

// ---------------------------------------------------------------- small helpers

/** docker's PrettyPrint: the first letter upper-cased ("running" → "Running"). */
export const pretty = (s: string | undefined): string => (s ? s.charAt(0).toUpperCase() + s.slice(1) : '');

/** Milliseconds (what parseGoDuration gives) to the nanoseconds the API takes. */
export const toNanos = (ms: number): number => Math.round(ms * 1e6);

export const strFlag = (name: string, help: string, short?: string, def = ''): FlagDef => ({ name, short, type: 'string', help, default: def });
export const boolFlag = (name: string, help: string, short?: string): FlagDef => ({ name, short, type: 'bool', help, default: false });

/** The flags of every swarm `ls`: --filter, --format, --quiet. */
export const listingFlags = (): FlagDef[] => [
  { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
  { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
  boolFlag('quiet', 'Only display IDs', 'q'),
];
export const listFlag = (name: string, help: string, short?: string, parse?: (v: string) => unknown): FlagDef => ({ name, short, type: 'list', help, parse });
/** A Go duration flag; the value is in milliseconds. */
export const durationFlag = (name: string, help: string, defaultText?: string): FlagDef => ({ name, type: 'duration', help, parse: parseGoDuration, defaultText });
export const uintFlag = (name: string, help: string, defaultText?: string): FlagDef => ({ name, type: 'uint', help, parse: (v) => parseUint(v), defaultText });

/** Throws the daemon's error for a failed answer; else the parsed body. */
/**
 * `node rm` and `service rm`: DELETE each one, print its name; the errors of those that
 * failed come together at the end with status 1, as docker reports them.
 */
export async function removeEach(ctx: CommandContext, refs: readonly string[], pathOf: (ref: string) => string, query?: Record<string, boolean>): Promise<number> {
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      await ctx.client().call('DELETE', pathOf(ref), query ? { query } : undefined);
      ctx.out(`${ref}\n`);
    } catch (e) {
      errors.push(describeError(e));
    }
  }
  if (errors.length) throw new StatusError(errors.join('\n'), 1);
  return 0;
}

export async function getRaw(ctx: CommandContext, path: string): Promise<string> {
  const res = await ctx.client().request('GET', path);
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) throw new EngineError(res.status, errorMessageFromBody(res.status, text));
  return text;
}

export const nodePath = (ref: string) => `/nodes/${encodeURIComponent(ref)}`;
export const servicePath = (ref: string) => `/services/${encodeURIComponent(ref)}`;

/** "self" is the current node, resolved here as docker's CLI does (GET /info), not by the daemon. */
export async function resolveNodeRef(ctx: CommandContext, ref: string): Promise<string> {
  if (ref !== 'self') return ref;
  const id = await selfNodeId(ctx);
  if (!id) throw new StatusError('This node is not a swarm manager. Use "berth swarm init" or "berth swarm join" to connect this node to swarm and try again.', 1);
  return id;
}

export async function getNode(ctx: CommandContext, ref: string): Promise<SwarmNode> {
  return ctx.client().call<SwarmNode>('GET', nodePath(await resolveNodeRef(ctx, ref)));
}

export function getService(ctx: CommandContext, ref: string): Promise<Service> {
  return ctx.client().call<Service>('GET', servicePath(ref), { query: { insertDefaults: true } });
}

/** The current node's ID (GET /info Swarm.NodeID); '' outside a swarm. */
export async function selfNodeId(ctx: CommandContext): Promise<string> {
  const info = await ctx.client().call<{ Swarm?: { NodeID?: string } }>('GET', '/info');
  return info?.Swarm?.NodeID ?? '';
}

/** A "*:8080->80/tcp" list of the ports published through the routing mesh (or on hosts). */
export function portsText(ports: readonly PortConfig[] | null | undefined, mode?: 'ingress'): string {
  return (ports ?? [])
    .filter((p) => !mode || (p.PublishMode ?? 'ingress') === mode)
    .map((p) => `*:${p.PublishedPort ?? ''}->${p.TargetPort ?? ''}/${p.Protocol || 'tcp'}`)
    .join(', ');
}

/** The image as docker lists it: without its digest, unless told not to truncate. */
export function imageText(image: string | undefined, trunc: boolean): string {
  const s = image ?? '';
  return trunc ? s.replace(/@sha256:[0-9a-f]*$/, '') : s;
}

// ---------------------------------------------------------------- tasks

export const taskListFormat: ListFormat = {
  defaultTable: 'table {{.ID}}\\t{{.Name}}\\t{{.Image}}\\t{{.Node}}\\t{{.DesiredState}}\\t{{.CurrentState}}\\t{{.Error}}\\t{{.Ports}}',
  headers: {
    ID: 'ID',
    Name: 'NAME',
    Image: 'IMAGE',
    Node: 'NODE',
    DesiredState: 'DESIRED STATE',
    CurrentState: 'CURRENT STATE',
    Error: 'ERROR',
    Ports: 'PORTS',
  },
};

export function taskFormat(format: string, quiet: boolean): string {
  if (quiet) return '{{.ID}}';
  return format === '' ? 'table' : format;
}

/** One row of `service ps` / `node ps`, fields as docker's task formatter offers them. */
export class TaskContext {
  readonly templateTypeName = '*task.taskContext';
  constructor(
    private readonly _t: Task,
    private readonly _name: string,
    private readonly _node: string,
    private readonly _trunc: boolean,
    private readonly _now: number,
  ) {}
  ID(): string {
    return this._trunc ? truncateId(this._t.ID) : this._t.ID;
  }
  Name(): string {
    return this._name;
  }
  Image(): string {
    return imageText(this._t.Spec?.ContainerSpec?.Image, this._trunc);
  }
  Node(): string {
    return this._node;
  }
  DesiredState(): string {
    return pretty(this._t.DesiredState);
  }
  CurrentState(): string {
    const ts = Date.parse(this._t.Status?.Timestamp ?? '');
    const since = Number.isNaN(ts) ? '' : ` ${humanDuration(Math.max(0, this._now - ts)).toLowerCase()} ago`;
    return `${pretty(this._t.Status?.State)}${since}`;
  }
  Error(): string {
    const err = this._t.Status?.Err ?? '';
    if (!err) return '';
    return JSON.stringify(this._trunc ? ellipsis(err, 30) : err);
  }
  Ports(): string {
    return portsText(this._t.Status?.PortStatus?.Ports);
  }
  toJSON(): Record<string, string> {
    return {
      CurrentState: this.CurrentState(),
      DesiredState: this.DesiredState(),
      Error: this.Error(),
      ID: this.ID(),
      Image: this.Image(),
      Name: this.Name(),
      Node: this.Node(),
      Ports: this.Ports(),
    };
  }
}

/**
 * Tasks as docker lists them: sorted by name (service.slot, or service.node for
 * global services) in natural order, the newest of a slot first, and the older
 * ones of the same slot shown as history ("\_ web.1"). Node and service names are
 * looked up once each.
 */
export async function taskRows(ctx: CommandContext, tasks: readonly Task[], trunc: boolean, resolve = true, now = Date.now()): Promise<TaskContext[]> {
  const client = ctx.client();
  const nodeNames = new Map<string, string>();
  const serviceNames = new Map<string, string>();
  const nodeName = async (id: string): Promise<string> => {
    if (!id || !resolve) return id;
    if (!nodeNames.has(id)) {
      const n = await client.call<SwarmNode>('GET', nodePath(id)).catch(() => undefined);
      nodeNames.set(id, n?.Description?.Hostname || id);
    }
    return nodeNames.get(id)!;
  };
  const serviceName = async (id: string): Promise<string> => {
    if (!resolve) return id;
    if (!serviceNames.has(id)) {
      const s = await client.call<Service>('GET', servicePath(id)).catch(() => undefined);
      serviceNames.set(id, s?.Spec?.Name || id);
    }
    return serviceNames.get(id)!;
  };
  const named: { t: Task; name: string }[] = [];
  for (const t of tasks) {
    const svc = await serviceName(t.ServiceID);
    named.push({ t, name: t.Slot ? `${svc}.${t.Slot}` : `${svc}.${t.NodeID ?? ''}` });
  }
  named.sort((a, b) => {
    if (a.name !== b.name) return naturalCompare(a.name, b.name);
    return Date.parse(b.t.CreatedAt ?? '') - Date.parse(a.t.CreatedAt ?? '') || 0;
  });
  const rows: TaskContext[] = [];
  let previous: string | undefined;
  for (const { t, name } of named) {
    const shown = name === previous ? ` \\_ ${name}` : name;
    previous = name;
    rows.push(new TaskContext(t, shown, await nodeName(t.NodeID ?? ''), trunc, now));
  }
  return rows;
}

// ---------------------------------------------------------------- inspect

/**
 * `node inspect` / `service inspect`: the objects as a JSON array, or each through
 * --format; `pretty` (from --pretty or --format pretty) renders each with `prettyOf`.
 * Objects that cannot be found are reported after the others; exit 1 then.
 */
export async function inspectObjects(
  ctx: CommandContext,
  refs: readonly string[],
  pathOf: (ref: string) => string,
  format: string,
  pretty: boolean,
  prettyOf: (obj: any) => Promise<string> | string,
  missing: (ref: string) => string,
): Promise<number> {
  let template: Template | undefined;
  if (!pretty && format && format !== 'json') {
    template = parseInspectFormat(format);
  }
  const raws: string[] = [];
  const errors: string[] = [];
  let out = '';
  for (const ref of refs) {
    let raw: string;
    try {
      raw = await getRaw(ctx, pathOf(ref));
    } catch (e) {
      errors.push(e instanceof EngineError && e.status === 404 ? missing(ref) : describeError(e));
      continue;
    }
    if (pretty) out += (out ? '\n\n' : '') + (await prettyOf(JSON.parse(raw)));
    else if (template) {
      try {
        out += template.execute(JSON.parse(raw), { missingKey: 'error' }) + '\n';
      } catch (e) {
        if (e instanceof TemplateError) throw new StatusError(`template: ${e.message}`, 1);
        throw e;
      }
    } else raws.push(raw.trim());
  }
  if (pretty) {
    if (out) ctx.out(out + '\n');
  } else if (template) ctx.out(out);
  else ctx.out(raws.length ? indentJson(`[${raws.join(',')}]`) + '\n' : '[]\n');
  if (errors.length) {
    ctx.err(errors.join('\n') + '\n');
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- convergence

export interface ConvergeOptions {
  /** How long to wait in all; docker waits without a limit. */
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * What docker does when a service command is not given --detach: waits until the
 * tasks of the service's current spec run (replicated: as many as asked for;
 * global: one on every node that has one), showing "overall progress" and ending
 * with "verify: Service REF converged" (REF: the ID for create, the name given
 * otherwise, as docker says it). Tasks that fail are replaced by the daemon, so
 * the wait goes on until the time is up; a paused update ends it. Returns false
 * on a timeout or a paused update (after saying so).
 */
export async function waitConverged(ctx: CommandContext, id: string, label = id, opts: ConvergeOptions = {}): Promise<boolean> {
  const client = ctx.client();
  const deadline = Date.now() + (opts.timeoutMs ?? Number(ctx.env.BERTH_CONVERGE_TIMEOUT_MS ?? 300_000));
  const interval = opts.intervalMs ?? Number(ctx.env.BERTH_CONVERGE_INTERVAL_MS ?? 500);
  let lastProgress = '';
  for (;;) {
    const svc = await getService(ctx, id);
    const tasks = (await client.call<Task[] | null>('GET', '/tasks', { query: { filters: JSON.stringify({ service: [svc.ID], 'desired-state': ['running'], '_up-to-date': ['true'] }) } })) ?? [];
    const global = !!svc.Spec.Mode?.Global;
    const want = global ? tasks.length : svc.Spec.Mode?.Replicated?.Replicas ?? 1;
    const running = tasks.filter((t) => t.Status?.State === 'running').length;
    const updating = svc.UpdateStatus?.State === 'updating' || svc.UpdateStatus?.State === 'rollback_started';
    const progress = `overall progress: ${running} out of ${want} tasks`;
    if (progress !== lastProgress) {
      ctx.out(`${progress}\n`);
      lastProgress = progress;
    }
    if (svc.UpdateStatus?.State === 'paused' || svc.UpdateStatus?.State === 'rollback_paused') {
      ctx.err(`${svc.UpdateStatus.Message ?? 'update paused'}\n`);
      return false;
    }
    if (running === want && running === tasks.length && !updating) {
      ctx.out(`verify: Service ${label} converged\n`);
      return true;
    }
    if (Date.now() >= deadline) {
      ctx.err(`service ${svc.Spec.Name ?? id} did not converge: ${running} out of ${want} tasks running\n`);
      return false;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
