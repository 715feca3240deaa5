/** `berth rename CONTAINER NEW_NAME`. */
import type { CommandSpec } from '../command';
import { StatusError } from '../errors';

export const rename: CommandSpec = {
  usage: 'CONTAINER NEW_NAME',
  summary: 'Rename a container',
  aliases: ['container rename', 'rename'],
  args: { min: 2, max: 2 },
  flags: [],
  async run(ctx, p) {
    const [container, newName] = p.args.map((a) => a.trim());
    if (!container || !newName) throw new StatusError('Error: Neither old nor new names may be empty', 1);
    await ctx.client().call('POST', `/containers/${encodeURIComponent(container)}/rename`, { query: { name: newName } });
    return 0;
  },
};
