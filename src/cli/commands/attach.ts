/** `berth attach`: the terminal joined to a running container's main process. */
import type { CommandSpec } from '../command';
import type { EngineClient } from '../../client/engine';
import { StatusError } from '../errors';
import { parseDetachKeys } from '../opts/values';
import { pumpStreams } from '../attach';
import { consoleSize, enterRawMode, watchTerminalSize } from '../terminal';
import { forwardSignals } from '../signals';

interface AttachInspect {
  Id: string;
  Config: { Tty?: boolean; OpenStdin?: boolean };
  State: { Running?: boolean; Paused?: boolean; Restarting?: boolean; ExitCode?: number };
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The exit status once the stream has ended: the container's, read back from
 * inspect. The stream can end a moment before the daemon has recorded the exit,
 * so a container still shown running is asked again for a short while; one that
 * keeps running was left by a detach the daemon saw (a non-TTY stream), which
 * exits 0 as a detach does.
 */
async function exitStatusAfterStream(client: EngineClient, id: string): Promise<number> {
  for (let i = 0; i < 40; i++) {
    const info = await client.call<AttachInspect>('GET', `/containers/${id}/json`);
    if (!info.State.Running) return info.State.ExitCode ?? 0;
    await delay(50);
  }
  return 0;
}

export const attach: CommandSpec = {
  usage: '[OPTIONS] CONTAINER',
  summary: "Attach local standard input, output, and error streams to a running container",
  aliases: ['container attach', 'attach'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container', default: '' },
    { name: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
    { name: 'sig-proxy', type: 'bool', help: 'Proxy all received signals to the process', default: true },
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const info = await client.call<AttachInspect>('GET', `/containers/${p.args[0]}/json`);
    if (!info.State.Running) throw new StatusError('You cannot attach to a stopped container, start it first', 1);
    if (info.State.Paused) throw new StatusError('You cannot attach to a paused container, unpause it first', 1);
    if (info.State.Restarting) throw new StatusError('You cannot attach to a restarting container, wait until it is running', 1);

    const tty = !!info.Config.Tty;
    const withStdin = !p.values['no-stdin'] && !!info.Config.OpenStdin;
    if (tty && withStdin && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
    const detachKeys = p.values['detach-keys'] as string;
    let detachKeyBytes: Buffer | undefined;
    if (detachKeys) {
      try {
        detachKeyBytes = parseDetachKeys(detachKeys);
      } catch (e) {
        throw new StatusError((e as Error).message, 1);
      }
    }

    const conn = await client.hijack('POST', `/containers/${info.Id}/attach`, {
      query: { stream: true, stdin: withStdin, stdout: true, stderr: true, detachKeys: detachKeys || undefined },
    });
    const restore = tty && withStdin ? enterRawMode(ctx.stdin) : () => undefined;
    const pump = pumpStreams(conn.socket, {
      tty,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      stdin: withStdin ? ctx.stdin : undefined,
      detachKeys: detachKeyBytes,
    });
    const resize = (h: number, w: number) => client.request('POST', `/containers/${info.Id}/resize`, { query: { h, w } }).then((r) => r.buffer(), () => undefined);
    const size = tty ? consoleSize(ctx.stdout) : undefined;
    // As docker does: a size one larger first, then the real one, so that the program in
    // the container sees a change and redraws (a shell shows its prompt again) even when
    // the terminal has the size it had at the last attach.
    if (size) await resize(size[0] + 1, size[1] + 1);
    const stopResize = tty ? watchTerminalSize(ctx.stdout, (h, w) => void resize(h, w)) : () => undefined;
    const stopSignals = p.values['sig-proxy'] && !tty ? forwardSignals(client, info.Id) : () => undefined;
    let detached: boolean;
    try {
      ({ detached } = await pump.done);
    } finally {
      stopResize();
      stopSignals();
      restore();
    }
    // docker attach reports the detach as its error (run -it and start -a do not)
    if (detached) throw new StatusError('read escape sequence', 1);
    return exitStatusAfterStream(client, info.Id);
  },
};
