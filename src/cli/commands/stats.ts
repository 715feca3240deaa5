/** `berth stats`: live resource use of containers, with docker's columns and formulas. */
import type { CommandSpec, CommandContext } from '../command';
import { formatFlagHelp } from '../command';
import { prepareFormat, renderList, templateFailure, type ListFormat } from '../format/render';
import { bytesSize, humanSize } from '../../common/units';
import { cpuPercent, memoryUsage, type ContainerStats } from '../../container/stats';
import { describeError } from './shared';

const statsFormat: ListFormat = {
  defaultTable: 'table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}',
  headers: { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
};

/** One row: the fields docker's stats formatter offers, from one sample of the API. */
export class StatsContext {
  constructor(
    private readonly s: ContainerStats,
    private readonly asked: string,
    private readonly trunc: boolean,
  ) {}

  private get running(): boolean {
    return this.s.read !== '0001-01-01T00:00:00Z';
  }

  ID(): string {
    return this.trunc ? this.s.id.slice(0, 12) : this.s.id;
  }
  Container(): string {
    return this.asked;
  }
  Name(): string {
    return this.s.name.replace(/^\//, '') || '--';
  }
  CPUPerc(): string {
    return this.running ? `${cpuPercent(this.s.cpu_stats, this.s.precpu_stats).toFixed(2)}%` : '0.00%';
  }
  MemUsage(): string {
    return `${bytesSize(memoryUsage(this.s.memory_stats))} / ${bytesSize(this.s.memory_stats.limit ?? 0)}`;
  }
  MemPerc(): string {
    const limit = this.s.memory_stats.limit ?? 0;
    return `${(limit > 0 ? (memoryUsage(this.s.memory_stats) / limit) * 100 : 0).toFixed(2)}%`;
  }
  NetIO(): string {
    let rx = 0;
    let tx = 0;
    for (const n of Object.values(this.s.networks ?? {})) {
      rx += n.rx_bytes;
      tx += n.tx_bytes;
    }
    return `${humanSize(rx)} / ${humanSize(tx)}`;
  }
  BlockIO(): string {
    let read = 0;
    let write = 0;
    for (const e of this.s.blkio_stats.io_service_bytes_recursive ?? []) {
      if (e.op === 'read') read += e.value;
      if (e.op === 'write') write += e.value;
    }
    return `${humanSize(read)} / ${humanSize(write)}`;
  }
  PIDs(): string {
    return String(this.s.pids_stats.current ?? 0);
  }
}

async function sampleOnce(ctx: CommandContext, name: string): Promise<ContainerStats> {
  return ctx.client().call<ContainerStats>('GET', `/containers/${encodeURIComponent(name)}/stats`, { query: { stream: '0' } });
}

export const stats: CommandSpec = {
  usage: '[OPTIONS] [CONTAINER...]',
  summary: 'Display a live stream of container(s) resource usage statistics',
  aliases: ['container stats', 'stats'],
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
    { name: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
  ],
  async run(ctx, p) {
    const prepared = prepareFormat((p.values.format as string) || 'table', statsFormat);
    try {
      prepared.template.execute(new StatsContext(zeroSample(), '', true));
    } catch (e) {
      throw templateFailure(e);
    }
    const trunc = !(p.values['no-trunc'] as boolean);
    const names = async (): Promise<string[]> => {
      if (p.args.length) return p.args;
      const list = await ctx.client().call<{ Id: string }[]>('GET', '/containers/json', { query: { all: p.values.all as boolean } });
      return (list ?? []).map((c) => c.Id);
    };
    const render = async (): Promise<{ text: string; failed: boolean }> => {
      let failed = false;
      // each sample takes a second (for the CPU delta): all containers at once
      const samples = await Promise.all(
        (await names()).map(async (name) => {
          try {
            return new StatsContext(await sampleOnce(ctx, name), name, trunc);
          } catch (e) {
            if (p.args.length) {
              ctx.err(`${describeError(e)}\n`);
              failed = true;
            }
            return undefined;
          }
        }),
      );
      const rows = samples.filter((r): r is StatsContext => r !== undefined);
      return { text: renderList(prepared, rows, statsFormat), failed };
    };
    if (p.values['no-stream']) {
      const { text, failed } = await render();
      ctx.out(text);
      return failed ? 1 : 0;
    }
    // docker redraws the whole table each second until interrupted
    for (;;) {
      const { text, failed } = await render();
      if (failed) return 1;
      ctx.out(`\x1b[2J\x1b[H${text}`);
    }
  },
};

function zeroSample(): ContainerStats {
  const cpu = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return { name: '', id: '', read: '', preread: '', pids_stats: {}, blkio_stats: {}, num_procs: 0, storage_stats: {}, cpu_stats: cpu, precpu_stats: cpu, memory_stats: {} };
}
