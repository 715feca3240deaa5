/** `berth ps` / `berth container ls`. */
import type { CommandSpec } from '../command';
import { formatFlagHelp, validateFilter, filtersJson } from '../command';
import { parseInt64 } from '../flags';
import { prepareFormat, renderList, templateFailure } from '../format/render';
import { ContainerContext, ContainerSummary, containerListFormat } from '../format/containers';

export const ps: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List containers',
  aliases: ['container ls', 'container list', 'container ps', 'ps'],
  args: { max: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
    { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
    { name: 'last', short: 'n', type: 'int', help: 'Show n last created containers (includes all states)', default: -1, parse: (v) => parseInt64(v) },
    { name: 'latest', short: 'l', type: 'bool', help: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes' },
  ],
  async run(ctx, p) {
    const quiet = p.values.quiet as boolean;
    let format = p.values.format as string;
    if (format === '' || format === 'table') format = quiet ? '{{.ID}}' : 'table';
    const spec = containerListFormat(p.values.size as boolean);
    const prepared = prepareFormat(format, spec);
    // Fail on unknown fields before asking the daemon, as docker does.
    try {
      prepared.template.execute(new ContainerContext({ Id: '' }, true));
    } catch (e) {
      throw templateFailure(e);
    }
    let last = p.values.last as number;
    if (p.values.latest && last === -1) last = 1;
    const wantSize = (p.values.size as boolean) || /\.Size\b/.test(format);
    const list = await ctx.client().call<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: p.values.all as boolean,
        limit: last > 0 ? last : undefined,
        size: wantSize,
        filters: filtersJson(p.values.filter as string[]),
      },
    });
    const trunc = !(p.values['no-trunc'] as boolean);
    const now = Date.now();
    ctx.out(renderList(prepared, (list ?? []).map((c) => new ContainerContext(c, trunc, now)), spec));
    return 0;
  },
};
