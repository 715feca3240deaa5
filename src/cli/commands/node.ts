/**
 * `berth node ls | inspect | update | promote | demote | rm | ps` over the Engine
 * API's /nodes and /tasks, with docker's tables, messages and exit statuses.
 * Changes to a node are a read of the node (for its Version.Index) and an update
 * of its whole Spec at that version.
 */
import type { CommandContext, CommandSpec } from '../command';
import { filtersJson, validateFilter } from '../command';
import { StatusError } from '../errors';
import { prepareFormat, renderList, type ListFormat } from '../format/render';
import { naturalCompare } from '../format/strings';
import { goTimeStringFromRfc3339 } from '../format/time';
import { alignColumns } from '../format/tabwriter';
import { bytesSize } from '../../common/units';
import { describeError } from './shared';
import {
  SwarmNode,
  Task,
  boolFlag,
  getNode,
  inspectObjects,
  listFlag,
  nodePath,
  pretty,
  resolveNodeRef,
  selfNodeId,
  strFlag,
  taskFormat,
  taskListFormat,
  taskRows,
  removeEach,
  listingFlags,
} from './swarm-shared';

// ---------------------------------------------------------------- ls

export const nodeListFormat: ListFormat = {
  defaultTable: 'table {{.ID}} {{if .Self}}*{{else}} {{ end }}\\t{{.Hostname}}\\t{{.Status}}\\t{{.Availability}}\\t{{.ManagerStatus}}\\t{{.EngineVersion}}',
  headers: {
    ID: 'ID',
    Self: '',
    Hostname: 'HOSTNAME',
    Status: 'STATUS',
    Availability: 'AVAILABILITY',
    ManagerStatus: 'MANAGER STATUS',
    TLSStatus: 'TLS STATUS',
    EngineVersion: 'ENGINE VERSION',
  },
};

/** One row of `node ls`, the fields docker's node formatter offers. */
export class NodeContext {
  readonly templateTypeName = '*node.nodeContext';
  constructor(
    private readonly _n: SwarmNode,
    private readonly _self: string,
  ) {}
  ID(): string {
    return this._n.ID;
  }
  Self(): boolean {
    return this._n.ID === this._self;
  }
  Hostname(): string {
    return this._n.Description?.Hostname ?? '';
  }
  Status(): string {
    return pretty(this._n.Status?.State);
  }
  Availability(): string {
    return pretty(this._n.Spec?.Availability);
  }
  /** "Leader", "Reachable", "Unreachable", or nothing for a worker. */
  ManagerStatus(): string {
    const m = this._n.ManagerStatus;
    if (!m) return '';
    return m.Leader ? 'Leader' : pretty(m.Reachability);
  }
  TLSStatus(): string {
    return 'Ready';
  }
  EngineVersion(): string {
    return this._n.Description?.Engine?.EngineVersion ?? '';
  }
  toJSON(): Record<string, unknown> {
    return {
      Availability: this.Availability(),
      EngineVersion: this.EngineVersion(),
      Hostname: this.Hostname(),
      ID: this.ID(),
      ManagerStatus: this.ManagerStatus(),
      Self: this.Self(),
      Status: this.Status(),
      TLSStatus: this.TLSStatus(),
    };
  }
}

export const nodeLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List nodes in the swarm',
  aliases: ['node ls', 'node list'],
  args: { max: 0 },
  flags: [
    ...listingFlags(),
  ],
  async run(ctx, p) {
    const nodes = (await ctx.client().call<SwarmNode[] | null>('GET', '/nodes', { query: { filters: filtersJson(p.values.filter as string[]) } })) ?? [];
    const quiet = !!p.values.quiet;
    const self = quiet ? '' : await selfNodeId(ctx);
    nodes.sort((a, b) => naturalCompare(a.Description?.Hostname ?? '', b.Description?.Hostname ?? ''));
    const format = quiet ? '{{.ID}}' : (p.values.format as string) || 'table';
    const prepared = prepareFormat(format, nodeListFormat);
    ctx.out(renderList(prepared, nodes.map((n) => new NodeContext(n, self)), nodeListFormat));
    return 0;
  },
};

// ---------------------------------------------------------------- inspect

/** `node inspect --pretty`: docker's human-readable view of a node. */
export function prettyNode(n: SwarmNode): string {
  const lines: string[] = [];
  const row = (k: string, v: string | number) => lines.push(`${k}\t${v}`);
  row('ID:', n.ID);
  if (n.Spec?.Name) row('Name:', n.Spec.Name);
  const labels = n.Spec?.Labels ?? {};
  if (Object.keys(labels).length) {
    lines.push('Labels:');
    for (const k of Object.keys(labels).sort()) lines.push(` - ${k}=${labels[k]}`);
  }
  row('Hostname:', n.Description?.Hostname ?? '');
  row('Joined at:', goTimeStringFromRfc3339(n.CreatedAt).toLowerCase());
  lines.push('Status:');
  row(' State:', pretty(n.Status?.State));
  if (n.Status?.Message) row(' Message:', n.Status.Message);
  row(' Availability:', pretty(n.Spec?.Availability));
  if (n.Status?.Addr) row(' Address:', n.Status.Addr);
  if (n.ManagerStatus) {
    lines.push('Manager Status:');
    row(' Address:', n.ManagerStatus.Addr ?? '');
    row(' Raft Status:', pretty(n.ManagerStatus.Reachability));
    row(' Leader:', n.ManagerStatus.Leader ? 'Yes' : 'No');
  }
  lines.push('Platform:');
  row(' Operating System:', n.Description?.Platform?.OS ?? '');
  row(' Architecture:', n.Description?.Platform?.Architecture ?? '');
  lines.push('Resources:');
  row(' CPUs:', (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9);
  row(' Memory:', bytesSize(n.Description?.Resources?.MemoryBytes ?? 0));
  const plugins = n.Description?.Engine?.Plugins ?? [];
  if (plugins.length) {
    lines.push('Plugins:');
    const byType = new Map<string, string[]>();
    for (const pl of plugins) byType.set(pl.Type, [...(byType.get(pl.Type) ?? []), pl.Name]);
    for (const t of [...byType.keys()].sort()) row(`  ${t}:`, byType.get(t)!.join(', '));
  }
  row('Engine Version:', n.Description?.Engine?.EngineVersion ?? '');
  const engineLabels = n.Description?.Engine?.Labels ?? {};
  if (Object.keys(engineLabels).length) {
    lines.push('Engine Labels:');
    for (const k of Object.keys(engineLabels).sort()) lines.push(` - ${k}=${engineLabels[k]}`);
  }
  const tls = n.Description?.TLSInfo;
  if (tls) {
    lines.push('TLS Info:');
    lines.push(' TrustRoot:');
    lines.push((tls.TrustRoot ?? '').replace(/\n$/, ''));
    row(' Issuer Subject:', tls.CertIssuerSubject ?? '');
    row(' Issuer Public Key:', tls.CertIssuerPublicKey ?? '');
  }
  return alignColumns(lines.join('\n') + '\n').replace(/\n$/, '');
}

export const nodeInspect: CommandSpec = {
  usage: '[OPTIONS] self|NODE [NODE...]',
  summary: 'Display detailed information on one or more nodes',
  args: { min: 1 },
  flags: [
    { name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates", default: '' },
    boolFlag('pretty', 'Print the information in a human friendly format'),
  ],
  async run(ctx, p) {
    const format = p.values.format as string;
    const asPretty = !!p.values.pretty || format === 'pretty';
    if (p.values.pretty && format && format !== 'pretty') throw new StatusError('--format is incompatible with human friendly format', 1);
    const refs: string[] = [];
    for (const ref of p.args) refs.push(await resolveNodeRef(ctx, ref));
    return inspectObjects(ctx, refs, nodePath, format, asPretty, prettyNode, (ref) => `Error: No such node: ${ref}`);
  },
};

// ---------------------------------------------------------------- update / promote / demote

/**
 * Reads the node, lets `change` edit a copy of its Spec, and sends it back at the
 * version read. `change` may return false: nothing to do.
 */
async function updateNode(ctx: CommandContext, ref: string, change: (spec: SwarmNode['Spec']) => boolean | void): Promise<boolean> {
  const node = await getNode(ctx, ref);
  const spec = structuredClone(node.Spec ?? {});
  if (change(spec) === false) return false;
  await ctx.client().call('POST', `${nodePath(node.ID)}/update`, { query: { version: String(node.Version.Index) }, body: spec });
  return true;
}

export const nodeUpdate: CommandSpec = {
  usage: '[OPTIONS] NODE',
  summary: 'Update a node',
  args: { min: 1, max: 1 },
  flags: [
    strFlag('availability', 'Availability of the node ("active"|"pause"|"drain")'),
    listFlag('label-add', 'Add or update a node label ("key=value")'),
    listFlag('label-rm', 'Remove a node label if exists'),
    strFlag('role', 'Role of the node ("worker"|"manager")'),
  ],
  async run(ctx, p) {
    const v = p.values;
    const ref = p.args[0];
    const availability = v.availability as string;
    const role = v.role as string;
    if (p.changed.has('availability') && !['active', 'pause', 'drain'].includes(availability.toLowerCase())) {
      throw new StatusError(`invalid availability "${availability}", only active, pause and drain are supported`, 1);
    }
    if (p.changed.has('role') && !['worker', 'manager'].includes(role.toLowerCase())) {
      throw new StatusError(`invalid role "${role}", only worker and manager are supported`, 1);
    }
    await updateNode(ctx, ref, (spec) => {
      if (p.changed.has('availability')) spec.Availability = availability.toLowerCase();
      if (p.changed.has('role')) spec.Role = role.toLowerCase();
      const adds = v['label-add'] as string[];
      const rms = v['label-rm'] as string[];
      if (adds.length || rms.length) {
        const labels = { ...(spec.Labels ?? {}) };
        for (const l of adds) {
          const eq = l.indexOf('=');
          labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
        }
        for (const k of rms) {
          if (!(k in labels)) throw new StatusError(`key ${k} doesn't exist in node's labels`, 1);
          delete labels[k];
        }
        spec.Labels = labels;
      }
    });
    ctx.out(`${ref}\n`);
    return 0;
  },
};

async function changeRole(ctx: CommandContext, refs: readonly string[], role: 'manager' | 'worker'): Promise<number> {
  let status = 0;
  for (const ref of refs) {
    try {
      const changed = await updateNode(ctx, ref, (spec) => {
        if (spec.Role === role) return false;
        spec.Role = role;
      });
      if (!changed) ctx.out(role === 'manager' ? `Node ${ref} is already a manager.\n` : `Node ${ref} is already a worker.\n`);
      else ctx.out(role === 'manager' ? `Node ${ref} promoted to a manager in the swarm.\n` : `Manager ${ref} demoted in the swarm.\n`);
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
  args: { min: 1 },
  flags: [],
  run: (ctx, p) => changeRole(ctx, p.args, 'manager'),
};

export const nodeDemote: CommandSpec = {
  usage: 'NODE [NODE...]',
  summary: 'Demote one or more nodes from manager in the swarm',
  args: { min: 1 },
  flags: [],
  run: (ctx, p) => changeRole(ctx, p.args, 'worker'),
};

// ---------------------------------------------------------------- rm

export const nodeRm: CommandSpec = {
  usage: '[OPTIONS] NODE [NODE...]',
  summary: 'Remove one or more nodes from the swarm',
  aliases: ['node rm', 'node remove'],
  args: { min: 1 },
  flags: [boolFlag('force', 'Force remove a node from the swarm', 'f')],
  run: (ctx, p) => removeEach(ctx, p.args, nodePath, { force: !!p.values.force }),
};

// ---------------------------------------------------------------- ps

export const nodePs: CommandSpec = {
  usage: '[OPTIONS] [NODE...]',
  summary: 'List tasks running on one or more nodes, defaults to current node',
  args: {},
  flags: [
    { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
    { name: 'format', type: 'string', help: 'Pretty-print tasks using a Go template', default: '' },
    boolFlag('no-resolve', 'Do not map IDs to Names'),
    boolFlag('no-trunc', 'Do not truncate output'),
    boolFlag('quiet', 'Only display task IDs', 'q'),
  ],
  async run(ctx, p) {
    const refs = p.args.length ? p.args : ['self'];
    const tasks: Task[] = [];
    const errors: string[] = [];
    const userFilters = filtersJson(p.values.filter as string[]);
    for (const ref of refs) {
      try {
        const node = await getNode(ctx, ref);
        const filters = { ...(userFilters ? (JSON.parse(userFilters) as Record<string, string[]>) : {}), node: [node.ID] };
        tasks.push(...((await ctx.client().call<Task[] | null>('GET', '/tasks', { query: { filters: JSON.stringify(filters) } })) ?? []));
      } catch (e) {
        errors.push(describeError(e));
      }
    }
    if (tasks.length || !errors.length) {
      const trunc = !p.values['no-trunc'];
      const prepared = prepareFormat(taskFormat(p.values.format as string, !!p.values.quiet), taskListFormat);
      ctx.out(renderList(prepared, await taskRows(ctx, tasks, trunc, !p.values['no-resolve']), taskListFormat));
    }
    if (errors.length) throw new StatusError(errors.join('\n'), 1);
    return 0;
  },
};
