/** `berth commit`, `berth diff`, `berth export`, `berth pause`, `berth unpause`. */
import { createWriteStream, renameSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../command';
import { StatusError } from '../errors';
import { EngineError } from '../../client/engine';
import { parseImageRef, ReferenceError } from '../reference';

export const commit: CommandSpec = {
  usage: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  summary: "Create a new image from a container's changes",
  aliases: ['container commit', 'commit'],
  args: { min: 1, max: 2 },
  flags: [
    { name: 'author', short: 'a', type: 'string', help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")', default: '' },
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Commit message', default: '' },
    { name: 'pause', short: 'p', type: 'bool', help: 'Pause container during commit', default: true },
  ],
  async run(ctx, p) {
    const [container, ref] = p.args;
    let repo: string | undefined;
    let tag: string | undefined;
    if (ref) {
      try {
        const parsed = parseImageRef(ref);
        if (parsed.digest) throw new ReferenceError('refusing to create a tag with a digest reference');
        tag = parsed.tag;
        repo = tag ? ref.slice(0, ref.length - tag.length - 1) : ref;
      } catch (e) {
        throw new StatusError((e as Error).message, 1);
      }
    }
    const r = await ctx.client().call<{ Id: string }>('POST', '/commit', {
      query: {
        container,
        repo,
        tag,
        author: (p.values.author as string) || undefined,
        comment: (p.values.message as string) || undefined,
        changes: p.values.change as string[],
        pause: p.values.pause as boolean,
      },
      body: {},
    });
    ctx.out(`${r.Id}\n`);
    return 0;
  },
};

export const diff: CommandSpec = {
  usage: 'CONTAINER',
  summary: "Inspect changes to files or directories on a container's filesystem",
  aliases: ['container diff', 'diff'],
  args: { min: 1, max: 1 },
  flags: [],
  async run(ctx, p) {
    const list = await ctx.client().call<{ Path: string; Kind: number }[] | null>('GET', `/containers/${encodeURIComponent(p.args[0])}/changes`);
    for (const c of list ?? []) ctx.out(`${'CAD'[c.Kind] ?? '?'} ${c.Path}\n`);
    return 0;
  },
};

export const exportContainer: CommandSpec = {
  usage: '[OPTIONS] CONTAINER',
  summary: "Export a container's filesystem as a tar archive",
  aliases: ['container export', 'export'],
  args: { min: 1, max: 1 },
  flags: [{ name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT', default: '' }],
  async run(ctx, p) {
    const output = p.values.output as string;
    if (!output && ctx.stdout.isTTY) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    const stream = await ctx.client().stream('GET', `/containers/${encodeURIComponent(p.args[0])}/export`);
    if (output) {
      const tmp = `${output}.${process.pid}.tmp`;
      await pipeline(stream, createWriteStream(tmp));
      renameSync(tmp, output);
    } else await pipeline(stream, ctx.stdout);
    return 0;
  },
};

function each(action: 'pause' | 'unpause'): CommandSpec {
  return {
    usage: 'CONTAINER [CONTAINER...]',
    summary: action === 'pause' ? 'Pause all processes within one or more containers' : 'Unpause all processes within one or more containers',
    aliases: [`container ${action}`, action],
    args: { min: 1 },
    flags: [],
    async run(ctx, p) {
      let failed = false;
      for (const name of p.args) {
        try {
          await ctx.client().call('POST', `/containers/${encodeURIComponent(name)}/${action}`);
          ctx.out(`${name}\n`);
        } catch (e) {
          if (!(e instanceof EngineError)) throw e;
          ctx.err(`Error response from daemon: ${e.message}\n`);
          failed = true;
        }
      }
      return failed ? 1 : 0;
    },
  };
}

export const pause = each('pause');
export const unpause = each('unpause');
