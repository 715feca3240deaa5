/** `berth save` and `berth load`: images to and from tar archives (Docker's and OCI's layout). */
import { createReadStream, createWriteStream, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { CommandSpec } from '../command';
import { readJsonStream } from '../../client/engine';
import { ProgressDisplay, JsonMessage, StreamError } from '../format/progress';
import { StatusError } from '../errors';

function openError(file: string, e: unknown): StatusError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
  return new StatusError(`open ${file}: ${why}`, 1);
}

export const save: CommandSpec = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  summary: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliases: ['image save', 'save'],
  args: { min: 1 },
  flags: [
    { name: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT', default: '' },
    { name: 'platform', type: 'string', help: 'Save only the given platform variant', default: '' },
  ],
  async run(ctx, p) {
    const output = p.values.output as string;
    if (!output && ctx.stdout.isTTY) throw new StatusError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
    const stream = await ctx.client().stream('GET', '/images/get', { query: { names: p.args } });
    if (!output) {
      await pipeline(stream, ctx.stdout, { end: false });
      return 0;
    }
    // As docker does: write next to the target and rename, so a failed save leaves no half file.
    const tmp = path.join(path.dirname(output), `.${path.basename(output)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await pipeline(stream, createWriteStream(tmp, { mode: 0o644 }));
      await fsp.rename(tmp, output);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code) throw new StatusError(`failed to save image: ${(e as Error).message}`, 1);
      throw e;
    }
    return 0;
  },
};

export const load: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Load an image from a tar archive or STDIN',
  aliases: ['image load', 'load'],
  args: { max: 0 },
  flags: [
    { name: 'input', short: 'i', type: 'string', help: 'Read from tar archive file, instead of STDIN', default: '' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the load output' },
    { name: 'platform', type: 'string', help: 'Load only the given platform variant', default: '' },
  ],
  async run(ctx, p) {
    const input = p.values.input as string;
    let body: NodeJS.ReadableStream;
    if (input) {
      try {
        if (statSync(input).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      } catch (e) {
        throw openError(input, e);
      }
      body = createReadStream(input);
    } else {
      if (ctx.stdin.isTTY) throw new StatusError('requested load from stdin, but stdin is empty', 1);
      body = ctx.stdin;
    }
    const stream = await ctx.client().stream('POST', '/images/load', {
      query: { quiet: p.values.quiet ? true : !ctx.stdout.isTTY },
      body,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    const display = new ProgressDisplay(ctx.stdout, !!ctx.stdout.isTTY && !p.values.quiet);
    try {
      await readJsonStream<JsonMessage>(stream, (m) => display.show(m));
    } catch (e) {
      if (e instanceof StreamError) throw new StatusError(e.message, 1);
      throw e;
    }
    return 0;
  },
};
