import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { test, TestContext } from 'node:test';
import * as tar from 'tar-stream';
import { run } from '../../src/common/exec';
import { changes, dockerChanges } from '../../src/layer/changes';
import { mountAll, unmount } from '../../src/layer/mount';
import { OverlaySnapshotter } from '../../src/layer/overlay';
import type { Snapshotter } from '../../src/layer/snapshotter';
import { applyTar } from '../../src/layer/tar-apply';
import { exportTar } from '../../src/layer/tar-export';
import { packTar, streamOf } from '../../src/layer/tar-pack';
import { VfsSnapshotter } from '../../src/layer/vfs';

/** A fresh directory; mounts made under it are undone and it is removed, even on failure. */
async function workDir(t: TestContext): Promise<{ root: string; mountpoint: (name: string) => Promise<string> }> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-layer-diff-'));
  const mounted: string[] = [];
  t.after(async () => {
    for (const m of mounted.reverse()) await unmount(m).catch(() => undefined);
    await fsp.rm(root, { recursive: true, force: true });
  });
  return {
    root,
    mountpoint: async (name) => {
      const p = path.join(root, 'mnt', name);
      await fsp.mkdir(p, { recursive: true });
      mounted.push(p);
      return p;
    },
  };
}

async function collect(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface ListedEntry {
  name: string;
  type: string;
  linkname?: string | null;
  mode: number;
  uid: number;
  pax?: unknown;
}

async function listTar(buf: Buffer): Promise<ListedEntry[]> {
  const out: ListedEntry[] = [];
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      const h = e.header;
      out.push({ name: h.name, type: h.type, linkname: h.linkname, mode: h.mode, uid: h.uid, pax: h.pax });
      e.resume();
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

/** Everything a round trip must keep, per path (mtimes in whole seconds), and the hardlink groups. */
async function readTree(root: string): Promise<{ nodes: Record<string, string>; links: string[][] }> {
  const nodes: Record<string, string> = {};
  const inodes = new Map<string, string[]>();
  const { stdout } = await run('getfattr', ['-R', '-h', '-d', '-m', '^user\\.', '--absolute-names', '--', root]);
  const userXattrs = new Map<string, string>();
  for (const block of stdout.split('\n\n')) {
    const m = /^# file: (.*)\n([\s\S]*)$/.exec(block.trim());
    if (m) userXattrs.set(path.relative(root, m[1]), m[2].trim());
  }
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      let what = '';
      if (st.isFile()) what = `file ${fs.readFileSync(p, 'utf8')}`;
      else if (st.isSymbolicLink()) what = `symlink ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) what = 'dir';
      else if (st.isFIFO()) what = 'fifo';
      else if (st.isCharacterDevice()) what = `char ${st.rdev}`;
      else what = 'other';
      const mtime = st.isSymbolicLink() ? '' : ` t${Math.floor(st.mtimeMs / 1000)}`;
      nodes[r] = `${what} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}${mtime} ${userXattrs.get(r) ?? ''}`.trim();
      if (!st.isDirectory() && st.nlink > 1) inodes.set(String(st.ino), [...(inodes.get(String(st.ino)) ?? []), r]);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return { nodes, links: [...inodes.values()].map((g) => g.sort()).sort() };
}

const BASE = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/hostname', data: 'base' },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'gone', data: 'x' },
  { name: 'old/', type: 'directory' as const },
  { name: 'old/a', data: 'a' },
  { name: 'old/sub/', type: 'directory' as const },
  { name: 'old/sub/b', data: 'b' },
  { name: 'keep/', type: 'directory' as const },
  { name: 'keep/f', data: 'f' },
  { name: 'bin/', type: 'directory' as const },
  { name: 'bin/tool', data: 'tool', mode: 0o755 },
];

/** What a container would do to its root: writes through the mounted view. */
async function changeThings(rootfs: string): Promise<void> {
  const p = (r: string) => path.join(rootfs, r);
  await fsp.writeFile(p('etc/hostname'), 'changed');
  await fsp.rm(p('gone'));
  await fsp.rm(p('old'), { recursive: true });
  await fsp.mkdir(p('old'));
  await fsp.writeFile(p('old/fresh'), 'fresh');
  await fsp.mkdir(p('new'));
  await fsp.writeFile(p('new/file.txt'), 'hello');
  await fsp.chown(p('new/file.txt'), 1000, 1000);
  await run('setfattr', ['-n', 'user.k', '-v', 'v', p('new/file.txt')]);
  await fsp.symlink('../etc/hostname', p('new/link'));
  await fsp.link(p('new/file.txt'), p('new/hard'));
  await fsp.writeFile(p('bin/suid'), 'suid');
  await fsp.chmod(p('bin/suid'), 0o4755);
  await fsp.chmod(p('bin/tool'), 0o700);
  await run('mknod', [p('new/fifo'), 'p']);
  await run('mknod', [p('new/null'), 'c', '1', '3']);
}

const drivers: Array<{ driver: string; make: (root: string) => OverlaySnapshotter | VfsSnapshotter }> = [
  { driver: 'overlay2', make: (root) => new OverlaySnapshotter(path.join(root, 'overlay2')) },
  { driver: 'vfs', make: (root) => new VfsSnapshotter(path.join(root, 'vfs')) },
];

const COMMON_CHANGES = [
  { Path: '/bin', Kind: 0 },
  { Path: '/bin/suid', Kind: 1 },
  { Path: '/bin/tool', Kind: 0 },
  { Path: '/etc', Kind: 0 },
  { Path: '/etc/hostname', Kind: 0 },
  { Path: '/gone', Kind: 2 },
  { Path: '/new', Kind: 1 },
  { Path: '/new/fifo', Kind: 1 },
  { Path: '/new/file.txt', Kind: 1 },
  { Path: '/new/hard', Kind: 1 },
  { Path: '/new/link', Kind: 1 },
  { Path: '/new/null', Kind: 1 },
];

for (const { driver, make } of drivers) {
  test(`${driver}: diff of a container's changes applies back to the same tree`, async (t) => {
    const { root, mountpoint } = await workDir(t);
    const s: Snapshotter & { init(): Promise<void> } = make(root);
    await s.init();
    await s.prepare('unpack', undefined);
    await s.apply('unpack', streamOf(await packTar(BASE)));
    await s.commit('base', 'unpack');

    const rootfs = await mountpoint('c1');
    await mountAll(await s.prepare('c1', 'base'), rootfs);
    await changeThings(rootfs);
    await unmount(rootfs);

    const layer = await collect(s.diff('c1'));
    assert.equal(sha256(await collect(s.diff('c1'))), sha256(layer), 'two diffs of the same snapshot are the same bytes');

    const entries = await listTar(layer);
    const names = entries.map((e) => e.name);
    assert.ok(names.includes('.wh.gone'), 'the deleted file is a whiteout');
    assert.ok(!names.includes('keep/') && !names.includes('keep/f'), 'untouched paths are not in the layer');
    assert.ok(names.indexOf('.wh.gone') < names.indexOf('bin/'), 'whiteouts come before their siblings');
    if (driver === 'overlay2') assert.ok(names.includes('old/.wh..wh..opq'), 'the replaced dir is opaque');
    else assert.deepEqual(names.filter((n) => n.startsWith('old/')), ['old/', 'old/.wh.a', 'old/.wh.sub', 'old/fresh']);
    const hard = entries.find((e) => e.name === 'new/hard');
    assert.deepEqual([hard?.type, hard?.linkname], ['link', 'new/file.txt']);
    const file = entries.find((e) => e.name === 'new/file.txt');
    assert.deepEqual([file?.uid, (file?.pax as Record<string, string>)['SCHILY.xattr.user.k']], [1000, 'v']);
    assert.equal(entries.find((e) => e.name === 'bin/suid')?.mode, 0o4755);

    await s.prepare('c2', 'base');
    const applied = await s.apply('c2', streamOf(layer));
    assert.equal(applied.diffID, sha256(layer));

    const again = await mountpoint('c2');
    await mountAll(await s.mounts('c2'), again);
    await mountAll(await s.mounts('c1'), rootfs);
    const [want, got] = await Promise.all([readTree(rootfs), readTree(again)]);
    delete want.nodes['']; // the root's mtime (never compared: readTree starts below it)
    assert.deepEqual(got, want);
    assert.equal(got.nodes['gone'], undefined);
    assert.deepEqual(got.links, [['new/file.txt', 'new/hard']]);
    assert.match(got.nodes['bin/suid'], /^file suid 4755 0:0/);
    assert.match(got.nodes['new/fifo'], /^fifo 644 /);
    assert.match(got.nodes['new/link'], /^symlink \.\.\/etc\/hostname /);
    assert.deepEqual(Object.keys(got.nodes).filter((k) => k.startsWith('old')), ['old', 'old/fresh']);

    const expected =
      driver === 'overlay2'
        ? [...COMMON_CHANGES, { Path: '/old', Kind: 2 }, { Path: '/old/fresh', Kind: 1 }]
        : [...COMMON_CHANGES, { Path: '/old', Kind: 0 }, { Path: '/old/a', Kind: 2 }, { Path: '/old/fresh', Kind: 1 }, { Path: '/old/sub', Kind: 2 }];
    assert.deepEqual(await changes(s, 'c1'), expected);
  });

  test(`${driver}: diff of a snapshot without a parent holds everything; unknown keys fail the stream`, async (t) => {
    const { root } = await workDir(t);
    const s = make(root);
    await s.init();
    await s.prepare('solo', undefined);
    await s.apply('solo', streamOf(await packTar([{ name: 'a/', type: 'directory' }, { name: 'a/b', data: 'b' }])));
    const names = (await listTar(await collect(s.diff('solo')))).map((e) => e.name);
    assert.deepEqual(names, ['a/', 'a/b']);
    assert.deepEqual(await changes(s, 'solo'), [
      { Path: '/a', Kind: 1 },
      { Path: '/a/b', Kind: 1 },
    ]);
    await assert.rejects(collect(s.diff('nope')), /does not exist/);
  });
}

test('dockerChanges lists parents of changes as modified, in walk order', () => {
  assert.deepEqual(
    dockerChanges([
      { path: '/a.b', kind: 'added' },
      { path: '/a/x/y', kind: 'deleted' },
      { path: '/z', kind: 'modified' },
    ]),
    [
      { Path: '/a', Kind: 0 },
      { Path: '/a/x', Kind: 0 },
      { Path: '/a/x/y', Kind: 2 },
      { Path: '/a.b', Kind: 1 },
      { Path: '/z', Kind: 0 },
    ],
  );
});

test('exportTar: a whole tree, sorted, links kept, sockets left out', async (t) => {
  const { root } = await workDir(t);
  const src = path.join(root, 'src');
  await fsp.mkdir(path.join(src, 'd'), { recursive: true });
  await fsp.writeFile(path.join(src, 'd/f'), 'data');
  await fsp.chown(path.join(src, 'd/f'), 5, 6);
  await fsp.chmod(path.join(src, 'd/f'), 0o640);
  await run('setfattr', ['-n', 'user.x', '-v', 'y', path.join(src, 'd/f')]);
  await fsp.link(path.join(src, 'd/f'), path.join(src, 'd/f2'));
  await fsp.symlink('d/f', path.join(src, 's'));
  await fsp.writeFile(path.join(src, 'suid'), '');
  await fsp.chmod(path.join(src, 'suid'), 0o4711);
  await fsp.writeFile(path.join(src, 'zero'), 'z');
  await fsp.chmod(path.join(src, 'zero'), 0);
  await run('mknod', [path.join(src, 'p'), 'p']);
  const net = await import('node:net');
  const server = net.createServer().listen(path.join(src, 'sock'));
  await new Promise((r) => server.once('listening', r));
  t.after(() => server.close());

  const buf = await collect(exportTar(src));
  assert.equal(sha256(await collect(exportTar(src))), sha256(buf));
  const entries = await listTar(buf);
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.linkname ?? null]),
    [
      ['d/', 'directory', null],
      ['d/f', 'file', null],
      ['d/f2', 'link', 'd/f'],
      ['p', 'fifo', null],
      ['s', 'symlink', 'd/f'],
      ['suid', 'file', null],
      ['zero', 'file', null],
    ],
  );
  assert.equal(entries.find((e) => e.name === 'zero')?.mode, 0);

  const dst = path.join(root, 'dst');
  await fsp.mkdir(dst);
  await applyTar(dst, streamOf(buf), { whiteouts: 'plain' });
  await fsp.rm(path.join(src, 'sock'));
  const [want, got] = await Promise.all([readTree(src), readTree(dst)]);
  assert.deepEqual(got, want);
});
