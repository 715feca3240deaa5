/** `berth pull`, and the image pull that `run`/`create` do for a missing image. */
import type { CommandContext, CommandSpec } from '../command';
import type { Sink } from '../attach';
import { readJsonStream } from '../../client/engine';
import { ProgressDisplay, JsonMessage, StreamError } from '../format/progress';
import { parseImageRef, registryDomain, withDefaultTag, ReferenceError } from '../reference';
import { StatusError } from '../errors';
import { authHeaderFor } from '../credentials';

export interface PullOptions {
  platform?: string;
  all?: boolean;
  /** Where progress goes, and whether it is a terminal. */
  out: Sink;
  terminal: boolean;
  quiet?: boolean;
}

/**
 * POST /images/create?fromImage=NAME&tag=TAG and shows the progress stream. The
 * credentials stored for the image's registry go in X-Registry-Auth ("{}" when
 * there are none). Throws StreamError when the stream reports an error, EngineError when the
 * daemon refuses the request.
 */
export async function pullImage(ctx: CommandContext, image: string, o: PullOptions): Promise<void> {
  let ref;
  try {
    ref = parseImageRef(image);
  } catch (e) {
    if (e instanceof ReferenceError) throw new StatusError(e.message, 1);
    throw e;
  }
  const tagged = o.all ? ref : withDefaultTag(ref);
  const stream = await ctx.client().stream('POST', '/images/create', {
    query: { fromImage: ref.name, tag: tagged.digest ?? tagged.tag, platform: o.platform ? o.platform.toLowerCase() : undefined },
    headers: { 'X-Registry-Auth': authHeaderFor(ctx, registryDomain(ref)) },
  });
  const display = new ProgressDisplay(o.quiet ? { write: () => undefined } : o.out, o.terminal);
  try {
    await readJsonStream<JsonMessage>(stream, (m) => display.show(m));
  } catch (e) {
    stream.destroy();
    throw e;
  }
}

export const pull: CommandSpec = {
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  summary: 'Download an image from a registry',
  aliases: ['image pull', 'pull'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: 'bool', help: 'Skip image verification', default: true },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', default: '' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  ],
  async run(ctx, p) {
    const image = p.args[0];
    let ref;
    try {
      ref = parseImageRef(image);
    } catch (e) {
      throw new StatusError((e as Error).message, 1);
    }
    const all = p.values['all-tags'] as boolean;
    if (all && (ref.tag || ref.digest)) throw new StatusError('tag can\'t be used with --all-tags/-a', 1);
    const quiet = p.values.quiet as boolean;
    if (!all && !ref.tag && !ref.digest && !quiet) ctx.out('Using default tag: latest\n');
    try {
      await pullImage(ctx, image, { platform: p.values.platform as string, all, out: ctx.stdout, terminal: !!ctx.stdout.isTTY, quiet });
    } catch (e) {
      if (e instanceof StreamError) throw new StatusError(e.message, 1);
      throw e;
    }
    const full = withDefaultTag(ref);
    if (!all) ctx.out(`${full.name}${full.digest ? '@' + full.digest : ':' + full.tag}\n`);
    else ctx.out(`${ref.name}\n`);
    return 0;
  },
};
