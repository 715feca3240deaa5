/** `berth logs`. */
import type { CommandSpec } from '../command';
import { FrameDemuxer } from '../../client/frames';
import { getTimestamp } from '../../common/time';
import { StatusError } from '../errors';

/**
 * --since/--until: a Go duration relative to now ("42m"), a Unix timestamp, or a
 * date/time; sent to the API as seconds[.nanoseconds] (docker's GetTimestamp). Unset stays unset.
 */
export function apiTimestamp(value: string, nowMs = Date.now()): string {
  return value === '' ? '' : getTimestamp(value, nowMs);
}

export const logs: CommandSpec = {
  usage: '[OPTIONS] CONTAINER',
  summary: 'Fetch the logs of a container',
  aliases: ['container logs', 'logs'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'details', type: 'bool', help: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', type: 'bool', help: 'Follow log output' },
    { name: 'since', type: 'string', help: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)', default: '' },
    { name: 'tail', short: 'n', type: 'string', help: 'Number of lines to show from the end of the logs', default: 'all' },
    { name: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
    { name: 'until', type: 'string', help: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)', default: '' },
  ],
  async run(ctx, p) {
    const client = ctx.client();
    let since: string, until: string;
    try {
      since = apiTimestamp(p.values.since as string);
      until = apiTimestamp(p.values.until as string);
    } catch (e) {
      throw new StatusError((e as Error).message, 1);
    }
    // Whether the stream is multiplexed depends on the container's TTY, which only inspect tells.
    const info = await client.call<{ Id: string; Config?: { Tty?: boolean } }>('GET', `/containers/${p.args[0]}/json`);
    const stream = await client.stream('GET', `/containers/${info.Id}/logs`, {
      query: {
        stdout: true,
        stderr: true,
        since: since || undefined,
        until: until || undefined,
        timestamps: p.values.timestamps as boolean,
        follow: p.values.follow as boolean,
        tail: p.values.tail as string,
        details: p.values.details as boolean,
      },
    });
    const tty = !!info.Config?.Tty;
    const demux = tty
      ? undefined
      : new FrameDemuxer((s, payload) => {
          if (s === 2 || s === 3) ctx.stderr.write(payload);
          else ctx.stdout.write(payload);
        });
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => (demux ? demux.push(c) : ctx.stdout.write(c)));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return 0;
  },
};
