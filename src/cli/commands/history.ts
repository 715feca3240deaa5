/** `berth history`: the layers of an image, newest first, as docker prints them. */
import type { CommandSpec } from '../command';
import { humanDuration, humanSize } from '../../common/units';
import { alignColumns } from '../format/tabwriter';

interface HistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export const history: CommandSpec = {
  usage: '[OPTIONS] IMAGE',
  summary: 'Show the history of an image',
  aliases: ['image history', 'history'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'human', short: 'H', type: 'bool', help: 'Print sizes and dates in human readable format', default: true },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  ],
  async run(ctx, p) {
    const list = await ctx.client().call<HistoryEntry[]>('GET', `/images/${encodeURIComponent(p.args[0])}/history`);
    const noTrunc = p.values['no-trunc'] as boolean;
    const id = (s: string) => (s === '<missing>' || noTrunc ? s : s.replace(/^sha256:/, '').slice(0, 12));
    if (p.values.quiet) {
      for (const h of list) ctx.out(`${id(h.Id)}\n`);
      return 0;
    }
    const human = p.values.human as boolean;
    const rows = [['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']];
    for (const h of list) {
      let by = h.CreatedBy.replace(/\t/g, ' ');
      if (!noTrunc && by.length > 45) by = `${by.slice(0, 44)}…`;
      rows.push([
        id(h.Id),
        human ? `${humanDuration(Date.now() - h.Created * 1000)} ago` : new Date(h.Created * 1000).toISOString(),
        by,
        human ? humanSize(h.Size) : String(h.Size),
        h.Comment,
      ]);
    }
    ctx.out(alignColumns(`${rows.map((r) => r.join('\t')).join('\n')}\n`));
    return 0;
  },
};
