/** `berth push` (image push): POST /images/{name}/push with the registry's credentials. */
import type { CommandSpec } from '../command';
import { readJsonStream } from '../../client/engine';
import { ProgressDisplay, JsonMessage, StreamError } from '../format/progress';
import { parseImageRef, registryDomain, ReferenceError } from '../reference';
import { StatusError } from '../errors';
import { authHeaderFor } from '../credentials';
import { formatPlatform, parsePlatform } from '../platform';

export const push: CommandSpec = {
  usage: '[OPTIONS] NAME[:TAG]',
  summary: 'Upload an image to a registry',
  aliases: ['image push', 'push'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', type: 'bool', help: 'Skip image signing', default: true },
    {
      name: 'platform',
      type: 'string',
      default: '',
      help:
        "Push a platform-specific manifest as a single-platform image to the registry.\nImage index won't be pushed, meaning that other manifests, including attestations won't be preserved.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)",
    },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  ],
  async run(ctx, p) {
    const all = p.values['all-tags'] as boolean;
    const quiet = p.values.quiet as boolean;
    const platformFlag = p.values.platform as string;

    let platformJson: string | undefined;
    if (platformFlag) {
      let platform;
      try {
        platform = parsePlatform(platformFlag);
      } catch (e) {
        throw new StatusError(`Invalid platform ${platformFlag}: ${(e as Error).message}`, 1);
      }
      platformJson = JSON.stringify(platform);
      ctx.err(
        `Note: with --platform, only the ${formatPlatform(platform)} manifest of a multi-platform image is pushed, as a single-platform image.\n` +
          'Other parts of the image index, such as attestations, are left out.\n' +
          'To push the complete multi-platform image, leave out --platform.\n',
      );
    }

    let ref;
    try {
      ref = parseImageRef(p.args[0]);
    } catch (e) {
      if (e instanceof ReferenceError) throw new StatusError(e.message, 1);
      throw e;
    }
    const nameOnly = !ref.tag && !ref.digest;
    if (all && !nameOnly) throw new StatusError("tag can't be used with --all-tags/-a", 1);
    let tag = ref.tag;
    if (!all && nameOnly) {
      tag = 'latest';
      if (!quiet) ctx.out('Using default tag: latest\n');
    }
    if (ref.digest) throw new StatusError('cannot push a digest reference', 1);

    const stream = await ctx.client().stream('POST', `/images/${ref.familiarName}/push`, {
      query: { tag: all ? undefined : tag, platform: platformJson },
      headers: { 'X-Registry-Auth': authHeaderFor(ctx, registryDomain(ref)) },
    });
    const display = new ProgressDisplay(quiet ? { write: () => undefined } : ctx.stdout, !!ctx.stdout.isTTY);
    try {
      await readJsonStream<JsonMessage>(stream, (m) => display.show(m));
    } catch (e) {
      stream.destroy();
      if (e instanceof StreamError) throw new StatusError(e.message, 1);
      throw e;
    }
    if (quiet) ctx.out(`${ref.name}${tag && !all ? ':' + tag : ''}\n`);
    return 0;
  },
};
