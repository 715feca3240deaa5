/**
 * `berth container move CONTAINER --to TARGET`: the container, as it is, onto another daemon
 * (berth or Docker). See src/cli/move/mover.ts for the order of the steps and what a
 * failure leaves.
 */
import type { CommandSpec } from '../command';
import { EngineClient } from '../../client/engine';
import { ConnectionConfigError, defaultContextTls, resolveConnection, type ConnectionFlags } from '../../client/connection';
import { StatusError } from '../errors';
import { humanSize } from '../../common/units';
import { ContainerMove, MOVE_STEPS, type MoveStep } from '../move/mover';
import { MoveProgress } from '../move/progress';

/**
 * `--to`: a context (its address and TLS files), or an address as -H takes it; a tcp://
 * address uses the TLS settings -H would (--tlsverify and the rest, DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH).
 */
export function targetClient(to: string, flags: ConnectionFlags, env: NodeJS.ProcessEnv): EngineClient {
  try {
    if (to.includes('://') || to.startsWith('/')) return new EngineClient(to, { tls: to.startsWith('tcp://') ? defaultContextTls(flags, env) : undefined });
    const c = resolveConnection({ hosts: [], context: to }, env);
    return new EngineClient(c.address, { tls: c.tls });
  } catch (e) {
    if (e instanceof ConnectionConfigError) throw new StatusError(`Error: ${e.message}`, 1);
    throw e;
  }
}

/** BERTH_MOVE_PAUSE=STEP:FILE, for tests: see MoveOptions.pauseAt. */
function pauseForTests(env: NodeJS.ProcessEnv): { step: MoveStep; file: string } | undefined {
  const v = env.BERTH_MOVE_PAUSE;
  if (!v) return undefined;
  const at = v.indexOf(':');
  const step = v.slice(0, at) as MoveStep;
  if (at < 0 || !MOVE_STEPS.includes(step)) throw new StatusError(`Error: BERTH_MOVE_PAUSE: STEP:FILE, STEP one of ${MOVE_STEPS.join(', ')}`, 1);
  return { step, file: v.slice(at + 1) };
}

/**
 * Ctrl-C (SIGINT) or SIGTERM during a move undoes it as a failure would, then berth exits
 * with 130 as docker does; a second one while the move is undone leaves at once (the source
 * then stays stopped, and its daemon does not start it on its own).
 */
function undoOnInterrupt(interrupt: AbortController, err: (s: string) => void): () => void {
  const onSignal = (sig: NodeJS.Signals) => {
    if (!interrupt.signal.aborted) {
      err(`${sig === 'SIGINT' ? '^C: ' : ''}interrupted: undoing the move, unless the container runs on the target already (interrupt again to leave at once)\n`);
      interrupt.abort();
      return;
    }
    err('interrupted again: the move is left half undone; the container stays stopped on the source\n');
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}

export const move: CommandSpec = {
  usage: 'CONTAINER --to TARGET',
  summary: 'Move a container to another daemon',
  aliases: ['container move'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'to', type: 'string', help: 'The daemon to move to: a context name, or an address (unix://…, tcp://…)', default: '' },
    { name: 'with-volumes', type: 'bool', help: 'Move the volumes the container uses too (named and anonymous)' },
    { name: 'keep', type: 'bool', help: 'Keep the source container (stopped; its daemon does not start it until you do) and its volumes, for a rollback' },
    { name: 'checkpoint', type: 'bool', help: 'Move a running container warm, from a checkpoint (needs CRIU)' },
    { name: 'engine-api-only', type: 'bool', help: "Move as to a Docker daemon (the container's layer becomes an image layer), even to berth" },
  ],
  async run(ctx, p) {
    const to = p.values.to as string;
    if (!to) throw new StatusError('Error: --to is required: a context name or a daemon address', 1);
    if (p.values.checkpoint) throw new StatusError('Error: a warm move needs a checkpoint, and berth cannot restore from one yet (see `berth checkpoint`)', 1);
    const target = targetClient(to, ctx.connectionFlags, ctx.env);
    if (target.address === ctx.client().address) throw new StatusError('Error: the target is the daemon the container is on', 1);
    const interrupt = new AbortController();
    const progress = new MoveProgress((s) => ctx.out(s), !!ctx.stdout.isTTY);
    const mover = new ContainerMove(ctx.client(), target, to, { withVolumes: !!p.values['with-volumes'], keep: !!p.values.keep, engineApiOnly: !!p.values['engine-api-only'], pauseAt: pauseForTests(ctx.env), interrupt: interrupt.signal }, progress);
    const began = Date.now();
    const stopListening = undoOnInterrupt(interrupt, (s) => ctx.err(s));
    let r;
    try {
      r = await mover.run(p.args[0]);
    } finally {
      stopListening();
    }
    const total = r.sent.image + r.sent.layer + r.sent.logs + r.sent.volumes;
    ctx.out(`${p.args[0]} now ${r.running ? 'runs' : 'is (stopped)'} on ${to} as ${r.id.slice(0, 12)}: ${humanSize(total)} sent in ${((Date.now() - began) / 1000).toFixed(1)}s\n`);
    return 0;
  },
};
