/**
 * `berth service create | ls | ps | inspect | logs | scale | update | rollback | rm`
 * over the Engine API's /services and /tasks, with docker's flags, tables,
 * messages and exit statuses. The spec that create builds and update edits is
 * in service-spec.ts. Without --detach, create, update, scale and rollback wait
 * for the service to converge (see waitConverged).
 */
import type { CommandContext, CommandSpec } from '../command';
import { filtersJson, validateFilter } from '../command';
import type { ParsedFlags } from '../flags';
import { parseUint } from '../flags';
import { StatusError } from '../errors';
import { EngineError } from '../../client/engine';
import { FrameDemuxer } from '../../client/frames';
import { prepareFormat, renderList, type ListFormat } from '../format/render';
import { alignColumns } from '../format/tabwriter';
import { naturalCompare, truncateId } from '../format/strings';
import { formatGoDuration } from '../../common/units';
import { apiTimestamp } from './logs';
import { describeError } from './shared';
import {
  Service,
  SwarmNode,
  Task,
  boolFlag,
  getService,
  imageText,
  inspectObjects,
  portsText,
  servicePath,
  strFlag,
  taskFormat,
  taskListFormat,
  taskRows,
  waitConverged,
  removeEach,
  listingFlags,
} from './swarm-shared';
import { applyUpdateFlags, buildCreateSpec, commonServiceFlags, createListFlags, updateListFlags } from './service-spec';

/** Prints the daemon's warnings about a spec, as docker does. */
function printWarnings(ctx: CommandContext, res: { Warnings?: string[] | null } | undefined): void {
  for (const w of res?.Warnings ?? []) ctx.err(`${w}\n`);
}

/** The wait after a change unless --detach; a service that does not converge in time is exit 1. */
async function afterChange(ctx: CommandContext, p: ParsedFlags, id: string, label: string): Promise<number> {
  if (p.values.detach) return 0;
  const waitCtx: CommandContext = p.values.quiet ? { ...ctx, out: () => undefined } : ctx;
  return (await waitConverged(waitCtx, id, label)) ? 0 : 1;
}

// ---------------------------------------------------------------- create

export const serviceCreate: CommandSpec = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new service',
  interspersed: false,
  args: { min: 1 },
  flags: [...commonServiceFlags, ...createListFlags],
  async run(ctx, p) {
    const spec = buildCreateSpec(p, ctx.env);
    const res = await ctx.client().call<{ ID: string; Warnings?: string[] | null }>('POST', '/services/create', { body: spec });
    printWarnings(ctx, res);
    ctx.out(`${res.ID}\n`);
    return afterChange(ctx, p, res.ID, res.ID);
  },
};

// ---------------------------------------------------------------- ls

export const serviceListFormat: ListFormat = {
  defaultTable: 'table {{.ID}}\\t{{.Name}}\\t{{.Mode}}\\t{{.Replicas}}\\t{{.Image}}\\t{{.Ports}}',
  headers: { ID: 'ID', Name: 'NAME', Mode: 'MODE', Replicas: 'REPLICAS', Image: 'IMAGE', Ports: 'PORTS' },
};

/** Running and desired task counts, from ServiceStatus or else from the tasks. */
interface Counts {
  running: number;
  desired: number;
  completed?: number;
}

export class ServiceContext {
  readonly templateTypeName = '*service.serviceContext';
  constructor(
    private readonly _s: Service,
    private readonly _counts: Counts,
  ) {}
  ID(): string {
    return truncateId(this._s.ID);
  }
  Name(): string {
    return this._s.Spec?.Name ?? '';
  }
  Mode(): string {
    const m = this._s.Spec?.Mode ?? {};
    if (m.Global) return 'global';
    // as the docker CLI prints them (the flag's words have a dash, the column's a space)
    if (m.ReplicatedJob) return 'replicated job';
    if (m.GlobalJob) return 'global job';
    return 'replicated';
  }
  Replicas(): string {
    const m = this._s.Spec?.Mode ?? {};
    const { running, desired } = this._counts;
    let s = `${running}/${desired}`;
    if (m.ReplicatedJob) s += ` (${this._counts.completed ?? 0}/${m.ReplicatedJob.TotalCompletions ?? 1} completed)`;
    // a global job's total is what is left to do and what is done
    else if (m.GlobalJob) s += ` (${this._counts.completed ?? 0}/${desired + (this._counts.completed ?? 0)} completed)`;
    const max = this._s.Spec?.TaskTemplate?.Placement?.MaxReplicas;
    if (max && m.Replicated) s += ` (max ${max} per node)`;
    return s;
  }
  Image(): string {
    return imageText(this._s.Spec?.TaskTemplate?.ContainerSpec?.Image, true);
  }
  Ports(): string {
    const ports = this._s.Endpoint?.Ports ?? this._s.Spec?.EndpointSpec?.Ports;
    return portsText(ports, 'ingress');
  }
  toJSON(): Record<string, string> {
    return { ID: this.ID(), Image: this.Image(), Mode: this.Mode(), Name: this.Name(), Ports: this.Ports(), Replicas: this.Replicas() };
  }
}

async function serviceCounts(ctx: CommandContext, services: readonly Service[]): Promise<Map<string, Counts>> {
  const counts = new Map<string, Counts>();
  const missing = services.filter((s) => !s.ServiceStatus);
  for (const s of services) {
    if (s.ServiceStatus) counts.set(s.ID, { running: s.ServiceStatus.RunningTasks, desired: s.ServiceStatus.DesiredTasks, completed: s.ServiceStatus.CompletedTasks });
  }
  if (missing.length) {
    // An older daemon: count the tasks that should run and those that do.
    const tasks = (await ctx.client().call<Task[] | null>('GET', '/tasks', { query: { filters: JSON.stringify({ service: missing.map((s) => s.ID) }) } })) ?? [];
    for (const s of missing) {
      const mine = tasks.filter((t) => t.ServiceID === s.ID);
      const wanted = mine.filter((t) => t.DesiredState === 'running');
      const running = wanted.filter((t) => t.Status?.State === 'running').length;
      const desired = s.Spec?.Mode?.Replicated ? s.Spec.Mode.Replicated.Replicas ?? 1 : wanted.length;
      counts.set(s.ID, { running, desired, completed: mine.filter((t) => t.Status?.State === 'complete').length });
    }
  }
  return counts;
}

export const serviceLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List services',
  aliases: ['service ls', 'service list'],
  args: { max: 0 },
  flags: [
    ...listingFlags(),
  ],
  async run(ctx, p) {
    const services = (await ctx.client().call<Service[] | null>('GET', '/services', { query: { status: true, filters: filtersJson(p.values.filter as string[]) } })) ?? [];
    services.sort((a, b) => naturalCompare(a.Spec?.Name ?? '', b.Spec?.Name ?? ''));
    const quiet = !!p.values.quiet;
    const counts = quiet ? new Map<string, Counts>() : await serviceCounts(ctx, services);
    const format = quiet ? '{{.ID}}' : (p.values.format as string) || 'table';
    const prepared = prepareFormat(format, serviceListFormat);
    ctx.out(renderList(prepared, services.map((s) => new ServiceContext(s, counts.get(s.ID) ?? { running: 0, desired: 0 })), serviceListFormat));
    return 0;
  },
};

// ---------------------------------------------------------------- ps

export const servicePs: CommandSpec = {
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'List the tasks of one or more services',
  args: { min: 1 },
  flags: [
    { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
    { name: 'format', type: 'string', help: 'Pretty-print tasks using a Go template', default: '' },
    boolFlag('no-resolve', 'Do not map IDs to Names'),
    boolFlag('no-trunc', 'Do not truncate output'),
    boolFlag('quiet', 'Only display task IDs', 'q'),
  ],
  async run(ctx, p) {
    const ids: string[] = [];
    const errors: string[] = [];
    for (const ref of p.args) {
      try {
        ids.push((await getService(ctx, ref)).ID);
      } catch (e) {
        errors.push(e instanceof EngineError && e.status === 404 ? `no such service: ${ref}` : describeError(e));
      }
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
    const user = filtersJson(p.values.filter as string[]);
    const filters = { ...(user ? (JSON.parse(user) as Record<string, string[]>) : {}), service: ids };
    const tasks = (await ctx.client().call<Task[] | null>('GET', '/tasks', { query: { filters: JSON.stringify(filters) } })) ?? [];
    const prepared = prepareFormat(taskFormat(p.values.format as string, !!p.values.quiet), taskListFormat);
    ctx.out(renderList(prepared, await taskRows(ctx, tasks, !p.values['no-trunc'], !p.values['no-resolve']), taskListFormat));
    return 0;
  },
};

// ---------------------------------------------------------------- inspect

const nsText = (ns: number | undefined) => formatGoDuration((ns ?? 0) / 1e6);

/** `service inspect --pretty`: docker's human-readable view of a service. */
export function prettyService(s: Service): string {
  const spec = s.Spec ?? {};
  const lines: string[] = [];
  const row = (k: string, v: unknown) => lines.push(`${k}\t${String(v)}`);
  const labels = (title: string, map: Record<string, string> | null | undefined) => {
    if (!map || !Object.keys(map).length) return;
    lines.push(title);
    for (const k of Object.keys(map).sort()) lines.push(` - ${k}=${map[k]}`);
  };
  row('ID:', s.ID);
  row('Name:', spec.Name ?? '');
  labels('Labels:', spec.Labels);
  const m = spec.Mode ?? {};
  if (m.Global) row('Service Mode:', 'Global');
  else if (m.ReplicatedJob) {
    row('Service Mode:', 'Replicated job');
    row(' Max Concurrent:', m.ReplicatedJob.MaxConcurrent ?? 1);
    row(' Total Completions:', m.ReplicatedJob.TotalCompletions ?? 1);
  } else if (m.GlobalJob) row('Service Mode:', 'Global job');
  else {
    row('Service Mode:', 'Replicated');
    row(' Replicas:', m.Replicated?.Replicas ?? 1);
  }
  if (s.UpdateStatus?.State) {
    lines.push('UpdateStatus:');
    row(' State:', s.UpdateStatus.State);
    if (s.UpdateStatus.Message) row(' Message:', s.UpdateStatus.Message);
  }
  const t = spec.TaskTemplate ?? {};
  lines.push('Placement:');
  if (t.Placement?.Constraints?.length) row(' Constraints:', `[${t.Placement.Constraints.join(' ')}]`);
  if (t.Placement?.Preferences?.length) lines.push(' Preferences:', ...t.Placement.Preferences.map((pr: any) => `   Spread: ${pr.Spread?.SpreadDescriptor ?? ''}`));
  if (t.Placement?.MaxReplicas) row(' Max Replicas Per Node:', t.Placement.MaxReplicas);
  for (const [title, cfg, verb] of [
    ['UpdateConfig:', spec.UpdateConfig, 'Update'],
    ['RollbackConfig:', spec.RollbackConfig, 'Rollback'],
  ] as const) {
    if (!cfg) continue;
    lines.push(title);
    row(' Parallelism:', cfg.Parallelism ?? 0);
    if (cfg.Delay) row(' Delay:', nsText(cfg.Delay));
    row(' On failure:', cfg.FailureAction ?? '');
    if (cfg.Monitor) row(' Monitoring Period:', nsText(cfg.Monitor));
    row(' Max failure ratio:', cfg.MaxFailureRatio ?? 0);
    row(` ${verb} order:`, cfg.Order ?? '');
  }
  const c = t.ContainerSpec ?? {};
  lines.push('ContainerSpec:');
  row(' Image:', c.Image ?? '');
  if (c.Command?.length) row(' Command:', c.Command.join(' '));
  if (c.Args?.length) row(' Args:', c.Args.join(' '));
  if (c.Env?.length) row(' Env:', c.Env.join(' '));
  if (c.Dir) row(' Dir:', c.Dir);
  if (c.User) row(' User:', c.User);
  if (c.Hostname) row(' Hostname:', c.Hostname);
  if (c.Init !== undefined) row(' Init:', !!c.Init);
  if (c.StopGracePeriod) row(' StopGracePeriod:', nsText(c.StopGracePeriod));
  if (c.Mounts?.length) {
    lines.push('Mounts:');
    for (const mnt of c.Mounts) {
      row(' Target:', mnt.Target);
      row('  Source:', mnt.Source ?? '');
      row('  ReadOnly:', !!mnt.ReadOnly);
      row('  Type:', mnt.Type ?? '');
    }
  }
  const r = t.Resources ?? {};
  lines.push('Resources:');
  for (const [title, part] of [
    [' Reservations:', r.Reservations],
    [' Limits:', r.Limits],
  ] as const) {
    if (!part || (!part.NanoCPUs && !part.MemoryBytes && !part.Pids)) continue;
    lines.push(title);
    if (part.NanoCPUs) row('  CPU:', part.NanoCPUs / 1e9);
    if (part.MemoryBytes) row('  Memory:', bytesText(part.MemoryBytes));
    if (part.Pids) row('  PIDs:', part.Pids);
  }
  if (t.Networks?.length) row('Networks:', t.Networks.map((n: { Target: string }) => n.Target).join(' '));
  row('Endpoint Mode:', spec.EndpointSpec?.Mode ?? 'vip');
  const ports = spec.EndpointSpec?.Ports ?? [];
  if (ports.length) {
    lines.push('Ports:');
    for (const pt of ports) {
      lines.push(` PublishedPort = ${pt.PublishedPort ?? 0}`, `  Protocol = ${pt.Protocol ?? 'tcp'}`, `  TargetPort = ${pt.TargetPort}`, `  PublishMode = ${pt.PublishMode ?? 'ingress'}`);
    }
  }
  return alignColumns(lines.join('\n') + '\n').replace(/\n$/, '');
}

function bytesText(n: number): string {
  const { bytesSize } = require('../../common/units') as typeof import('../../common/units');
  return bytesSize(n);
}

export const serviceInspect: CommandSpec = {
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'Display detailed information on one or more services',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates", default: '' },
    boolFlag('pretty', 'Print the information in a human friendly format'),
  ],
  run(ctx, p) {
    const format = p.values.format as string;
    if (p.values.pretty && format && format !== 'pretty') throw new StatusError('--format is incompatible with human friendly format', 1);
    const asPretty = !!p.values.pretty || format === 'pretty';
    return inspectObjects(ctx, p.args, (ref) => `${servicePath(ref)}?insertDefaults=1`, format, asPretty, prettyService, (ref) => `no such service: ${ref}`);
  },
};

// ---------------------------------------------------------------- update / scale / rollback

/** Reads the service, lets `change` edit a copy of its spec, and sends it at the version read. */
async function updateService(ctx: CommandContext, ref: string, change: (spec: Service['Spec']) => void, query: Record<string, string> = {}): Promise<Service> {
  const svc = await getService(ctx, ref);
  const spec = structuredClone(svc.Spec ?? {});
  change(spec);
  const res = await ctx.client().call<{ Warnings?: string[] | null }>('POST', `${servicePath(svc.ID)}/update`, { query: { version: String(svc.Version.Index), ...query }, body: spec });
  printWarnings(ctx, res);
  return svc;
}

export const serviceUpdate: CommandSpec = {
  usage: '[OPTIONS] SERVICE',
  summary: 'Update a service',
  args: { min: 1, max: 1 },
  flags: [...commonServiceFlags, ...updateListFlags],
  async run(ctx, p) {
    const ref = p.args[0];
    const rollback = !!p.values.rollback;
    if (rollback) {
      const others = [...p.changed].filter((f) => !['rollback', 'detach', 'quiet'].includes(f));
      if (others.length) throw new StatusError('other flags may not be combined with --rollback', 1);
    }
    const svc = await updateService(ctx, ref, (spec) => (rollback ? undefined : applyUpdateFlags(spec, p)), rollback ? { rollback: 'previous' } : {});
    ctx.out(`${ref}\n`);
    return afterChange(ctx, p, svc.ID, ref);
  },
};

export const serviceRollback: CommandSpec = {
  usage: '[OPTIONS] SERVICE',
  summary: "Revert changes to a service's configuration",
  args: { min: 1, max: 1 },
  flags: [boolFlag('detach', 'Exit immediately instead of waiting for the service to converge', 'd'), boolFlag('quiet', 'Suppress progress output', 'q')],
  async run(ctx, p) {
    const ref = p.args[0];
    const svc = await updateService(ctx, ref, () => undefined, { rollback: 'previous' });
    ctx.out(`${ref}\n`);
    return afterChange(ctx, p, svc.ID, ref);
  },
};

export const serviceScale: CommandSpec = {
  usage: 'SERVICE=REPLICAS [SERVICE=REPLICAS...]',
  summary: 'Scale one or multiple replicated services',
  args: { min: 1 },
  flags: [boolFlag('detach', 'Exit immediately instead of waiting for the service to converge', 'd')],
  async run(ctx, p) {
    const scales: [string, number][] = [];
    for (const arg of p.args) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg : arg.slice(0, eq);
      const count = eq < 0 ? '' : arg.slice(eq + 1);
      if (eq < 0 || name === '' || count === '') {
        throw new StatusError(
          `Invalid scale specifier '${arg}'.\nSee '${ctx.prog} service scale --help'.\n\nUsage:  ${ctx.prog} service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services`,
          1,
        );
      }
      try {
        scales.push([name, parseUint(count)]);
      } catch (e) {
        throw new StatusError(`invalid replicas value ${count}: ${(e as Error).message}`, 1);
      }
    }
    const errors: string[] = [];
    const scaled: [string, string][] = [];
    for (const [name, n] of scales) {
      try {
        const svc = await updateService(ctx, name, (spec) => {
          if (spec.Mode?.Replicated) spec.Mode.Replicated.Replicas = n;
          else if (spec.Mode?.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = n;
          else throw new StatusError('scale can only be used with replicated or replicated-job mode', 1);
        });
        ctx.out(`${name} scaled to ${n}\n`);
        scaled.push([svc.ID, name]);
      } catch (e) {
        errors.push(`${name}: ${describeError(e)}`);
      }
    }
    let status = 0;
    if (!p.values.detach) {
      for (const [id, name] of scaled) if (!(await waitConverged(ctx, id, name))) status = 1;
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
    return status;
  },
};

// ---------------------------------------------------------------- rm

export const serviceRm: CommandSpec = {
  usage: 'SERVICE [SERVICE...]',
  summary: 'Remove one or more services',
  aliases: ['service rm', 'service remove'],
  args: { min: 1 },
  flags: [],
  run: (ctx, p) => removeEach(ctx, p.args, servicePath),
};

// ---------------------------------------------------------------- logs

export const serviceLogs: CommandSpec = {
  usage: '[OPTIONS] SERVICE|TASK',
  summary: 'Fetch the logs of a service or task',
  args: { min: 1, max: 1 },
  flags: [
    boolFlag('details', 'Show extra details provided to logs'),
    boolFlag('follow', 'Follow log output', 'f'),
    boolFlag('no-resolve', 'Do not map IDs to Names in output'),
    boolFlag('no-task-ids', 'Do not include task IDs in output'),
    boolFlag('no-trunc', 'Do not truncate output'),
    boolFlag('raw', 'Do not neatly format logs'),
    strFlag('since', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
    { name: 'tail', short: 'n', type: 'string', help: 'Number of lines to show from the end of the logs', default: 'all' },
    boolFlag('timestamps', 'Show timestamps', 't'),
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const ref = p.args[0];
    const v = p.values;
    // A service, else a task.
    let path: string;
    try {
      path = `${servicePath((await client.call<Service>('GET', servicePath(ref))).ID)}/logs`;
    } catch (e) {
      if (!(e instanceof EngineError && e.status === 404)) throw e;
      try {
        path = `/tasks/${encodeURIComponent((await client.call<Task>('GET', `/tasks/${encodeURIComponent(ref)}`)).ID)}/logs`;
      } catch (e2) {
        if (e2 instanceof EngineError && e2.status === 404) throw new StatusError(`no such task or service: ${ref}`, 1);
        throw e2;
      }
    }
    const since = v.since ? apiTimestamp(v.since as string) : undefined;
    const stream = await client.stream('GET', path, {
      query: { stdout: true, stderr: true, follow: !!v.follow, tail: v.tail as string, timestamps: !!v.timestamps, details: true, since },
    });
    const names = new Map<string, string>();
    const resolve = !v['no-resolve'];
    const trunc = !v['no-trunc'];
    const label = async (taskId: string, nodeId: string): Promise<string> => {
      const key = `${taskId}@${nodeId}`;
      const known = names.get(key);
      if (known) return known;
      const task = await client.call<Task>('GET', `/tasks/${encodeURIComponent(taskId)}`).catch(() => undefined);
      const svc = resolve && task ? await client.call<Service>('GET', servicePath(task.ServiceID)).catch(() => undefined) : undefined;
      const node = resolve ? await client.call<SwarmNode>('GET', `/nodes/${encodeURIComponent(nodeId)}`).catch(() => undefined) : undefined;
      const id = trunc ? truncateId(taskId) : taskId;
      const serviceName = svc?.Spec?.Name ?? task?.ServiceID ?? '';
      const slot = task?.Slot ? String(task.Slot) : nodeId;
      const name = `${serviceName}.${slot}${v['no-task-ids'] ? '' : `.${id}`}@${node?.Description?.Hostname ?? nodeId}`;
      names.set(key, name);
      return name;
    };
    const timestamps = !!v.timestamps;
    // Lines are written in order, each once its name is known.
    let queue = Promise.resolve();
    const demux = new FrameDemuxer((s, payload) => {
      queue = queue.then(async () => {
        let text = payload.toString();
        let ts = '';
        if (timestamps) {
          const sp = text.indexOf(' ');
          ts = text.slice(0, sp + 1);
          text = text.slice(sp + 1);
        }
        const sp = text.indexOf(' ');
        const attrs = sp >= 0 ? text.slice(0, sp) : '';
        const fields: Record<string, string> = {};
        const extra: string[] = [];
        for (const kv of attrs.split(',').filter(Boolean)) {
          const eq = kv.indexOf('=');
          const k = decodeURIComponent(kv.slice(0, eq));
          const val = decodeURIComponent(kv.slice(eq + 1));
          if (k.startsWith('com.docker.swarm.')) fields[k] = val;
          else extra.push(`${k}=${val}`);
        }
        const msg = sp >= 0 ? text.slice(sp + 1) : text;
        const details = v.details && extra.length ? `${extra.join(',')} ` : '';
        const prefix = v.raw ? '' : `${await label(fields['com.docker.swarm.task.id'] ?? '', fields['com.docker.swarm.node.id'] ?? '')}    | `;
        (s === 2 ? ctx.stderr : ctx.stdout).write(`${ts}${prefix}${details}${msg}`);
      });
    });
    await new Promise<void>((resolveEnd, reject) => {
      stream.on('data', (c: Buffer) => demux.push(c));
      stream.on('end', resolveEnd);
      stream.on('error', reject);
    });
    await queue;
    return 0;
  },
};
