/**
 * `berth dashboard`: prints a one-time login link to berthd's web dashboard. The token comes
 * over the Engine API socket (POST /berth/dashboard/login-tokens), so only who can reach the
 * socket gets one; the link works once, for two minutes.
 */
import type { CommandSpec } from '../command';

export const dashboard: CommandSpec = {
  usage: '',
  summary: 'Print a one-time login link to the web dashboard',
  args: { max: 0 },
  flags: [],
  async run(ctx) {
    const r = await ctx.client().call<{ URL: string }>('POST', '/berth/dashboard/login-tokens');
    ctx.out(`${r.URL}\n`);
    return 0;
  },
};
