import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ContextArchive, type ReceiveOptions } from '../../src/build/context-archive';
import { SourceTree } from '../../src/build/context';
import { CopyInto, type CopyOptions } from '../../src/build/copy-into';
import { packTar, streamOf, type PackEntry } from '../../src/layer/tar-pack';

/**
 * COPY takes a context's files from its index when it can (ContextArchive.copiesFromIndex):
 * what it makes must be what copying from the unpacked context makes, node for node.
 */
let base: string;
let n = 0;

before(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-context-copy-'));
});

after(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

const at = (s: number) => new Date(s * 1000);
const none = () => false;

async function receive(entries: PackEntry[], o?: ReceiveOptions): Promise<ContextArchive> {
  const work = path.join(base, `ctx-${n++}`);
  fs.mkdirSync(work);
  return ContextArchive.receive(streamOf(await packTar(entries)), work, o);
}

/** Every node under `root`: type, mode, owner, size, times, content or link target. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      const what = st.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : st.isFile() ? createHash('sha256').update(fs.readFileSync(p)).digest('hex') : '';
      // a directory's mtime is the copy's own (it is made now), a file's and a link's come from the
      // source; atimes are left out: reading a source on disk moves its atime, and layers hold none
      const times = st.isDirectory() ? '' : String(st.mtimeMs);
      out.push(`${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.isDirectory() ? '' : st.size} ${times} ${what}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/** Copies `sources` to `dest` from the index and from the unpacked context; returns both results. */
async function bothWays(ctx: ContextArchive, sources: string[], dest: string, destIsDir: boolean, o: Partial<CopyOptions> = {}, prepare?: (root: string) => void): Promise<[string[], string[]]> {
  const results: string[][] = [];
  const disk = SourceTree.open(await ctx.materialize());
  try {
    for (const from of [ctx, disk]) {
      const root = path.join(base, `root-${n++}`);
      fs.mkdirSync(root);
      prepare?.(root);
      const into = new CopyInto(root);
      try {
        for (const s of sources) await into.copy(from, s, dest, destIsDir, { excluded: none, unpackTars: false, ...o });
      } finally {
        into.close();
      }
      results.push(listing(root));
    }
  } finally {
    disk.close();
  }
  return [results[0], results[1]];
}

const CONTEXT: PackEntry[] = [
  { name: 'Dockerfile', data: 'FROM scratch\n', mtime: at(1_600_000_000) },
  { name: 'a.txt', data: 'a\n', mode: 0o600, mtime: new Date(1_600_000_001_250) },
  { name: 'empty', data: '', mode: 0o644, mtime: at(1_600_000_002) },
  { name: 'run.sh', data: '#!/bin/sh\n', mode: 0o4755, mtime: at(1_600_000_003) },
  { name: 'locked/', type: 'directory', mode: 0o700, mtime: at(1_600_000_004) },
  { name: 'locked/key', data: 'k', mode: 0o400, mtime: at(1_600_000_005) },
  // implicit parents: no entry names sub/ or sub/deep/
  { name: 'sub/deep/file', data: Buffer.alloc(200_000, 7), mode: 0o664, mtime: at(1_600_000_006) },
  { name: 'sub/link', type: 'symlink', linkname: '../a.txt', mtime: at(1_600_000_007) },
  { name: 'sub/dangling', type: 'symlink', linkname: '/nowhere', mtime: at(1_600_000_008) },
];

describe('COPY from the context index', () => {
  it('makes what copying from the unpacked context makes: modes, implicit directories, links, times', async () => {
    const ctx = await receive(CONTEXT);
    assert.equal(ctx.copiesFromIndex(), true);
    const [fromIndex, fromDisk] = await bothWays(ctx, ['.'], '/app', true);
    assert.ok(fromIndex.some((l) => l.startsWith('app/sub/link ') && l.endsWith('-> ../a.txt')), fromIndex.join('\n'));
    assert.ok(fromIndex.some((l) => l.startsWith('app/run.sh 104755 ')), fromIndex.join('\n'));
    assert.deepEqual(fromIndex, fromDisk);
  });

  it('is the same with --chown, --chmod, single files, a file renamed and a sub-directory', async () => {
    const ctx = await receive(CONTEXT);
    for (const [sources, dest, destIsDir, o] of [
      [['a.txt', 'sub'], '/dst/', true, { uid: 1000, gid: 1001 }],
      [['run.sh'], '/bin/tool', false, { mode: 0o750 }],
      [['locked'], '/', true, { uid: 7, gid: 7, mode: 0o711 }],
      [['sub/deep/file'], '/x/', true, {}],
    ] as [string[], string, boolean, Partial<CopyOptions>][]) {
      const [fromIndex, fromDisk] = await bothWays(ctx, sources, dest, destIsDir, o);
      assert.ok(fromIndex.length > 0);
      assert.deepEqual(fromIndex, fromDisk, `${sources.join(',')} -> ${dest}`);
    }
  });

  it('replaces what is in the way (a directory, a link to the host, an older file) without following links', async () => {
    const ctx = await receive(CONTEXT);
    const host = path.join(base, 'host-file');
    fs.writeFileSync(host, 'host\n');
    const [fromIndex, fromDisk] = await bothWays(ctx, ['.'], '/', true, { uid: 5, gid: 6 }, (root) => {
      fs.mkdirSync(path.join(root, 'a.txt', 'inner'), { recursive: true });
      fs.symlinkSync(host, path.join(root, 'empty'));
      fs.writeFileSync(path.join(root, 'run.sh'), 'older content, longer than the new\n', { mode: 0o666 });
      fs.chownSync(path.join(root, 'run.sh'), 5, 6);
    });
    assert.equal(fs.readFileSync(host, 'utf8'), 'host\n', 'the link was replaced, not followed');
    assert.ok(fromIndex.some((l) => l.startsWith('run.sh 104755 5:6 10 ')), fromIndex.join('\n'));
    assert.deepEqual(fromIndex, fromDisk);
  });

  it('leaves out what the exclusion rule excludes, as the disk walk does', async () => {
    const ctx = await receive(CONTEXT);
    const [fromIndex, fromDisk] = await bothWays(ctx, ['.'], '/', true, { excluded: (rel) => rel.startsWith('sub/deep') || rel === 'empty' });
    assert.ok(!fromIndex.some((l) => l.startsWith('sub/deep') || l.startsWith('empty ')));
    assert.deepEqual(fromIndex, fromDisk);
  });

  it('unpacks a tar for ADD from memory as from disk', async () => {
    const inner = await packTar([{ name: 'in/side', data: 'x', mode: 0o640, mtime: at(1_500_000_000) }]);
    const ctx = await receive([...CONTEXT, { name: 'layer.tar', data: inner, mtime: at(1_600_000_009) }]);
    assert.equal(ctx.copiesFromIndex(), true);
    const [fromIndex, fromDisk] = await bothWays(ctx, ['layer.tar', 'a.txt'], '/add/', true, { unpackTars: true });
    assert.ok(fromIndex.some((l) => l.startsWith('add/in/side ')), fromIndex.join('\n'));
    assert.deepEqual(fromIndex, fromDisk);
  });

  it('leaves contexts the index cannot stand for to the disk', async () => {
    for (const [why, extra] of [
      ['a hardlink', [{ name: 'hard', type: 'link', linkname: 'a.txt' }]],
      ['a file too big to keep in memory', [{ name: 'big', data: Buffer.alloc(300 * 1024) }]],
      ['a whiteout name', [{ name: 'sub/.wh.link', data: '' }]],
      ['the root\'s own entry', [{ name: './', type: 'directory', mode: 0o700 }]],
      ['a symlink on an entry\'s way', [{ name: 'dirlink', type: 'symlink', linkname: 'sub' }, { name: 'dirlink/x', data: 'x' }]],
      ['a fifo', [{ name: 'pipe', type: 'fifo' }]],
      ['a name both a file and a directory', [{ name: 'a.txt/inner', data: 'x' }]],
    ] as [string, PackEntry[]][]) {
      const ctx = await receive([...CONTEXT, ...extra]);
      assert.equal(ctx.copiesFromIndex(), false, why);
    }
  });

  it('keeps no more content than its budget, and a context over it still copies the right bytes', async () => {
    // many small files, more in all than the budget; the Dockerfile and .dockerignore come last
    const files: PackEntry[] = [];
    for (let i = 0; i < 40; i++) files.push({ name: `many/f${i}`, data: Buffer.alloc(1000 + i, i), mtime: at(1_600_000_000 + i) });
    const tail: PackEntry[] = [
      { name: 'Dockerfile', data: 'FROM scratch\nCOPY . /\n' },
      { name: '.dockerignore', data: 'nothing\n' },
    ];
    const within = await receive([...files, ...tail], { budget: 64 * 1024 });
    assert.equal(within.copiesFromIndex(), true, 'a context within its budget is served from memory');
    const ctx = await receive([...files, ...tail], { budget: 16 * 1024, keep: ['./Dockerfile', '.dockerignore'] });
    assert.equal(ctx.copiesFromIndex(), false, 'a context over its budget is copied from the disk');
    assert.equal(ctx.read('Dockerfile'), 'FROM scratch\nCOPY . /\n', 'what the plan reads is kept whatever the budget');
    assert.equal(ctx.read('.dockerignore'), 'nothing\n');
    assert.equal(ctx.read('many/f0'), undefined, 'what was kept before the budget ran out is let go');
    // as the builder does: the unpacked context when the index cannot serve
    const disk = SourceTree.open(await ctx.materialize());
    const root = path.join(base, `root-${n++}`);
    fs.mkdirSync(root);
    const into = new CopyInto(root);
    try {
      await into.copy(disk, 'many', '/app', true, { excluded: none, unpackTars: false });
    } finally {
      into.close();
      disk.close();
    }
    for (let i = 0; i < 40; i++) assert.deepEqual(fs.readFileSync(path.join(root, 'app', `f${i}`)), Buffer.alloc(1000 + i, i), `f${i}`);
  });

  it('stops ADD of a tar, from memory as from disk, when the build is cancelled', async () => {
    const inner = await packTar(Array.from({ length: 50 }, (_, i) => ({ name: `in/f${i}`, data: Buffer.alloc(4096, i) })));
    const ctx = await receive([...CONTEXT, { name: 'layer.tar', data: inner }]);
    assert.equal(ctx.copiesFromIndex(), true);
    const disk = SourceTree.open(await ctx.materialize());
    try {
      for (const [where, from] of [['memory', ctx], ['disk', disk]] as const) {
        const root = path.join(base, `root-${n++}`);
        fs.mkdirSync(root);
        let ticks = 0;
        // cancelled once the copy has begun: the second tick throws as checkpoint() does
        const tick = async () => {
          if (++ticks > 1) throw Object.assign(new Error('cancelled'), { code: 'cancelled' });
        };
        const into = new CopyInto(root);
        try {
          await assert.rejects(into.copy(from, 'layer.tar', '/add/', true, { excluded: none, unpackTars: true, tick }), /cancelled/, where);
        } finally {
          into.close();
        }
        assert.ok(!fs.existsSync(path.join(root, 'add', 'in', 'f49')), `${where}: the tar was not unpacked to its end`);
      }
    } finally {
      disk.close();
    }
  });
});
