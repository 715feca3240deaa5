/**
 * `berth checkpoint create | ls | rm`: docker's experimental checkpoint commands over
 * /containers/{id}/checkpoints. The daemon serves those routes only with --experimental;
 * without them the answer is docker's own sentence, not a bare 404.
 */
import type { CommandContext, CommandSpec } from '../command';
import { EngineError } from '../../client/engine';
import { StatusError } from '../errors';

const dirFlag = { name: 'checkpoint-dir', type: 'string', help: 'Use a custom checkpoint storage directory', default: '' } as const;

const checkpointsPath = (container: string) => `/containers/${encodeURIComponent(container)}/checkpoints`;

/** Runs a call; a daemon without the routes gets the docker CLI's experimental message. */
async function experimental<T>(command: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof EngineError && e.status === 404 && e.message === 'page not found') {
      throw new StatusError(`berth checkpoint ${command} is only supported on a daemon with experimental features enabled (berthd --experimental)`, 1);
    }
    throw e;
  }
}

export const checkpointCreate: CommandSpec = {
  usage: 'CONTAINER CHECKPOINT',
  summary: 'Create a checkpoint from a running container',
  aliases: ['checkpoint create'],
  args: { min: 2, max: 2 },
  flags: [dirFlag, { name: 'leave-running', type: 'bool', help: 'Leave the container running after checkpoint' }],
  async run(ctx: CommandContext, p) {
    const [container, name] = p.args;
    const body = { CheckpointID: name, CheckpointDir: (p.values['checkpoint-dir'] as string) || undefined, Exit: !p.values['leave-running'] };
    await experimental('create', () => ctx.client().call('POST', checkpointsPath(container), { body }));
    ctx.out(`${name}\n`);
    return 0;
  },
};

export const checkpointLs: CommandSpec = {
  usage: 'CONTAINER',
  summary: 'List checkpoints for a container',
  aliases: ['checkpoint ls', 'checkpoint list'],
  args: { min: 1, max: 1 },
  flags: [dirFlag],
  async run(ctx: CommandContext, p) {
    const dir = (p.values['checkpoint-dir'] as string) || undefined;
    const list = await experimental('ls', () => ctx.client().call<{ Name: string }[] | null>('GET', checkpointsPath(p.args[0]), { query: { dir } }));
    ctx.out(['CHECKPOINT NAME', ...(list ?? []).map((c) => c.Name)].join('\n') + '\n');
    return 0;
  },
};

export const checkpointRm: CommandSpec = {
  usage: 'CONTAINER CHECKPOINT',
  summary: 'Remove a checkpoint',
  aliases: ['checkpoint rm', 'checkpoint remove'],
  args: { min: 2, max: 2 },
  flags: [dirFlag],
  async run(ctx: CommandContext, p) {
    const [container, name] = p.args;
    const dir = (p.values['checkpoint-dir'] as string) || undefined;
    await experimental('rm', () => ctx.client().call('DELETE', `${checkpointsPath(container)}/${encodeURIComponent(name)}`, { query: { dir } }));
    return 0;
  },
};
