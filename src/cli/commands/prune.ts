/**
 * Pruning: one function per kind of object (containers, networks, volumes,
 * images, build cache), each calling its /…/prune endpoint and returning what
 * docker prints for it; the `prune` commands of each group, `builder prune` and
 * `system prune` are built from them. Texts, filters and exit statuses are
 * docker's. A "no" at the prompt ends the command quietly with status 0.
 */
import type { CommandContext, CommandSpec } from '../command';
import { validateFilter, filtersJson } from '../command';
import { StatusError } from '../errors';
import { parseMemBytes } from '../opts/values';
import { naturalCompare } from '../format/strings';
import { humanSize } from '../../common/units';
import { confirm, confirmPrompt } from './shared';

/** What one prune did: the bytes freed and the report docker prints ("" when nothing went). */
export interface PruneResult {
  spaceReclaimed: number;
  output: string;
}

// The report bodies of the prune endpoints, the fields read here.
interface ContainersPruneReport {
  ContainersDeleted?: string[] | null;
  SpaceReclaimed?: number;
}
interface NetworksPruneReport {
  NetworksDeleted?: string[] | null;
}
interface VolumesPruneReport {
  VolumesDeleted?: string[] | null;
  SpaceReclaimed?: number;
}
interface ImagesPruneReport {
  ImagesDeleted?: { Untagged?: string; Deleted?: string }[] | null;
  SpaceReclaimed?: number;
}
interface BuildCachePruneReport {
  CachesDeleted?: string[] | null;
  SpaceReclaimed?: number;
}

/** The keys of --filter values, as the API gets them ("Label=x" → "label"). */
function filterKeys(filters: readonly string[]): Set<string> {
  return new Set(filters.map((f) => f.slice(0, f.indexOf('=')).trim().toLowerCase()));
}

const listing = (title: string, lines: readonly string[]) => `${title}\n${lines.map((l) => `${l}\n`).join('')}`;

/** Docker's go-units HumanSize (4 significant digits), as every "Total reclaimed space" is written. */
export const reclaimedLine = (bytes: number) => `Total reclaimed space: ${humanSize(bytes, 4)}\n`;

export async function pruneContainers(ctx: CommandContext, filters: readonly string[]): Promise<PruneResult> {
  const res = await ctx.client().call<ContainersPruneReport | null>('POST', '/containers/prune', { query: { filters: filtersJson(filters) } });
  const deleted = res?.ContainersDeleted ?? [];
  if (!deleted.length) return { spaceReclaimed: 0, output: '' };
  return { spaceReclaimed: res?.SpaceReclaimed ?? 0, output: listing('Deleted Containers:', deleted) };
}

export async function pruneNetworks(ctx: CommandContext, filters: readonly string[]): Promise<PruneResult> {
  const res = await ctx.client().call<NetworksPruneReport | null>('POST', '/networks/prune', { query: { filters: filtersJson(filters) } });
  const deleted = res?.NetworksDeleted ?? [];
  return { spaceReclaimed: 0, output: deleted.length ? listing('Deleted Networks:', deleted) : '' };
}

/** Anonymous volumes only, unless `all` (sent as the filter all=true). */
export async function pruneVolumes(ctx: CommandContext, filters: readonly string[], all: boolean): Promise<PruneResult> {
  const f = all ? [...filters, 'all=true'] : filters;
  const res = await ctx.client().call<VolumesPruneReport | null>('POST', '/volumes/prune', { query: { filters: filtersJson(f) } });
  const deleted = res?.VolumesDeleted ?? [];
  if (!deleted.length) return { spaceReclaimed: 0, output: '' };
  return { spaceReclaimed: res?.SpaceReclaimed ?? 0, output: listing('Deleted Volumes:', deleted) };
}

/** Dangling images only (dangling=true), or with `all` every unused one (dangling=false). */
export async function pruneImages(ctx: CommandContext, filters: readonly string[], all: boolean): Promise<PruneResult> {
  const f = [...filters, `dangling=${all ? 'false' : 'true'}`];
  const res = await ctx.client().call<ImagesPruneReport | null>('POST', '/images/prune', { query: { filters: filtersJson(f) } });
  const deleted = res?.ImagesDeleted ?? [];
  if (!deleted.length) return { spaceReclaimed: 0, output: '' };
  // An entry is an untagging or a deletion; docker prints the untagging when an entry has both.
  const lines = deleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`));
  return { spaceReclaimed: res?.SpaceReclaimed ?? 0, output: listing('Deleted Images:', lines) };
}

/** Build cache: dangling records only, or with `all` every unused one; `keepStorage` bytes may stay. */
export async function pruneBuildCache(ctx: CommandContext, filters: readonly string[], all: boolean, keepStorage = 0): Promise<PruneResult> {
  const res = await ctx.client().call<BuildCachePruneReport | null>('POST', '/build/prune', {
    query: {
      all,
      'keep-storage': keepStorage || undefined,
      'reserved-space': keepStorage || undefined,
      filters: filtersJson(filters),
    },
  });
  const deleted = res?.CachesDeleted ?? [];
  return { spaceReclaimed: res?.SpaceReclaimed ?? 0, output: deleted.length ? listing('Deleted build cache objects:', deleted) : '' };
}

/** Prints a prune's report the way docker does: the listing and a blank line, then the total. */
function printResult(ctx: CommandContext, r: PruneResult): void {
  if (r.output) ctx.out(`${r.output}\n`);
  ctx.out(reclaimedLine(r.spaceReclaimed));
}

const filterFlag = (example: string) => ({ name: 'filter', type: 'filter', help: `Provide filter values (e.g. "${example}")`, parse: validateFilter });
const forceFlag = { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' };

// ---------------------------------------------------------------- volume prune

export const volumePrune: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Remove unused local volumes',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused volumes, not just anonymous ones' },
    filterFlag('label=<label>'),
    forceFlag,
  ],
  async run(ctx, p) {
    const all = !!p.values.all;
    const filters = p.values.filter as string[];
    if (all && filterKeys(filters).has('all')) throw new StatusError('conflicting options: cannot specify both --all and --filter all=1', 1);
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!p.values.force && !(await confirm(ctx, warning))) return 0;
    printResult(ctx, await pruneVolumes(ctx, filters, all));
    return 0;
  },
};

// ---------------------------------------------------------------- builder prune

export const builderPrune: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Remove build cache',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused build cache, not just dangling ones' },
    filterFlag('until=24h'),
    forceFlag,
    { name: 'keep-storage', type: 'bytes', help: 'Amount of disk space to keep for cache', default: 0, defaultText: '0', parse: parseMemBytes },
  ],
  async run(ctx, p) {
    const all = !!p.values.all;
    const warning = all
      ? 'WARNING! This will remove all build cache. Are you sure you want to continue?'
      : 'WARNING! This will remove all dangling build cache. Are you sure you want to continue?';
    if (!p.values.force && !(await confirmPrompt(ctx, warning))) return 0;
    printResult(ctx, await pruneBuildCache(ctx, p.values.filter as string[], all, p.values['keep-storage'] as number));
    return 0;
  },
};

// ---------------------------------------------------------------- system prune

/** docker's confirmation text: what goes, then the label/until filters that apply, if any. */
export function systemPruneWarning(all: boolean, volumes: boolean, filters: readonly string[]): string {
  const what = ['all stopped containers', 'all networks not used by at least one container'];
  if (volumes) what.push('all anonymous volumes not used by at least one container');
  what.push(all ? 'all images without at least one container associated to them' : 'all dangling images');
  what.push(all ? 'all build cache' : 'unused build cache');
  let s = `WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join('')}`;
  const shown: string[] = [];
  for (const key of ['label', 'label!', 'until']) {
    for (const f of filters) {
      const eq = f.indexOf('=');
      if (f.slice(0, eq).trim().toLowerCase() === key) shown.push(`${key}=${f.slice(eq + 1).trim()}`);
    }
  }
  if (shown.length) {
    s += '\n  Items to be pruned will be filtered with:\n';
    s += [...new Set(shown)]
      .sort(naturalCompare)
      .map((f) => `  - ${f}\n`)
      .join('');
  }
  return `${s}\nAre you sure you want to continue?`;
}

export const systemPrune: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Remove unused data',
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images not just dangling ones' },
    filterFlag('label=<key>=<value>'),
    forceFlag,
    { name: 'volumes', type: 'bool', help: 'Prune anonymous volumes' },
  ],
  async run(ctx, p) {
    const all = !!p.values.all;
    const volumes = !!p.values.volumes;
    const filters = p.values.filter as string[];
    if (volumes && filterKeys(filters).has('until')) throw new StatusError('ERROR: The "until" filter is not supported with "--volumes"', 1);
    if (!p.values.force && !(await confirmPrompt(ctx, systemPruneWarning(all, volumes, filters)))) return 0;
    const steps: (() => Promise<PruneResult>)[] = [
      () => pruneContainers(ctx, filters),
      () => pruneNetworks(ctx, filters),
      ...(volumes ? [() => pruneVolumes(ctx, filters, false)] : []),
      () => pruneImages(ctx, filters, all),
      () => pruneBuildCache(ctx, filters, all),
    ];
    let total = 0;
    for (const step of steps) {
      const r = await step();
      total += r.spaceReclaimed;
      if (r.output) ctx.out(`${r.output}\n`);
    }
    ctx.out(reclaimedLine(total));
    return 0;
  },
};

// ---------------------------------------------------------------- container / image prune

export const containerPrune: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Remove all stopped containers',
  args: { max: 0 },
  flags: [filterFlag('until=<timestamp>'), forceFlag],
  async run(ctx, p) {
    if (!p.values.force && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) return 0;
    printResult(ctx, await pruneContainers(ctx, p.values.filter as string[]));
    return 0;
  },
};

export const imagePrune: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Remove unused images',
  args: { max: 0 },
  flags: [{ name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' }, filterFlag('until=<timestamp>'), forceFlag],
  async run(ctx, p) {
    const all = !!p.values.all;
    const warning = all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.';
    if (!p.values.force && !(await confirm(ctx, warning))) return 0;
    printResult(ctx, await pruneImages(ctx, p.values.filter as string[], all));
    return 0;
  },
};
