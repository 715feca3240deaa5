/** `berth stats`: live resource use of containers, with docker's columns and formulas. */
import type { CommandSpec, CommandContext } from '../command';
import { formatFlagHelp } from '../command';
import { prepareFormat, renderList, templateFailure, type ListFormat } from '../format/render';
import { bytesSize, humanSize } from '../../common/units';
import { ZERO_TIME, blockIo, cpuPercent, memoryUsage, networkIo, type ContainerStats } from '../../container/stats';
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
    return this.s.read !== ZERO_TIME;
  }

  ID(): string {
    return this.trunc ? this.s.id.slice(0, 12) : this.s.id;
  }
  Container(): string {
    return this.asked;
  }
  Name(): string {
    return (this.s.name ?? '').replace(/^\//, '') || '--';
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
    const { rx, tx } = networkIo(this.s);
    return `${humanSize(rx)} / ${humanSize(tx)}`;
  }
  BlockIO(): string {
    const { read, write } = blockIo(this.s);
    return `${humanSize(read)} / ${humanSize(write)}`;
  }
  PIDs(): string {
    return String(this.s.pids_stats?.current ?? 0);
  }

  /** `{{json .}}`: every field, keys sorted, as docker marshals its row. */
  toJSON(): Record<string, string> {
    return {
      BlockIO: this.BlockIO(),
      CPUPerc: this.CPUPerc(),
      Container: this.Container(),
      ID: this.ID(),
      MemPerc: this.MemPerc(),
      MemUsage: this.MemUsage(),
      Name: this.Name(),
      NetIO: this.NetIO(),
      PIDs: this.PIDs(),
    };
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
    const named = p.args.length > 0;
    // listed containers go by their short ID, as docker names them in the Container column
    const names = async (): Promise<string[]> => {
      if (named) return p.args;
      const list = await ctx.client().call<{ Id: string }[]>('GET', '/containers/json', { query: { all: p.values.all as boolean } });
      return (list ?? []).map((c) => c.Id.slice(0, 12));
    };
    /** One table of all containers; each sample takes a second (for the CPU delta), so all at once. */
    const render = async (): Promise<string | undefined> => {
      const errors: string[] = [];
      const samples = await Promise.all(
        (await names()).map(async (name) => {
          try {
            return new StatsContext(await sampleOnce(ctx, name), name, trunc);
          } catch (e) {
            // a listed container removed meanwhile is just left out
            if (named) errors.push(describeError(e));
            return undefined;
          }
        }),
      );
      if (errors.length) {
        ctx.err(errors.map((m) => `${m}\n`).join(''));
        return undefined;
      }
      return renderList(prepared, samples.filter((r): r is StatsContext => r !== undefined), statsFormat);
    };
    if (p.values['no-stream']) {
      const text = await render();
      if (text === undefined) return 1;
      ctx.out(text);
      return 0;
    }
    // docker redraws the whole table each second until interrupted (Ctrl-C ends the process)
    const terminal = ctx.stdout.isTTY === true;
    for (;;) {
      const started = Date.now();
      const text = await render();
      if (text === undefined) return 1;
      ctx.out(terminal ? `\x1b[2J\x1b[H${text}` : text);
      // stopped containers answer at once: never redraw faster than once a second
      await new Promise((r) => setTimeout(r, Math.max(0, REDRAW_MS - (Date.now() - started))));
    }
  },
};

const REDRAW_MS = 1000;

function zeroSample(): ContainerStats {
  const cpu = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return { read: '', preread: '', pids_stats: {}, blkio_stats: {}, num_procs: 0, storage_stats: {}, cpu_stats: cpu, precpu_stats: cpu, memory_stats: {}, name: '', id: '' };
}
