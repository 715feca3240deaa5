/** `berth update`: new limits and restart policy for containers, applied live by the daemon. */
import type { CommandSpec } from '../command';
import { StatusError } from '../errors';
import { containerFlags } from '../opts/container';
import { parseRestartPolicy } from '../opts/values';
import { forEachName } from './shared';

/** docker update's flags are run's resource flags, under the same names and parsers. */
const FLAG_NAMES = ['blkio-weight', 'cpu-period', 'cpu-quota', 'cpu-rt-period', 'cpu-rt-runtime', 'cpu-shares', 'cpus', 'cpuset-cpus', 'cpuset-mems', 'memory', 'memory-reservation', 'memory-swap', 'pids-limit', 'restart'];

/** flag name → the API field it sets */
const FIELDS: Record<string, string> = {
  'blkio-weight': 'BlkioWeight',
  'cpu-period': 'CpuPeriod',
  'cpu-quota': 'CpuQuota',
  'cpu-rt-period': 'CpuRealtimePeriod',
  'cpu-rt-runtime': 'CpuRealtimeRuntime',
  'cpu-shares': 'CpuShares',
  cpus: 'NanoCpus',
  'cpuset-cpus': 'CpusetCpus',
  'cpuset-mems': 'CpusetMems',
  memory: 'Memory',
  'memory-reservation': 'MemoryReservation',
  'memory-swap': 'MemorySwap',
  'pids-limit': 'PidsLimit',
};

export const update: CommandSpec = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Update configuration of one or more containers',
  aliases: ['container update', 'update'],
  args: { min: 1 },
  flags: FLAG_NAMES.map((name) => {
    const def = containerFlags.find((f) => f.name === name);
    if (!def) throw new Error(`no container flag ${name}`);
    return def;
  }),
  async run(ctx, p) {
    if (p.changed.size === 0) throw new StatusError('You must provide one or more flags when using this command.', 1);
    const body: Record<string, unknown> = {};
    for (const [flag, field] of Object.entries(FIELDS)) {
      if (p.changed.has(flag)) body[field] = p.values[flag];
    }
    if (p.changed.has('restart')) body.RestartPolicy = parseRestartPolicy(p.values.restart as string);
    const client = ctx.client();
    const failed = await forEachName(ctx, p.args, async (name) => {
      const res = await client.call<{ Warnings?: string[] | null }>('POST', `/containers/${encodeURIComponent(name)}/update`, { body });
      for (const w of res.Warnings ?? []) ctx.err(`${w}\n`);
      ctx.out(`${name}\n`);
    });
    return failed.length ? 1 : 0;
  },
};
