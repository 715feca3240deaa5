/** `berth run` and `berth create`. */
import { closeSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import type { CommandContext, CommandSpec } from '../command';
import type { ParsedFlags } from '../flags';
import { containerFlags, runOnlyFlags, buildContainerRequest, ContainerRequest } from '../opts/container';
import { parseDetachKeys } from '../opts/values';
import { StatusError } from '../errors';
import { EngineError } from '../../client/engine';
import { parseImageRef, familiarString, withDefaultTag, ReferenceError } from '../reference';
import { StreamError } from '../format/progress';
import { runSession, sessionIO } from '../session';

/** What docker's `run` exits with when the start fails, judged from the daemon's message. */
export function startFailureStatus(message: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified|not found or does not exist/.test(message)) return 127;
  if (/permission denied|is a directory|could not be invoked/.test(message)) return 126;
  return 125;
}

/** The terminal's size, for a run with -t only: asking stdout makes its stream, which a plain run does without. */
function terminalSize(ctx: CommandContext, p: ParsedFlags): [number, number] | undefined {
  if (!p.values.tty) return undefined;
  const out = ctx.stdout;
  return out.isTTY && out.rows && out.columns ? [out.rows, out.columns] : undefined;
}

/** Reserves the --cidfile before the container exists, as docker does, so two runs cannot share one. */
function reserveCidFile(path: string): void {
  try {
    closeSync(openSync(path, 'wx'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') throw new StatusError(`container ID file found, make sure the other container isn't running or delete ${path}`, 125, true);
    throw new StatusError(`failed to create the container ID file: ${err.message}`, 125, true);
  }
}

/**
 * POST /containers/create; on "no such image" (404) with --pull=missing, pulls
 * the image and creates again. Prints the daemon's warnings. Returns the ID.
 */
async function createContainer(ctx: CommandContext, req: ContainerRequest, pullErrorsAre: 'run' | 'create'): Promise<string> {
  const client = ctx.client();
  const { pullImage } = require('./pull') as typeof import('./pull');
  const pull = async () => {
    try {
      await pullImage(ctx, req.image, { platform: req.platform, out: ctx.stderr, terminal: !!ctx.stderr.isTTY, quiet: req.quiet });
    } catch (e) {
      if (e instanceof StreamError) throw new StatusError(e.message, pullErrorsAre === 'run' ? 125 : 1, pullErrorsAre === 'run');
      throw e;
    }
  };
  const create = () =>
    client.call<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', {
      query: { name: req.name || undefined, platform: req.platform || undefined },
      body: req.body,
    });

  // docker's client checks the name before it asks the daemon for anything
  if (!/^(sha256:)?[0-9a-f]{12,64}$/.test(req.image)) {
    try {
      parseImageRef(req.image);
    } catch (e) {
      if (e instanceof ReferenceError) throw new StatusError(e.message, pullErrorsAre === 'run' ? 125 : 1, pullErrorsAre === 'run');
      throw e;
    }
  }
  if (req.cidfile) reserveCidFile(req.cidfile);
  try {
    if (req.pull === 'always') await pull();
    let created;
    try {
      created = await create();
    } catch (e) {
      if (!(e instanceof EngineError) || e.status !== 404 || req.pull !== 'missing' || !/image/i.test(e.message)) throw e;
      let shown = req.image;
      try {
        shown = familiarString(withDefaultTag(parseImageRef(req.image)));
      } catch {
        // an unparsable name: the daemon's answer below says why
      }
      if (!req.quiet) ctx.err(`Unable to find image '${shown}' locally\n`);
      await pull();
      created = await create();
    }
    for (const w of created.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
    if (req.cidfile) writeFileSync(req.cidfile, created.Id);
    return created.Id;
  } catch (e) {
    if (req.cidfile) {
      try {
        unlinkSync(req.cidfile);
      } catch {
        // already gone
      }
    }
    throw e;
  }
}

async function runContainer(ctx: CommandContext, p: ParsedFlags): Promise<number> {
  const detach = p.values.detach as boolean;
  const req = buildContainerRequest(p, ctx.env, terminalSize(ctx, p));
  const body = req.body;
  if (detach) {
    body.AttachStdin = false;
    body.AttachStdout = false;
    body.AttachStderr = false;
    body.StdinOnce = false;
  }
  if (body.Tty && body.AttachStdin && !ctx.stdin.isTTY) throw new StatusError('the input device is not a TTY', 1);
  const detachKeys = p.values['detach-keys'] as string;
  let detachKeyBytes: Buffer | undefined;
  if (detachKeys) {
    try {
      detachKeyBytes = parseDetachKeys(detachKeys);
    } catch (e) {
      throw new StatusError((e as Error).message, 125, true);
    }
  }

  const id = await createContainer(ctx, req, 'run');
  const client = ctx.client();
  const start = () => client.call('POST', `/containers/${id}/start`).then(() => undefined);
  const startFailed = (e: unknown): number => {
    if (!(e instanceof EngineError)) throw e;
    const msg = `Error response from daemon: ${e.message}`;
    ctx.err(`${ctx.prog}: ${msg}\n\nRun '${ctx.prog} ${ctx.path} --help' for more information\n`);
    return startFailureStatus(msg);
  };

  if (detach) {
    try {
      await start();
    } catch (e) {
      return startFailed(e);
    }
    ctx.out(`${id}\n`);
    return 0;
  }

  let result;
  try {
    result = await runSession(client, sessionIO(ctx, !!body.Tty), {
      id,
      tty: !!body.Tty,
      attachStdin: !!body.AttachStdin,
      attachStdout: !!body.AttachStdout,
      attachStderr: !!body.AttachStderr,
      autoRemove: !!body.HostConfig?.AutoRemove,
      detachKeys,
      detachKeyBytes,
      sigProxy: (p.values['sig-proxy'] as boolean) && !body.Tty,
      start,
    });
  } catch (e) {
    if (e instanceof EngineError) return startFailed(e);
    throw e;
  }
  if (result.kind === 'detached') return 0;
  if (result.kind === 'wait-error') {
    ctx.err(`Error waiting for container: ${result.message}\n`);
    return 125;
  }
  return result.status;
}

export const run: CommandSpec = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image',
  aliases: ['container run', 'run'],
  flags: [...containerFlags, ...runOnlyFlags],
  interspersed: false,
  args: { min: 1 },
  errorStyle: 'run',
  run: runContainer,
};

export const create: CommandSpec = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new container',
  aliases: ['container create', 'create'],
  flags: containerFlags,
  interspersed: false,
  args: { min: 1 },
  async run(ctx, p) {
    const req = buildContainerRequest(p, ctx.env, terminalSize(ctx, p));
    const id = await createContainer(ctx, req, 'create');
    ctx.out(`${id}\n`);
    return 0;
  },
};
