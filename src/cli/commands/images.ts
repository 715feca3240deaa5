/** images (image ls), tag, rmi (image rm); image prune is with the other prune commands. */
import type { CommandSpec } from '../command';
import { formatFlagHelp, validateFilter, filtersJson } from '../command';
import { prepareFormat, renderList, templateFailure } from '../format/render';
import { ImageContext, ImageSummary, imageListFormat, imageRows } from '../format/images';
import { parseImageRef, withDefaultTag, ReferenceError } from '../reference';
import { StatusError } from '../errors';
import { forEachName } from './shared';

export const images: CommandSpec = {
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  summary: 'List images',
  aliases: ['image ls', 'image list', 'images'],
  args: { max: 1 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', help: 'Show digests' },
    { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
    { name: 'format', type: 'string', help: formatFlagHelp, default: '' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    { name: 'tree', type: 'bool', help: 'List multi-platform images as a tree (EXPERIMENTAL)' },
  ],
  async run(ctx, p) {
    const quiet = p.values.quiet as boolean;
    const digests = p.values.digests as boolean;
    let format = p.values.format as string;
    if (format === '' || format === 'table') format = quiet ? '{{.ID}}' : 'table';
    const spec = imageListFormat(digests);
    const prepared = prepareFormat(format, spec);
    try {
      prepared.template.execute(new ImageContext({ Id: '' }, '', '', '', true));
    } catch (e) {
      throw templateFailure(e);
    }
    const filters = [...(p.values.filter as string[])];
    if (p.args[0]) filters.push(`reference=${p.args[0]}`);
    const list = await ctx.client().call<ImageSummary[]>('GET', '/images/json', {
      query: { all: p.values.all as boolean, filters: filtersJson(filters) },
    });
    const rows = imageRows(list ?? [], { digests: digests || /\.Digest\b/.test(format), trunc: !(p.values['no-trunc'] as boolean) });
    ctx.out(renderList(prepared, rows, spec));
    return 0;
  },
};

export const tag: CommandSpec = {
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  summary: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: ['image tag', 'tag'],
  args: { min: 2, max: 2 },
  flags: [],
  async run(ctx, p) {
    const [source, target] = p.args;
    let ref;
    try {
      ref = withDefaultTag(parseImageRef(target));
    } catch (e) {
      if (e instanceof ReferenceError) throw new StatusError(`Error parsing reference: ${JSON.stringify(target)} is not a valid repository/tag: ${e.message}`, 1);
      throw e;
    }
    if (ref.digest) throw new StatusError('refusing to create a tag with a digest reference', 1);
    await ctx.client().call('POST', `/images/${source}/tag`, { query: { repo: ref.name, tag: ref.tag } });
    return 0;
  },
};

export const rmi: CommandSpec = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Remove one or more images',
  aliases: ['image rm', 'image remove', 'rmi'],
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', help: 'Do not delete untagged parents' },
    { name: 'platform', type: 'strings', help: 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")', parse: (v) => v.split(',') },
  ],
  async run(ctx, p) {
    const client = ctx.client();
    const platforms = p.values.platform as string[];
    const failed = await forEachName(ctx, p.args, async (name) => {
      const res = await client.call<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${name}`, {
        query: { force: p.values.force as boolean, noprune: p.values['no-prune'] as boolean, platforms: platforms.length ? platforms : undefined },
      });
      for (const r of res ?? []) {
        if (r.Untagged) ctx.out(`Untagged: ${r.Untagged}\n`);
        if (r.Deleted) ctx.out(`Deleted: ${r.Deleted}\n`);
      }
    });
    return failed.length ? 1 : 0;
  },
};
