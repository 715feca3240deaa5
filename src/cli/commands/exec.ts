/**
 * `berth exec`: a new process in a running container. An exec instance is
 * created (POST /containers/{id}/exec), then started on a hijacked connection
 * (POST /exec/{id}/start) that carries its stdio; its exit code is read back
 * from GET /exec/{id}/json, which is also how a command that could not be run
 * reports 126 or 127.
 */
import type { CommandSpec } from '../command';
import type { EngineClient } from '../../client/engine';
import { StatusError } from '../errors';
import { parseDetachKeys, readKeyValueFile, validateEnv } from '../opts/values';
import { pumpStreams } from '../attach';
import { sessionIO } from '../session';
import { consoleSize, enterRawMode, watchTerminalSize } from '../terminal';

interface ExecInspect {
  Running?: boolean;
  ExitCode?: number | null;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The exec's exit code once its output has ended. The daemon may close the
 * stream a moment before it records the exit, so a still-running exec is asked
 * again briefly; one that keeps running was detached from by the daemon.
 */
async function execExitCode(client: EngineClient, execId: string): Promise<number> {
  for (let i = 0; i < 40; i++) {
    const info = await client.call<ExecInspect>('GET', `/exec/${execId}/json`);
    if (!info.Running) return info.ExitCode ?? 0;
    await delay(50);
  }
  return 0;
}

export const exec: CommandSpec = {
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  summary: 'Execute a command in a running container',
  aliases: ['container exec', 'exec'],
  interspersed: false,
  args: { min: 2 },
  flags: [
    { name: 'detach', short: 'd', type: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container', default: '' },
    { name: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
    { name: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'privileged', type: 'bool', help: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', type: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")', default: '' },
    { name: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container', default: '' },
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const [container, ...cmd] = p.args;
    const detach = p.values.detach as boolean;
    const tty = p.values.tty as boolean;
    const interactive = (p.values.interactive as boolean) && !detach;
    const detachKeys = p.values['detach-keys'] as string;
    let env: string[];
    let detachKeyBytes: Buffer | undefined;
    try {
      env = [...(p.values['env-file'] as string[]).flatMap((f) => readKeyValueFile(f, true, ctx.env)), ...(p.values.env as string[]).map((e) => validateEnv(e, ctx.env))];
      if (detachKeys) detachKeyBytes = parseDetachKeys(detachKeys);
    } catch (e) {
      throw new StatusError((e as Error).message, 1);
    }

    // As docker does: "no such container" wins over every other complaint, and the
    // TTY check comes before the create so that no exec instance is left behind.
    await client.call('GET', `/containers/${container}/json`);
    if (!detach && tty && interactive && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);

    const size = tty ? consoleSize(ctx.stdout) : undefined;
    const created = await client.call<{ Id: string }>('POST', `/containers/${container}/exec`, {
      body: {
        User: (p.values.user as string) || undefined,
        Privileged: p.values.privileged as boolean,
        Tty: tty,
        ConsoleSize: size,
        AttachStdin: interactive,
        AttachStdout: !detach,
        AttachStderr: !detach,
        DetachKeys: detachKeys || undefined,
        Env: env.length ? env : undefined,
        WorkingDir: (p.values.workdir as string) || undefined,
        Cmd: cmd,
      },
    });
    const startBody = { Detach: detach, Tty: tty, ConsoleSize: size };
    if (detach) {
      await client.call('POST', `/exec/${created.Id}/start`, { body: startBody });
      return 0;
    }

    const conn = await client.hijack('POST', `/exec/${created.Id}/start`, { body: startBody });
    const restore = tty && interactive ? enterRawMode(ctx.stdin) : () => undefined;
    const io = sessionIO(ctx, tty);
    const pump = pumpStreams(conn.socket, {
      tty,
      stdout: io.stdout,
      stderr: io.stderr,
      stdin: interactive ? ctx.stdin : undefined,
      detachKeys: detachKeyBytes,
    });
    const stopResize = tty
      ? watchTerminalSize(ctx.stdout, (h, w) => {
          client.request('POST', `/exec/${created.Id}/resize`, { query: { h, w } }).then((r) => r.buffer(), () => undefined);
        })
      : () => undefined;
    let detached: boolean;
    try {
      ({ detached } = await pump.done);
    } finally {
      stopResize();
      restore();
    }
    if (detached) return 0;
    return execExitCode(client, created.Id);
  },
};
