/**
 * volume create, ls and rm (volume inspect is with the other inspect commands,
 * volume prune with the other prune commands). Flags, messages and exit
 * statuses are docker's; the daemon does the work through the /volumes endpoints.
 * Swarm cluster-volume flags are left out: berth has no swarm, and docker hides
 * them too when its daemon is not a swarm manager.
 */
import type { CommandSpec } from '../command';
import { formatFlagHelp, validateFilter, filtersJson } from '../command';
import { StatusError } from '../errors';
import { prepareFormat, renderList } from '../format/render';
import { VolumeContext, VolumeSummary, volumeFormat, volumeListFormat } from '../format/volumes';
import { naturalCompare } from '../format/strings';
import { keyValueMap, validateLabel } from '../opts/values';
import { describeError } from './shared';

/** The client's check before a request naming a volume: names are trimmed and may not be empty. */
function volumePath(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') throw new Error('invalid volume name or ID: value is empty');
  return `/volumes/${encodeURIComponent(trimmed)}`;
}

// ---------------------------------------------------------------- create

export const volumeCreate: CommandSpec = {
  usage: '[OPTIONS] [VOLUME]',
  summary: 'Create a volume',
  args: { max: 1 },
  flags: [
    { name: 'driver', short: 'd', type: 'string', help: 'Specify volume driver name', default: 'local' },
    { name: 'label', type: 'list', help: 'Set metadata for a volume', parse: validateLabel },
    { name: 'name', type: 'string', help: 'Specify volume name', default: '', hidden: true },
    { name: 'opt', short: 'o', type: 'map', help: 'Set driver specific options', defaultText: 'map[]' },
  ],
  async run(ctx, p) {
    let name = p.values.name as string;
    if (p.args.length === 1) {
      if (name !== '') throw new StatusError('conflicting options: cannot specify a volume-name through both --name and as a positional arg', 1);
      name = p.args[0];
    }
    // Empty fields are left out, as docker's client encodes the request.
    const body: Record<string, unknown> = {};
    const driver = p.values.driver as string;
    if (driver) body.Driver = driver;
    const opts = keyValueMap(p.values.opt as string[]);
    if (Object.keys(opts).length) body.DriverOpts = opts;
    const labels = keyValueMap(p.values.label as string[]);
    if (Object.keys(labels).length) body.Labels = labels;
    if (name) body.Name = name;
    const vol = await ctx.client().call<VolumeSummary>('POST', '/volumes/create', { body });
    ctx.out(`${vol?.Name ?? ''}\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- ls

export const volumeLs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List volumes',
  aliases: ['volume ls', 'volume list'],
  args: { max: 0 },
  flags: [
    { name: 'filter', short: 'f', type: 'filter', help: 'Provide filter values (e.g. "dangling=true")', parse: validateFilter },
    { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display volume names' },
  ],
  async run(ctx, p) {
    const prepared = prepareFormat(volumeFormat(p.values.format as string, !!p.values.quiet), volumeListFormat);
    const res = await ctx.client().call<{ Volumes?: VolumeSummary[] | null; Warnings?: string[] | null } | null>('GET', '/volumes', {
      query: { filters: filtersJson(p.values.filter as string[]) },
    });
    const volumes = [...(res?.Volumes ?? [])].sort((a, b) => naturalCompare(a.Name ?? '', b.Name ?? ''));
    ctx.out(renderList(prepared, volumes.map((v) => new VolumeContext(v)), volumeListFormat));
    return 0;
  },
};

// ---------------------------------------------------------------- rm

export const volumeRm: CommandSpec = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  summary: 'Remove one or more volumes',
  aliases: ['volume rm', 'volume remove'],
  args: { min: 1 },
  flags: [{ name: 'force', short: 'f', type: 'bool', help: 'Force the removal of one or more volumes' }],
  async run(ctx, p) {
    const client = ctx.client();
    const errors: string[] = [];
    for (const name of p.args) {
      try {
        await client.call('DELETE', volumePath(name), { query: { force: !!p.values.force } });
      } catch (e) {
        errors.push(describeError(e));
        continue;
      }
      ctx.out(`${name}\n`);
    }
    // docker reports the failures together once every name has been tried.
    if (errors.length) {
      ctx.err(`${errors.join('\n')}\n`);
      return 1;
    }
    return 0;
  },
};
