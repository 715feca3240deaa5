/** start, stop, restart, kill, wait, rm (container prune is with the other prune commands). */
import type { CommandSpec } from '../command';
import { parseInt64 } from '../flags';
import { StatusError } from '../errors';
import { forEachName } from './shared';
import { parseDetachKeys } from '../opts/values';
import { runSession, sessionIO } from '../session';

const several = 'CONTAINER [CONTAINER...]';

export const start: CommandSpec = {
  usage: `[OPTIONS] ${several}`,
  summary: 'Start one or more stopped containers',
  aliases: ['container start', 'start'],
  args: { min: 1 },
  flags: [
    { name: 'attach', short: 'a', type: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'checkpoint', type: 'string', help: 'Restore from this checkpoint', default: '' },
    { name: 'checkpoint-dir', type: 'string', help: 'Use a custom checkpoint storage directory', default: '' },
    { name: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container', default: '' },
    { name: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const attach = p.values.attach as boolean;
    const interactive = p.values.interactive as boolean;
    const checkpoint = (p.values.checkpoint as string) || undefined;
    const checkpointDir = (p.values['checkpoint-dir'] as string) || undefined;
    if (attach || interactive) {
      if (p.args.length > 1) throw new StatusError('you cannot start and attach multiple containers at once', 1);
      const info = await client.call<{ Id: string; Config: { Tty?: boolean; OpenStdin?: boolean }; HostConfig?: { AutoRemove?: boolean } }>('GET', `/containers/${p.args[0]}/json`);
      const tty = !!info.Config.Tty;
      const detachKeys = p.values['detach-keys'] as string;
      const stdinOn = interactive && !!info.Config.OpenStdin;
      if (tty && stdinOn && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
      const result = await runSession(client, sessionIO(ctx, tty), {
        id: info.Id,
        tty,
        attachStdin: stdinOn,
        attachStdout: true,
        attachStderr: true,
        autoRemove: !!info.HostConfig?.AutoRemove,
        detachKeys,
        detachKeyBytes: detachKeys ? parseDetachKeys(detachKeys) : undefined,
        sigProxy: !tty,
        start: () => client.call('POST', `/containers/${info.Id}/start`, { query: { checkpoint, 'checkpoint-dir': checkpointDir } }).then(() => undefined),
      });
      if (result.kind === 'detached') return 0;
      if (result.kind === 'wait-error') {
        ctx.err(`Error waiting for container: ${result.message}\n`);
        return 1;
      }
      return result.status;
    }
    const failed = await forEachName(ctx, p.args, async (name) => {
      await client.call('POST', `/containers/${name}/start`, { query: { checkpoint, 'checkpoint-dir': checkpointDir } });
      ctx.out(`${name}\n`);
    });
    if (failed.length) {
      ctx.err(`Error: failed to start containers: ${failed.join(', ')}\n`);
      return 1;
    }
    return 0;
  },
};

function stopLike(verb: 'stop' | 'restart', summary: string): CommandSpec {
  return {
    usage: `[OPTIONS] ${several}`,
    summary,
    aliases: [`container ${verb}`, verb],
    args: { min: 1 },
    flags: [
      { name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container', default: '' },
      { name: 'timeout', short: 't', type: 'int', help: 'Seconds to wait before killing the container', parse: (v) => parseInt64(v) },
      { name: 'time', type: 'int', help: 'Seconds to wait before killing the container (deprecated: use --timeout)', parse: (v) => parseInt64(v), hidden: true },
    ],
    async run(ctx, p) {
      const client = ctx.client();
      let t: number | undefined;
      if (p.changed.has('timeout')) t = p.values.timeout as number;
      else if (p.changed.has('time')) t = p.values.time as number;
      const failed = await forEachName(ctx, p.args, async (name) => {
        await client.call('POST', `/containers/${name}/${verb}`, { query: { t, signal: (p.values.signal as string) || undefined } });
        ctx.out(`${name}\n`);
      });
      return failed.length ? 1 : 0;
    },
  };
}

export const stop = stopLike('stop', 'Stop one or more running containers');
export const restart = stopLike('restart', 'Restart one or more containers');

export const kill: CommandSpec = {
  usage: `[OPTIONS] ${several}`,
  summary: 'Kill one or more running containers',
  aliases: ['container kill', 'kill'],
  args: { min: 1 },
  flags: [{ name: 'signal', short: 's', type: 'string', help: 'Signal to send to the container', default: '' }],
  async run(ctx, p) {
    const client = ctx.client();
    const failed = await forEachName(ctx, p.args, async (name) => {
      await client.call('POST', `/containers/${name}/kill`, { query: { signal: (p.values.signal as string) || undefined } });
      ctx.out(`${name}\n`);
    });
    return failed.length ? 1 : 0;
  },
};

export const wait: CommandSpec = {
  usage: several,
  summary: 'Block until one or more containers stop, then print their exit codes',
  aliases: ['container wait', 'wait'],
  args: { min: 1 },
  flags: [],
  async run(ctx, p) {
    const client = ctx.client();
    const failed = await forEachName(ctx, p.args, async (name) => {
      const res = await client.call<{ StatusCode: number; Error?: { Message?: string } | null }>('POST', `/containers/${name}/wait`);
      if (res.Error?.Message) throw new Error(res.Error.Message);
      ctx.out(`${res.StatusCode}\n`);
    });
    return failed.length ? 1 : 0;
  },
};

export const rm: CommandSpec = {
  usage: `[OPTIONS] ${several}`,
  summary: 'Remove one or more containers',
  aliases: ['container rm', 'container remove', 'rm'],
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', type: 'bool', help: 'Remove the specified link' },
    { name: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const failed = await forEachName(ctx, p.args, async (name) => {
      const trimmed = name.replace(/^\/+/, '');
      if (!trimmed) throw new Error('Container name cannot be empty');
      await client.call('DELETE', `/containers/${trimmed}`, { query: { force: p.values.force as boolean, v: p.values.volumes as boolean, link: p.values.link as boolean } });
      ctx.out(`${name}\n`);
    });
    return failed.length ? 1 : 0;
  },
};
