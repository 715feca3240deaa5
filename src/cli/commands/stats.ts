/**
 * `berth stats`: live resource use of containers, with docker's columns and formulas.
 *
 * Like docker's client, it keeps one stats request open per container (stream=true; with
 * --no-stream a single stream=false answer, whose precpu the daemon fills) and draws a
 * table from the latest sample of each. Named containers are all reported or the command
 * fails with their errors; without names it follows the running containers (all with -a),
 * looking at the list again before each redraw. A container whose samples stop coming
 * afterwards shows "--", as in docker.
 */
import type { CommandSpec, CommandContext } from '../command';
import { formatFlagHelp } from '../command';
import { prepareFormat, renderList, templateFailure, type ListFormat } from '../format/render';
import { bytesSize, humanSize } from '../../common/units';
import { readJsonStream } from '../../client/engine';
import { blockIO, cpuPercent, memoryPercent, memoryUsage, networkIO, type ContainerStats } from '../../container/stats';
import { describeError } from './shared';

const statsFormat: ListFormat = {
  defaultTable: 'table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}',
  headers: { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' },
};

/** How often the table is drawn; the daemon sends a sample a second. */
const REDRAW_MS = 1000;
/** A stream that sent nothing for this long counts as failed (docker's client waits 2 s). */
const STALE_MS = 2000;

const percent = (n: number) => `${n.toFixed(2)}%`;

/**
 * One row: the fields docker's stats formatter offers, from one sample of the API.
 * `invalid`: the samples stopped (error, end of stream, silence); figures show "--".
 */
export class StatsContext {
  constructor(
    private readonly s: ContainerStats | undefined,
    private readonly asked: string,
    private readonly trunc: boolean,
    private readonly invalid = false,
  ) {}

  ID(): string {
    const id = this.s?.id ?? '';
    return this.trunc ? id.slice(0, 12) : id;
  }
  Container(): string {
    return this.asked;
  }
  Name(): string {
    const name = this.s?.name ?? '';
    return name.length > 1 ? name.slice(1) : '--';
  }
  CPUPerc(): string {
    if (this.invalid) return '--';
    return percent(this.s ? cpuPercent(this.s.cpu_stats, this.s.precpu_stats) : 0);
  }
  MemUsage(): string {
    if (this.invalid) return '-- / --';
    const m = this.s?.memory_stats ?? {};
    return `${bytesSize(memoryUsage(m))} / ${bytesSize(m.limit ?? 0)}`;
  }
  MemPerc(): string {
    if (this.invalid) return '--';
    return percent(memoryPercent(this.s?.memory_stats ?? {}));
  }
  NetIO(): string {
    if (this.invalid) return '--';
    const n = networkIO(this.s?.networks);
    return `${humanSize(n.rx)} / ${humanSize(n.tx)}`;
  }
  BlockIO(): string {
    if (this.invalid) return '--';
    const b = blockIO(this.s?.blkio_stats);
    return `${humanSize(b.read)} / ${humanSize(b.write)}`;
  }
  PIDs(): string {
    if (this.invalid) return '--';
    return String(this.s?.pids_stats?.current ?? 0);
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

/** One container's stats request: the latest sample, and whether samples still come. */
class Feed {
  latest?: ContainerStats;
  error?: string;
  ended = false;
  private updatedAt = 0;
  private readonly abort = new AbortController();
  /** Settles at the first sample or at the failure of the request. */
  readonly first: Promise<void>;

  constructor(
    ctx: CommandContext,
    readonly container: string,
    private readonly streaming: boolean,
  ) {
    let settle!: () => void;
    this.first = new Promise((resolve) => (settle = resolve));
    const run = async () => {
      const body = await ctx.client().stream('GET', `/containers/${encodeURIComponent(container)}/stats`, {
        query: { stream: streaming ? 'true' : 'false' },
        signal: this.abort.signal,
      });
      await readJsonStream<ContainerStats>(body, (s) => {
        this.latest = s;
        this.updatedAt = Date.now();
        settle();
      });
    };
    run().then(
      () => {
        this.ended = true;
        settle();
      },
      (e: unknown) => {
        if (!this.abort.signal.aborted) this.error = describeError(e);
        this.ended = true;
        settle();
      },
    );
  }

  /** Nothing to show yet: neither a sample nor a failure. */
  get pending(): boolean {
    return !this.latest && !this.ended;
  }

  row(trunc: boolean, now: number): StatsContext {
    // without streaming, the one answer ending is what is expected
    const failed = this.error !== undefined || (this.streaming && (this.ended || now - this.updatedAt > STALE_MS));
    return new StatsContext(this.latest, this.container, trunc, failed);
  }

  stop(): void {
    this.abort.abort();
  }
}

/** Docker 28's redraw on a terminal: cursor home, each line cleared to its end, then the rest of the screen. */
function redraw(table: string): string {
  const lines = table.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return `\x1b[H${lines.map((l) => `${l}\x1b[K\n`).join('')}\x1b[J`;
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
      prepared.template.execute(new StatsContext(undefined, '', true));
    } catch (e) {
      throw templateFailure(e);
    }
    const trunc = !(p.values['no-trunc'] as boolean);
    const streaming = !(p.values['no-stream'] as boolean);
    const named = p.args.length > 0;
    const feeds = new Map<string, Feed>();
    const follow = (container: string) => {
      if (!feeds.has(container)) feeds.set(container, new Feed(ctx, container, streaming));
    };
    /** Without names: the containers listed now (by short ID, as docker names them), and no others. */
    const relist = async () => {
      const list = await ctx.client().call<{ Id: string }[]>('GET', '/containers/json', { query: { all: p.values.all ? '1' : undefined } });
      const now = new Set((list ?? []).map((c) => c.Id.slice(0, 12)));
      for (const [name, feed] of feeds) {
        if (!now.has(name)) {
          feed.stop();
          feeds.delete(name);
        }
      }
      for (const name of now) follow(name);
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      if (named) p.args.forEach(follow);
      else await relist();
      // every container has answered once (or failed) before the first table
      await Promise.all([...feeds.values()].map((f) => f.first));
      if (named) {
        const errors = [...feeds.values()].flatMap((f) => (f.error !== undefined ? [f.error] : []));
        if (errors.length) {
          ctx.err(`${errors.join('\n')}\n`);
          return 1;
        }
      }
      const terminal = ctx.stdout.isTTY === true;
      for (;;) {
        const now = Date.now();
        const rows = [...feeds.values()].filter((f) => !f.pending).map((f) => f.row(trunc, now));
        const table = renderList(prepared, rows, statsFormat);
        if (!streaming) {
          ctx.out(table);
          return 0;
        }
        ctx.out(terminal ? redraw(table) : table);
        // docker redraws until interrupted; a reader that went away ends it too
        await new Promise<void>((resolve) => (timer = setTimeout(resolve, REDRAW_MS)));
        if (ctx.stdout.destroyed || ctx.stdout.writableEnded) return 0;
        if (!named) await relist();
      }
    } finally {
      clearTimeout(timer);
      for (const f of feeds.values()) f.stop();
    }
  },
};
