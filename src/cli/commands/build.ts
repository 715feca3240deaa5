/**
 * `berth build`: the context folder (less what .dockerignore excludes) is sent as a tar to
 * POST /build, and the builder's progress messages are printed as they come.
 */
import { registryConfigHeader } from '../credentials';
import { createReadStream, lstatSync, promises as fsp, readdirSync, readFileSync, readlinkSync, writeFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import type { CommandSpec } from '../command';
import { readJsonStream } from '../../client/engine';
import { StatusError } from '../errors';

interface BuildMessage {
  stream?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

function keyValues(list: string[], flag: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0) throw new StatusError(`invalid argument "${item}" for "${flag}" flag: key cannot be empty`, 1);
    if (eq < 0) out[item] = process.env[item] ?? null;
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Packs the context folder into a tar stream, skipping what .dockerignore excludes. */
async function packContext(dir: string, dockerfileRel: string, extraDockerfile?: { name: string; content: Buffer }): Promise<Readable> {
  // tar-stream is only needed here: required lazily to keep the CLI's start-up small
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tar = require('tar-stream') as typeof import('tar-stream');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { parseDockerignore, isExcluded } = require('../../build/dockerignore') as typeof import('../../build/dockerignore');
  let patterns: ReturnType<typeof parseDockerignore> = [];
  try {
    patterns = parseDockerignore(readFileSync(path.join(dir, '.dockerignore'), 'utf8'));
  } catch {
    /* no .dockerignore */
  }
  // the Dockerfile and .dockerignore always travel, as the docker CLI ensures
  const keep = (rel: string) => rel === dockerfileRel || rel === '.dockerignore' || !isExcluded(rel, patterns);
  const pack = tar.pack();
  const out = coalesce();
  pack.pipe(out);
  const add = (header: Parameters<typeof pack.entry>[0], body?: Buffer | Readable) =>
    new Promise<void>((resolve, reject) => {
      if (body && !Buffer.isBuffer(body)) {
        const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
        body.pipe(entry);
      } else if (body) pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  // Synchronous file calls and in-memory bodies for small files: a context is thousands of
  // small files, and an await per file would cost more than reading them. Every so many
  // files the event loop gets a turn, so the request goes out and the daemon reads the
  // first files while later ones are packed.
  let sinceTurn = 0;
  const walk = async (rel: string): Promise<void> => {
    const abs = rel ? path.join(dir, rel) : dir;
    for (const name of readdirSync(abs).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const childAbs = path.join(dir, childRel);
      if (++sinceTurn >= FILES_PER_TURN) {
        sinceTurn = 0;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const st: Stats = lstatSync(childAbs);
      if (!keep(childRel) && !st.isDirectory()) continue;
      const common = { name: childRel, mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: st.mtime };
      if (st.isDirectory()) {
        if (keep(childRel)) pack.entry({ ...common, type: 'directory' });
        await walk(childRel);
      } else if (st.isSymbolicLink()) pack.entry({ ...common, type: 'symlink', linkname: readlinkSync(childAbs) });
      else if (st.isFile() && st.size < 1 << 20) pack.entry({ ...common, type: 'file', size: st.size }, readFileSync(childAbs));
      else if (st.isFile()) await add({ ...common, type: 'file', size: st.size }, createReadStream(childAbs));
    }
  };
  void (async () => {
    try {
      // the first turn before any packing: the request is made meanwhile
      await new Promise((resolve) => setTimeout(resolve, 0));
      await walk('');
      if (extraDockerfile) await add({ name: extraDockerfile.name, mode: 0o644, size: extraDockerfile.content.length, mtime: new Date(0) }, extraDockerfile.content);
      pack.finalize();
    } catch (e) {
      out.destroy(e as Error);
    }
  })();
  return out;
}

/** Files packed between two turns of the event loop (see packContext). */
const FILES_PER_TURN = 128;

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export const build: CommandSpec = {
  usage: '[OPTIONS] PATH | URL | -',
  summary: 'Build an image from a Dockerfile',
  aliases: ['image build', 'build', 'builder build'],
  args: { min: 1, max: 1 },
  flags: [
    { name: 'tag', short: 't', type: 'list', help: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'file', short: 'f', type: 'string', help: 'Name of the Dockerfile (Default is "PATH/Dockerfile")', default: '' },
    { name: 'build-arg', type: 'list', help: 'Set build-time variables' },
    { name: 'label', type: 'list', help: 'Set metadata for an image' },
    { name: 'target', type: 'string', help: 'Set the target build stage to build.', default: '' },
    { name: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
    { name: 'iidfile', type: 'string', help: 'Write the image ID to the file', default: '' },
    { name: 'pull', type: 'bool', help: 'Always attempt to pull a newer version of the image' },
    { name: 'rm', type: 'bool', help: 'Remove intermediate containers after a successful build', default: true },
    { name: 'force-rm', type: 'bool', help: 'Always remove intermediate containers' },
    { name: 'network', type: 'string', help: 'Set the networking mode for the RUN instructions during build', default: 'default' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable', default: '' },
  ],
  async run(ctx, p) {
    const [source] = p.args;
    const file = p.values.file as string;
    let context: Readable;
    let dockerfile = 'Dockerfile';
    if (source === '-') {
      const input = await readAll(ctx.stdin);
      const isTar = input.length >= 262 && input.subarray(257, 262).toString() === 'ustar';
      if (isTar || (input[0] === 0x1f && input[1] === 0x8b)) {
        const s = new PassThrough();
        s.end(input);
        context = s;
        if (file) dockerfile = file;
      } else {
        // a Dockerfile on stdin: the context is that one file
        context = await packEmptyWith(input);
      }
    } else {
      let st: Stats;
      try {
        st = await fsp.stat(source);
      } catch {
        throw new StatusError(`unable to prepare context: path "${source}" not found`, 1);
      }
      if (!st.isDirectory()) throw new StatusError(`unable to prepare context: context must be a directory: ${source}`, 1);
      const dir = path.resolve(source);
      let extra: { name: string; content: Buffer } | undefined;
      if (file) {
        const abs = path.resolve(file);
        const rel = path.relative(dir, abs);
        if (rel.startsWith('..') || path.isAbsolute(rel)) {
          extra = { name: `.dockerfile.${Math.random().toString(16).slice(2, 14)}`, content: await fsp.readFile(abs) };
          dockerfile = extra.name;
        } else dockerfile = rel.split(path.sep).join('/');
      }
      try {
        await fsp.access(path.join(dir, dockerfile));
      } catch {
        if (!extra) throw new StatusError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${path.join(dir, dockerfile)}: no such file or directory`, 1);
      }
      context = await packContext(dir, dockerfile, extra);
    }
    const stream = await ctx.client().stream('POST', '/build', {
      query: {
        t: p.values.tag as string[],
        dockerfile,
        buildargs: JSON.stringify(keyValues(p.values['build-arg'] as string[], '--build-arg')),
        labels: JSON.stringify(keyValues(p.values.label as string[], '--label')),
        target: (p.values.target as string) || undefined,
        nocache: p.values['no-cache'] as boolean,
        q: p.values.quiet as boolean,
      },
      body: context,
      headers: { 'Content-Type': 'application/x-tar', 'X-Registry-Config': registryConfigHeader(ctx) },
    });
    let imageId = '';
    let failure: BuildMessage['errorDetail'] | undefined;
    await readJsonStream<BuildMessage>(stream, (m) => {
      if (m.errorDetail || m.error) failure = m.errorDetail ?? { message: m.error };
      else if (m.aux?.ID) imageId = m.aux.ID;
      else if (m.stream && !(p.values.quiet as boolean)) ctx.out(m.stream);
    });
    if (failure) throw new StatusError(failure.message ?? 'build failed', failure.code || 1);
    if (p.values.quiet as boolean) ctx.out(`${imageId}\n`);
    if (p.values.iidfile) writeFileSync(p.values.iidfile as string, imageId);
    return 0;
  },
};

async function packEmptyWith(dockerfile: Buffer): Promise<Readable> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const tar = require('tar-stream') as typeof import('tar-stream');
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(0) }, dockerfile);
  pack.finalize();
  return pack as unknown as Readable;
}

/**
 * Gathers the tar's many small writes (a header and a small file body each) into 64 KiB
 * chunks: one HTTP chunk and one read on the daemon's side instead of thousands.
 */
function coalesce(): Transform {
  let parts: Buffer[] = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= 1 << 16) {
        const all = Buffer.concat(parts);
        parts = [];
        size = 0;
        cb(null, all);
      } else cb();
    },
    flush(cb) {
      cb(null, size ? Buffer.concat(parts) : undefined);
    },
  });
}
