/** `berth top`: the container's processes, as the daemon's `ps` lists them. */
import type { CommandSpec } from '../command';
import { alignColumns } from '../format/tabwriter';

export const top: CommandSpec = {
  usage: 'CONTAINER [ps OPTIONS]',
  summary: 'Display the running processes of a container',
  aliases: ['container top', 'top'],
  // everything after the container is for ps, dashes included
  interspersed: false,
  args: { min: 1 },
  flags: [],
  async run(ctx, p) {
    const [container, ...psArgs] = p.args;
    const list = await ctx.client().call<{ Titles?: string[] | null; Processes?: string[][] | null }>('GET', `/containers/${container}/top`, {
      query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined },
    });
    const lines = [(list.Titles ?? []).join('\t'), ...(list.Processes ?? []).map((row) => row.join('\t'))];
    // docker's table here is wider than its lists: columns at least 20 wide
    ctx.out(alignColumns(lines.map((l) => `${l}\n`).join(''), { minWidth: 20, padding: 3 }));
    return 0;
  },
};
