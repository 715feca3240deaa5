/** `berth import`: a filesystem tarball (file, URL or stdin) becomes an image. */
import { createReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { CommandSpec } from '../command';
import { readJsonStream } from '../../client/engine';
import { ProgressDisplay, JsonMessage, StreamError } from '../format/progress';
import { parseImageRef, ReferenceError } from '../reference';
import { StatusError } from '../errors';

/** Splits "name:tag" as typed into the repo and tag query values. */
function splitRepoTag(ref: string): { repo: string; tag?: string } {
  const parsed = parseImageRef(ref);
  if (parsed.digest) throw new ReferenceError('invalid reference format');
  if (!parsed.tag) return { repo: ref };
  return { repo: ref.slice(0, ref.length - parsed.tag.length - 1), tag: parsed.tag };
}

export const importImage: CommandSpec = {
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  summary: 'Import the contents from a tarball to create a filesystem image',
  aliases: ['image import', 'import'],
  args: { min: 1, max: 2 },
  flags: [
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Set commit message for imported image', default: '' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', default: '' },
  ],
  async run(ctx, p) {
    const [source, ref] = p.args;
    let repoTag: { repo?: string; tag?: string } = {};
    if (ref) {
      try {
        repoTag = splitRepoTag(ref);
      } catch (e) {
        throw new StatusError((e as Error).message, 1);
      }
    }
    let body: Readable | undefined;
    let fromSrc = source;
    if (source === '-') body = ctx.stdin;
    else if (!/^https?:\/\//.test(source)) {
      try {
        statSync(source);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new StatusError(`open ${source}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`, 1);
      }
      body = createReadStream(source);
      fromSrc = '-';
    }
    const stream = await ctx.client().stream('POST', '/images/create', {
      query: {
        fromSrc,
        repo: repoTag.repo,
        tag: repoTag.tag,
        message: (p.values.message as string) || undefined,
        platform: (p.values.platform as string) || undefined,
        changes: p.values.change as string[],
      },
      body,
      headers: body ? { 'Content-Type': 'application/x-tar' } : undefined,
    });
    const display = new ProgressDisplay(ctx.stdout, !!ctx.stdout.isTTY);
    try {
      await readJsonStream<JsonMessage>(stream, (m) => display.show(m));
    } catch (e) {
      if (e instanceof StreamError) throw new StatusError(e.message, 1);
      throw e;
    }
    return 0;
  },
};
