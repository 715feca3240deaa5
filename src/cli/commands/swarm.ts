/**
 * `berth swarm`, `berth node` and `berth service`: the common parts of docker's swarm
 * commands over the Engine API's /swarm, /nodes, /services and /tasks.
 */
import type { CommandContext, CommandSpec } from '../command';
import { filtersJson, validateFilter } from '../command';
import type { FlagDef } from '../flags';
import { StatusError } from '../errors';
import { alignColumns } from '../format/tabwriter';
import { humanDuration, parseGoDuration, parseNanoCpus } from '../../common/units';
import { parseMemBytes } from '../opts/values';
import { describeError, forEachName } from './shared';
import { apiTimestamp } from './logs';
import { FrameDemuxer } from '../../client/frames';

const str = (name: string, help: string, short?: string): FlagDef => ({ name, short, type: 'string', help, default: '' });
const bool = (name: string, help: string, short?: string): FlagDef => ({ name, short, type: 'bool', help, default: false });
const list = (name: string, help: string, short?: string): FlagDef => ({ name, short, type: 'list', help });
const dur = (name: string, help: string): FlagDef => ({ name, type: 'duration', help, default: undefined, parse: parseGoDuration });
const uint = (name: string, help: string): FlagDef => ({
  name,
  type: 'uint',
  help,
  default: undefined,
  parse: (v) => {
    if (!/^\d+$/.test(v)) throw new Error(`strconv.ParseUint: parsing "${v}": invalid syntax`);
    return Number(v);
  },
});

interface SwarmNode {
  ID: string;
  Version: { Index: number };
  Spec: { Role: string; Availability: string; Labels?: Record<string, string>; Name?: string };
  Description: { Hostname: string; Engine: { EngineVersion: string } };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Leader?: boolean; Reachability: string };
}

interface Task {
  ID: string;
  ServiceID: string;
  Slot?: number;
  NodeID?: string;
  DesiredState: string;
  CreatedAt: string;
  Spec: { ContainerSpec: { Image: string } };
  Status: { State: string; Timestamp: string; Err?: string };
}

interface Service {
  ID: string;
  Version: { Index: number };
  Spec: any;
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number };
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

// ---- swarm ------------------------------------------------------------------------

export const swarmInit: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Initialize a swarm',
  aliases: ['swarm init'],
  args: { max: 0 },
  flags: [str('advertise-addr', 'Advertised address (format: "<ip|interface>[:port]")'), str('listen-addr', 'Listen address (format: "<ip|interface>[:port]")'), bool('force-new-cluster', 'Force create a new cluster from current state')],
  async run(ctx, p) {
    const client = ctx.client();
    const id = await client.call<string>('POST', '/swarm/init', {
      body: { AdvertiseAddr: (p.values['advertise-addr'] as string) || undefined, ListenAddr: (p.values['listen-addr'] as string) || '0.0.0.0:2377', ForceNewCluster: p.values['force-new-cluster'] },
    });
    const swarm = await client.call<{ JoinTokens: { Worker: string } }>('GET', '/swarm');
    const info = await client.call<{ Swarm: { NodeAddr: string } }>('GET', '/info');
    ctx.out(`Swarm initialized: current node (${id}) is now a manager.\n\nTo add a worker to this swarm, run the following command:\n\n    berth swarm join --token ${swarm.JoinTokens.Worker} ${info.Swarm.NodeAddr}:2377\n\nTo add a manager to this swarm, run 'berth swarm join-token manager' and follow the instructions.\n\n`);
    return 0;
  },
};

export const swarmJoin: CommandSpec = {
  usage: '[OPTIONS] HOST:PORT',
  summary: 'Join a swarm as a node and/or manager',
  aliases: ['swarm join'],
  args: { min: 1, max: 1 },
  flags: [str('token', 'Token for entry into the swarm'), str('advertise-addr', 'Advertised address (format: "<ip|interface>[:port]")'), str('listen-addr', 'Listen address (format: "<ip|interface>[:port]")')],
  async run(ctx, p) {
    const client = ctx.client();
    await client.call('POST', '/swarm/join', {
      body: { JoinToken: p.values.token, RemoteAddrs: p.args, AdvertiseAddr: (p.values['advertise-addr'] as string) || undefined, ListenAddr: (p.values['listen-addr'] as string) || '0.0.0.0:2377' },
    });
    const info = await client.call<{ Swarm: { ControlAvailable: boolean } }>('GET', '/info');
    ctx.out(`This node joined a swarm as a ${info.Swarm.ControlAvailable ? 'manager' : 'worker'}.\n`);
    return 0;
  },
};

export const swarmJoinToken: CommandSpec = {
  usage: '[OPTIONS] (worker|manager)',
  summary: 'Manage join tokens',
  aliases: ['swarm join-token'],
  args: { min: 1, max: 1 },
  flags: [bool('quiet', 'Only display token', 'q'), bool('rotate', 'Rotate join token')],
  async run(ctx, p) {
    const role = p.args[0];
    if (role !== 'worker' && role !== 'manager') throw new StatusError('unknown role ' + role, 1);
    const client = ctx.client();
    if (p.values.rotate) {
      const s = await client.call<{ Version: { Index: number }; Spec: unknown }>('GET', '/swarm');
      await client.call('POST', '/swarm/update', { query: { version: String(s.Version.Index), [role === 'worker' ? 'rotateWorkerToken' : 'rotateManagerToken']: 'true' }, body: s.Spec });
      if (!p.values.quiet) ctx.out(`Successfully rotated ${role} join token.\n\n`);
    }
    const swarm = await client.call<{ JoinTokens: { Worker: string; Manager: string } }>('GET', '/swarm');
    const token = role === 'worker' ? swarm.JoinTokens.Worker : swarm.JoinTokens.Manager;
    if (p.values.quiet) {
      ctx.out(`${token}\n`);
      return 0;
    }
    const info = await client.call<{ Swarm: { NodeAddr: string } }>('GET', '/info');
    ctx.out(`To add a ${role} to this swarm, run the following command:\n\n    berth swarm join --token ${token} ${info.Swarm.NodeAddr}:2377\n\n`);
    return 0;
  },
};

export const swarmLeave: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Leave the swarm',
  aliases: ['swarm leave'],
  args: { max: 0 },
  flags: [bool('force', 'Force this node to leave the swarm, ignoring warnings', 'f')],
  async run(ctx, p) {
    await ctx.client().call('POST', '/swarm/leave', { query: { force: p.values.force ? 'true' : undefined } });
    ctx.out('Node left the swarm.\n');
    return 0;
  },
};

// ---- node -------------------------------------------------------------------------

async function selfId(ctx: CommandContext): Promise<string> {
  return (await ctx.client().call<{ Swarm: { NodeID: string } }>('GET', '/info')).Swarm.NodeID;
}

export const nodeLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List nodes in the swarm',
  aliases: ['node ls', 'node list'],
  args: { max: 0 },
  flags: [{ name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter }, bool('quiet', 'Only display IDs', 'q')],
  async run(ctx, p) {
    const nodes = await ctx.client().call<SwarmNode[]>('GET', '/nodes', { query: { filters: filtersJson(p.values.filter as string[]) } });
    if (p.values.quiet) {
      ctx.out(nodes.map((n) => `${n.ID}\n`).join(''));
      return 0;
    }
    const self = await selfId(ctx);
    const rows = nodes
      .sort((a, b) => a.Description.Hostname.localeCompare(b.Description.Hostname))
      .map((n) => {
        const manager = n.ManagerStatus ? (n.ManagerStatus.Leader ? 'Leader' : cap(n.ManagerStatus.Reachability)) : '';
        return [`${n.ID}${n.ID === self ? ' *' : ''}`, n.Description.Hostname, cap(n.Status.State), cap(n.Spec.Availability), manager, n.Description.Engine.EngineVersion].join('\t');
      });
    ctx.out(alignColumns(['ID\tHOSTNAME\tSTATUS\tAVAILABILITY\tMANAGER STATUS\tENGINE VERSION', ...rows].map((l) => `${l}\n`).join(''), { padding: 3 }));
    return 0;
  },
};

export const nodeInspect: CommandSpec = {
  usage: '[OPTIONS] self|NODE [NODE...]',
  summary: 'Display detailed information on one or more nodes',
  aliases: ['node inspect'],
  args: { min: 1 },
  flags: [],
  async run(ctx, p) {
    const out: unknown[] = [];
    for (const ref of p.args) out.push(await ctx.client().call('GET', `/nodes/${encodeURIComponent(ref)}`));
    ctx.out(JSON.stringify(out, null, 4) + '\n');
    return 0;
  },
};

export const nodeUpdate: CommandSpec = {
  usage: '[OPTIONS] NODE',
  summary: 'Update a node',
  aliases: ['node update'],
  args: { min: 1, max: 1 },
  flags: [str('availability', 'Availability of the node ("active", "pause", "drain")'), list('label-add', 'Add or update a node label ("key=value")'), list('label-rm', 'Remove a node label if exists'), str('role', 'Role of the node ("worker", "manager")')],
  async run(ctx, p) {
    const client = ctx.client();
    const ref = p.args[0];
    const node = await client.call<SwarmNode>('GET', `/nodes/${encodeURIComponent(ref)}`);
    const spec = { ...node.Spec, Labels: { ...(node.Spec.Labels ?? {}) } };
    if (p.values.availability) spec.Availability = p.values.availability as string;
    if (p.values.role) spec.Role = p.values.role as string;
    for (const l of p.values['label-add'] as string[]) {
      const eq = l.indexOf('=');
      spec.Labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
    }
    for (const k of p.values['label-rm'] as string[]) delete spec.Labels[k];
    await client.call('POST', `/nodes/${node.ID}/update`, { query: { version: String(node.Version.Index) }, body: spec });
    ctx.out(`${ref}\n`);
    return 0;
  },
};

export const nodeRm: CommandSpec = {
  usage: '[OPTIONS] NODE [NODE...]',
  summary: 'Remove one or more nodes from the swarm',
  aliases: ['node rm', 'node remove'],
  args: { min: 1 },
  flags: [bool('force', 'Force remove a node from the swarm', 'f')],
  async run(ctx, p) {
    const failed = await forEachName(ctx, p.args, async (ref) => {
      await ctx.client().call('DELETE', `/nodes/${encodeURIComponent(ref)}`, { query: { force: p.values.force ? 'true' : undefined } });
      ctx.out(`${ref}\n`);
    });
    return failed.length ? 1 : 0;
  },
};

/** The task table of `service ps` and `node ps`, with docker's "\_ " rows for history. */
async function taskTable(ctx: CommandContext, tasks: Task[], quiet: boolean, trunc: boolean): Promise<string> {
  if (quiet) return tasks.map((t) => `${t.ID}\n`).join('');
  const client = ctx.client();
  const nodes = new Map((await client.call<SwarmNode[]>('GET', '/nodes')).map((n) => [n.ID, n.Description.Hostname]));
  const services = new Map((await client.call<Service[]>('GET', '/services')).map((s) => [s.ID, s.Spec.Name as string]));
  const key = (t: Task) => `${t.ServiceID}.${t.Slot ?? t.NodeID}`;
  const sorted = [...tasks].sort((a, b) => key(a).localeCompare(key(b), undefined, { numeric: true }) || Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt));
  let previous = '';
  const now = Date.now();
  const rows = sorted.map((t) => {
    const name = `${services.get(t.ServiceID) ?? t.ServiceID}.${t.Slot ?? t.NodeID}`;
    const shown = key(t) === previous ? ` \\_ ${name}` : name;
    previous = key(t);
    const image = t.Spec.ContainerSpec.Image.replace(/@sha256:.*$/, '');
    const state = `${cap(t.Status.State)} ${humanDuration(now - Date.parse(t.Status.Timestamp)).toLowerCase()} ago`;
    const err = t.Status.Err ? (trunc && t.Status.Err.length > 30 ? `"${t.Status.Err.slice(0, 29)}…"` : `"${t.Status.Err}"`) : '';
    return [trunc ? t.ID.slice(0, 12) : t.ID, shown, image, nodes.get(t.NodeID ?? '') ?? '', cap(t.DesiredState), state, err, ''].join('\t');
  });
  return alignColumns(['ID\tNAME\tIMAGE\tNODE\tDESIRED STATE\tCURRENT STATE\tERROR\tPORTS', ...rows].map((l) => `${l}\n`).join(''), { padding: 3 });
}

export const nodePs: CommandSpec = {
  usage: '[OPTIONS] [NODE...]',
  summary: 'List tasks running on one or more nodes, defaults to current node',
  aliases: ['node ps'],
  flags: [bool('quiet', 'Only display task IDs', 'q'), bool('no-trunc', 'Do not truncate output')],
  async run(ctx, p) {
    const refs = p.args.length ? p.args : ['self'];
    const tasks: Task[] = [];
    for (const ref of refs) {
      const node = await ctx.client().call<SwarmNode>('GET', `/nodes/${encodeURIComponent(ref)}`);
      tasks.push(...(await ctx.client().call<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify({ node: [node.ID] }) } })));
    }
    ctx.out(await taskTable(ctx, tasks, !!p.values.quiet, !p.values['no-trunc']));
    return 0;
  },
};

// ---- service ----------------------------------------------------------------------

const serviceFlags: FlagDef[] = [
  list('env', 'Set environment variables', 'e'),
  list('label', 'Service labels', 'l'),
  list('container-label', 'Container labels'),
  list('constraint', 'Placement constraints'),
  list('publish', 'Publish a port as a node port', 'p'),
  str('restart-condition', 'Restart when condition is met ("none", "on-failure", "any")'),
  dur('restart-delay', 'Delay between restart attempts (ns|us|ms|s|m|h)'),
  uint('restart-max-attempts', 'Maximum number of restarts before giving up'),
  dur('restart-window', 'Window used to evaluate the restart policy (ns|us|ms|s|m|h)'),
  uint('update-parallelism', 'Maximum number of tasks updated simultaneously (0 to update all at once)'),
  dur('update-delay', 'Delay between updates (ns|us|ms|s|m|h)'),
  str('update-failure-action', 'Action on update failure ("pause", "continue", "rollback")'),
  { name: 'reserve-cpu', type: 'decimal', help: 'Reserve CPUs', parse: parseNanoCpus },
  { name: 'reserve-memory', type: 'bytes', help: 'Reserve Memory', parse: parseMemBytes },
  { name: 'limit-cpu', type: 'decimal', help: 'Limit CPUs', parse: parseNanoCpus },
  { name: 'limit-memory', type: 'bytes', help: 'Limit Memory', parse: parseMemBytes },
  dur('stop-grace-period', 'Time to wait before force killing a container (ns|us|ms|s|m|h)'),
  str('workdir', 'Working directory inside the container', 'w'),
  str('user', 'Username or UID (format: <name|uid>[:<group|gid>])', 'u'),
  str('hostname', 'Container hostname'),
  bool('detach', 'Exit immediately instead of waiting for the service to converge', 'd'),
];

const ms2ns = (ms: number) => Math.round(ms * 1e6);

function parsePublish(v: string): { Protocol: string; TargetPort: number; PublishedPort?: number; PublishMode: string } {
  if (v.includes('=')) {
    const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=')));
    return { Protocol: f.protocol ?? 'tcp', TargetPort: Number(f.target), PublishedPort: f.published ? Number(f.published) : undefined, PublishMode: f.mode ?? 'ingress' };
  }
  const [ports, proto] = v.split('/');
  const [published, target] = ports.includes(':') ? ports.split(':') : [undefined, ports];
  if (!target || !/^\d+$/.test(target)) throw new StatusError(`invalid argument "${v}" for "-p, --publish" flag: invalid port`, 125);
  return { Protocol: proto ?? 'tcp', TargetPort: Number(target), PublishedPort: published ? Number(published) : undefined, PublishMode: 'ingress' };
}

/** Applies the flags that were given to a ServiceSpec (create starts from an empty one). */
function applyServiceFlags(spec: any, p: { values: Record<string, unknown>; changed: Set<string> }): void {
  const t = (spec.TaskTemplate ??= { ContainerSpec: {} });
  const c = t.ContainerSpec;
  const has = (k: string) => p.changed.has(k);
  if (has('env')) c.Env = [...(c.Env ?? []), ...(p.values.env as string[])];
  if (has('container-label')) c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries((p.values['container-label'] as string[]).map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')])) };
  if (has('label')) spec.Labels = { ...(spec.Labels ?? {}), ...Object.fromEntries((p.values.label as string[]).map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')])) };
  if (has('constraint')) t.Placement = { ...(t.Placement ?? {}), Constraints: p.values.constraint };
  if (has('publish')) spec.EndpointSpec = { ...(spec.EndpointSpec ?? {}), Ports: (p.values.publish as string[]).map(parsePublish) };
  const rp = { ...(t.RestartPolicy ?? {}) };
  if (has('restart-condition')) rp.Condition = p.values['restart-condition'];
  if (has('restart-delay')) rp.Delay = ms2ns(p.values['restart-delay'] as number);
  if (has('restart-max-attempts')) rp.MaxAttempts = p.values['restart-max-attempts'];
  if (has('restart-window')) rp.Window = ms2ns(p.values['restart-window'] as number);
  if (Object.keys(rp).length) t.RestartPolicy = rp;
  const uc = { ...(spec.UpdateConfig ?? {}) };
  if (has('update-parallelism')) uc.Parallelism = p.values['update-parallelism'];
  if (has('update-delay')) uc.Delay = ms2ns(p.values['update-delay'] as number);
  if (has('update-failure-action')) uc.FailureAction = p.values['update-failure-action'];
  if (Object.keys(uc).length) spec.UpdateConfig = uc;
  const res = { Limits: { ...(t.Resources?.Limits ?? {}) }, Reservations: { ...(t.Resources?.Reservations ?? {}) } };
  if (has('reserve-cpu')) res.Reservations.NanoCPUs = p.values['reserve-cpu'];
  if (has('reserve-memory')) res.Reservations.MemoryBytes = p.values['reserve-memory'];
  if (has('limit-cpu')) res.Limits.NanoCPUs = p.values['limit-cpu'];
  if (has('limit-memory')) res.Limits.MemoryBytes = p.values['limit-memory'];
  if (Object.keys(res.Limits).length || Object.keys(res.Reservations).length) t.Resources = res;
  if (has('stop-grace-period')) c.StopGracePeriod = ms2ns(p.values['stop-grace-period'] as number);
  if (has('workdir')) c.Dir = p.values.workdir;
  if (has('user')) c.User = p.values.user;
  if (has('hostname')) c.Hostname = p.values.hostname;
}

/** Waits until the service's tasks of its current spec run, as docker's progress does (without bars). */
async function converge(ctx: CommandContext, id: string): Promise<void> {
  const client = ctx.client();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const svc = await client.call<Service>('GET', `/services/${id}`);
    const tasks = await client.call<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify({ service: [id], 'desired-state': ['running'], '_up-to-date': ['true'] }) } });
    const want = svc.Spec.Mode?.Global ? tasks.length : svc.Spec.Mode?.Replicated?.Replicas ?? 1;
    const running = tasks.filter((t) => t.Status.State === 'running').length;
    const failed = tasks.find((t) => ['failed', 'rejected'].includes(t.Status.State));
    if (failed) throw new StatusError(`task ${failed.ID}: ${failed.Status.Err ?? failed.Status.State}`, 1);
    if (running === want && (want > 0 || tasks.length === 0)) {
      ctx.out(`overall progress: ${running} out of ${want} tasks\nverify: Service ${svc.Spec.Name} converged\n`);
      return;
    }
    if (Date.now() > deadline) throw new StatusError(`service ${svc.Spec.Name} did not converge: ${running} out of ${want} tasks running`, 1);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const serviceCreate: CommandSpec = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new service',
  aliases: ['service create'],
  interspersed: false,
  args: { min: 1 },
  flags: [str('name', 'Service name'), uint('replicas', 'Number of tasks'), str('mode', 'Service mode ("replicated", "global")'), ...serviceFlags],
  async run(ctx, p) {
    const [image, ...args] = p.args;
    const spec: any = { Name: (p.values.name as string) || undefined, TaskTemplate: { ContainerSpec: { Image: image, Args: args.length ? args : undefined } } };
    const mode = (p.values.mode as string) || 'replicated';
    if (mode === 'global') {
      if (p.changed.has('replicas')) throw new StatusError('replicas can only be used with replicated or replicated-job mode', 1);
      spec.Mode = { Global: {} };
    } else if (mode === 'replicated') spec.Mode = { Replicated: { Replicas: p.changed.has('replicas') ? p.values.replicas : 1 } };
    else throw new StatusError(`invalid service mode: ${mode}`, 1);
    applyServiceFlags(spec, p);
    const r = await ctx.client().call<{ ID: string }>('POST', '/services/create', { body: spec });
    ctx.out(`${r.ID}\n`);
    if (!p.values.detach) await converge(ctx, r.ID);
    return 0;
  },
};

export const serviceLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List services',
  aliases: ['service ls', 'service list'],
  args: { max: 0 },
  flags: [{ name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter }, bool('quiet', 'Only display IDs', 'q')],
  async run(ctx, p) {
    const services = await ctx.client().call<Service[]>('GET', '/services', { query: { status: 'true', filters: filtersJson(p.values.filter as string[]) } });
    if (p.values.quiet) {
      ctx.out(services.map((s) => `${s.ID}\n`).join(''));
      return 0;
    }
    const rows = services
      .sort((a, b) => String(a.Spec.Name).localeCompare(String(b.Spec.Name)))
      .map((s) => {
        const global = !!s.Spec.Mode?.Global;
        const st = s.ServiceStatus ?? { RunningTasks: 0, DesiredTasks: 0 };
        const ports = ((s.Spec.EndpointSpec?.Ports ?? []) as { PublishedPort?: number; TargetPort: number; Protocol?: string }[]).map((x) => `*:${x.PublishedPort ?? ''}->${x.TargetPort}/${x.Protocol ?? 'tcp'}`).join(', ');
        return [s.ID.slice(0, 12), s.Spec.Name, global ? 'global' : 'replicated', `${st.RunningTasks}/${st.DesiredTasks}`, s.Spec.TaskTemplate.ContainerSpec.Image, ports].join('\t');
      });
    ctx.out(alignColumns(['ID\tNAME\tMODE\tREPLICAS\tIMAGE\tPORTS', ...rows].map((l) => `${l}\n`).join(''), { padding: 3 }));
    return 0;
  },
};

export const servicePs: CommandSpec = {
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'List the tasks of one or more services',
  aliases: ['service ps'],
  args: { min: 1 },
  flags: [bool('quiet', 'Only display task IDs', 'q'), bool('no-trunc', 'Do not truncate output'), { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter }],
  async run(ctx, p) {
    const tasks: Task[] = [];
    for (const ref of p.args) {
      const svc = await ctx.client().call<Service>('GET', `/services/${encodeURIComponent(ref)}`);
      const extra = Object.fromEntries((p.values.filter as string[]).map((f) => [f.split('=')[0], [f.split('=').slice(1).join('=')]]));
      tasks.push(...(await ctx.client().call<Task[]>('GET', '/tasks', { query: { filters: JSON.stringify({ ...extra, service: [svc.ID] }) } })));
    }
    ctx.out(await taskTable(ctx, tasks, !!p.values.quiet, !p.values['no-trunc']));
    return 0;
  },
};

export const serviceInspect: CommandSpec = {
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'Display detailed information on one or more services',
  aliases: ['service inspect'],
  args: { min: 1 },
  flags: [],
  async run(ctx, p) {
    const out: unknown[] = [];
    for (const ref of p.args) out.push(await ctx.client().call('GET', `/services/${encodeURIComponent(ref)}`));
    ctx.out(JSON.stringify(out, null, 4) + '\n');
    return 0;
  },
};

async function updateSpec(ctx: CommandContext, ref: string, change: (spec: any) => void, query: Record<string, string> = {}): Promise<Service> {
  const svc = await ctx.client().call<Service>('GET', `/services/${encodeURIComponent(ref)}`);
  const spec = structuredClone(svc.Spec);
  change(spec);
  await ctx.client().call('POST', `/services/${svc.ID}/update`, { query: { version: String(svc.Version.Index), ...query }, body: spec });
  return svc;
}

export const serviceScale: CommandSpec = {
  usage: 'SERVICE=REPLICAS [SERVICE=REPLICAS...]',
  summary: 'Scale one or multiple replicated services',
  aliases: ['service scale'],
  args: { min: 1 },
  flags: [bool('detach', 'Exit immediately instead of waiting for the service to converge', 'd')],
  async run(ctx, p) {
    let status = 0;
    for (const arg of p.args) {
      const eq = arg.indexOf('=');
      const name = arg.slice(0, eq);
      const n = arg.slice(eq + 1);
      if (eq <= 0 || !/^-?\d+$/.test(n) || Number(n) < 0) {
        ctx.err(`invalid replicas value ${n}: ${eq <= 0 ? 'must be SERVICE=REPLICAS' : 'replicas must be a non-negative integer'}\n`);
        status = 1;
        continue;
      }
      try {
        const svc = await updateSpec(ctx, name, (spec) => {
          if (!spec.Mode?.Replicated) throw new StatusError(`scale can only be used with replicated or replicated-job mode`, 1);
          spec.Mode.Replicated.Replicas = Number(n);
        });
        ctx.out(`${name} scaled to ${n}\n`);
        if (!p.values.detach) await converge(ctx, svc.ID);
      } catch (e) {
        ctx.err(`${describeError(e)}\n`);
        status = 1;
      }
    }
    return status;
  },
};

export const serviceUpdate: CommandSpec = {
  usage: '[OPTIONS] SERVICE',
  summary: 'Update a service',
  aliases: ['service update'],
  args: { min: 1, max: 1 },
  flags: [str('image', 'Service image tag'), uint('replicas', 'Number of tasks'), list('env-add', 'Add or update an environment variable'), bool('force', 'Force update even if no changes require it'), bool('rollback', 'Rollback to previous specification'), ...serviceFlags.filter((f) => f.name !== 'env')],
  async run(ctx, p) {
    const ref = p.args[0];
    const svc = await updateSpec(
      ctx,
      ref,
      (spec) => {
        if (p.values.rollback) return;
        if (p.values.image) spec.TaskTemplate.ContainerSpec.Image = p.values.image;
        if (p.changed.has('replicas')) {
          if (!spec.Mode?.Replicated) throw new StatusError('replicas can only be used with replicated or replicated-job mode', 1);
          spec.Mode.Replicated.Replicas = p.values.replicas;
        }
        if (p.changed.has('env-add')) {
          const env: string[] = spec.TaskTemplate.ContainerSpec.Env ?? [];
          for (const e of p.values['env-add'] as string[]) {
            const k = e.split('=')[0];
            const i = env.findIndex((x) => x.split('=')[0] === k);
            if (i >= 0) env[i] = e;
            else env.push(e);
          }
          spec.TaskTemplate.ContainerSpec.Env = env;
        }
        if (p.values.force) spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
        applyServiceFlags(spec, p);
      },
      p.values.rollback ? { rollback: 'previous' } : {},
    );
    ctx.out(`${ref}\n`);
    if (!p.values.detach) await converge(ctx, svc.ID);
    return 0;
  },
};

export const serviceRollback: CommandSpec = {
  usage: '[OPTIONS] SERVICE',
  summary: "Revert changes to a service's configuration",
  aliases: ['service rollback'],
  args: { min: 1, max: 1 },
  flags: [bool('detach', 'Exit immediately instead of waiting for the service to converge', 'd')],
  async run(ctx, p) {
    const svc = await updateSpec(ctx, p.args[0], () => undefined, { rollback: 'previous' });
    ctx.out(`${p.args[0]}\n`);
    if (!p.values.detach) await converge(ctx, svc.ID);
    return 0;
  },
};

export const serviceRm: CommandSpec = {
  usage: 'SERVICE [SERVICE...]',
  summary: 'Remove one or more services',
  aliases: ['service rm', 'service remove'],
  args: { min: 1 },
  flags: [],
  async run(ctx, p) {
    const failed = await forEachName(ctx, p.args, async (ref) => {
      await ctx.client().call('DELETE', `/services/${encodeURIComponent(ref)}`);
      ctx.out(`${ref}\n`);
    });
    return failed.length ? 1 : 0;
  },
};

export const serviceLogs: CommandSpec = {
  usage: '[OPTIONS] SERVICE|TASK',
  summary: 'Fetch the logs of a service or task',
  aliases: ['service logs'],
  args: { min: 1, max: 1 },
  flags: [
    bool('follow', 'Follow log output', 'f'),
    bool('no-task-ids', 'Do not include task IDs in output'),
    bool('no-trunc', 'Do not truncate output'),
    bool('raw', 'Do not neatly format logs'),
    str('since', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
    { name: 'tail', short: 'n', type: 'string', help: 'Number of lines to show from the end of the logs', default: 'all' },
    bool('timestamps', 'Show timestamps', 't'),
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const ref = p.args[0];
    // a service, else a task
    let path = `/services/${encodeURIComponent(ref)}/logs`;
    try {
      await client.call('GET', `/services/${encodeURIComponent(ref)}`);
    } catch {
      await client.call('GET', `/tasks/${encodeURIComponent(ref)}`);
      path = `/tasks/${encodeURIComponent(ref)}/logs`;
    }
    const since = p.values.since ? apiTimestamp(p.values.since as string) : undefined;
    const stream = await client.stream('GET', path, {
      query: { stdout: true, stderr: true, follow: p.values.follow as boolean, tail: p.values.tail as string, timestamps: p.values.timestamps as boolean, details: true, since },
    });
    const names = new Map<string, string>();
    const label = async (taskId: string, nodeId: string): Promise<string> => {
      const key = `${taskId}@${nodeId}`;
      const known = names.get(key);
      if (known) return known;
      const task = await client.call<Task>('GET', `/tasks/${taskId}`).catch(() => undefined);
      const svc = task ? await client.call<Service>('GET', `/services/${task.ServiceID}`).catch(() => undefined) : undefined;
      const node = await client.call<SwarmNode>('GET', `/nodes/${nodeId}`).catch(() => undefined);
      const id = p.values['no-trunc'] ? taskId : taskId.slice(0, 12);
      const name = `${svc?.Spec.Name ?? '?'}.${task?.Slot ?? nodeId}${p.values['no-task-ids'] ? '' : `.${id}`}@${node?.Description.Hostname ?? nodeId}`;
      names.set(key, name);
      return name;
    };
    const timestamps = !!p.values.timestamps;
    // lines are written in order, each once its name is known
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
        const fields = Object.fromEntries(text.slice(0, sp).split(',').map((kv) => kv.split('=')));
        const msg = text.slice(sp + 1);
        const prefix = p.values.raw ? '' : `${await label(fields['com.docker.swarm.task.id'] ?? '', fields['com.docker.swarm.node.id'] ?? '')}    | `;
        (s === 2 ? ctx.stderr : ctx.stdout).write(`${ts}${prefix}${msg}`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => demux.push(c));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    await queue;
    return 0;
  },
};

async function changeRole(ctx: CommandContext, refs: string[], role: 'manager' | 'worker'): Promise<number> {
  let status = 0;
  for (const ref of refs) {
    try {
      const node = await ctx.client().call<SwarmNode>('GET', `/nodes/${encodeURIComponent(ref)}`);
      if (node.Spec.Role === role) {
        ctx.out(role === 'manager' ? `Node ${ref} is already a manager.\n` : `Node ${ref} is already a worker.\n`);
        continue;
      }
      await ctx.client().call('POST', `/nodes/${node.ID}/update`, { query: { version: String(node.Version.Index) }, body: { ...node.Spec, Role: role } });
      ctx.out(role === 'manager' ? `Node ${ref} promoted to a manager in the swarm.\n` : `Manager ${ref} demoted in the swarm.\n`);
    } catch (e) {
      ctx.err(`${describeError(e)}\n`);
      status = 1;
    }
  }
  return status;
}

export const nodePromote: CommandSpec = {
  usage: 'NODE [NODE...]',
  summary: 'Promote one or more nodes to manager in the swarm',
  aliases: ['node promote'],
  args: { min: 1 },
  flags: [],
  run: (ctx, p) => changeRole(ctx, p.args, 'manager'),
};

export const nodeDemote: CommandSpec = {
  usage: 'NODE [NODE...]',
  summary: 'Demote one or more nodes from manager in the swarm',
  aliases: ['node demote'],
  args: { min: 1 },
  flags: [],
  run: (ctx, p) => changeRole(ctx, p.args, 'worker'),
};
