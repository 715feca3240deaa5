import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, TestContext } from 'node:test';
import { applyTar } from '../../src/layer/tar-apply';
import { PackEntry, packTar, streamOf } from '../../src/layer/tar-pack';

async function tempRoot(t: TestContext): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-layer-apply-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function apply(root: string, entries: PackEntry[], whiteouts: 'overlay' | 'plain' = 'overlay') {
  return applyTar(root, streamOf(await packTar(entries)), { whiteouts });
}

function xattr(p: string, name: string): string | undefined {
  try {
    return execFileSync('getfattr', ['-h', '--only-values', '-n', name, p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

const T2020 = new Date('2020-02-02T02:02:02Z');

test('diff ID is the sha256 of the tar bytes and size counts file bytes', async (t) => {
  const root = await tempRoot(t);
  const tar = await packTar([
    { name: 'a', data: 'hello' },
    { name: 'dir/', type: 'directory' },
    { name: 'dir/b', data: Buffer.alloc(1000, 1) },
  ]);
  const res = await applyTar(root, streamOf(tar), { whiteouts: 'overlay' });
  assert.equal(res.diffID, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  assert.equal(res.size, 1005);
});

test('trailing bytes after the end-of-archive blocks are part of the diff ID', async (t) => {
  const root = await tempRoot(t);
  const tar = Buffer.concat([await packTar([{ name: 'a', data: 'x' }]), Buffer.alloc(10240)]);
  const res = await applyTar(root, streamOf(tar), { whiteouts: 'plain' });
  assert.equal(res.diffID, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
});

test('files, directories, symlinks, hardlinks, fifos and devices keep mode, owner and mtime', async (t) => {
  const root = await tempRoot(t);
  await apply(root, [
    { name: './', type: 'directory', mode: 0o755 },
    { name: 'bin/', type: 'directory', mode: 0o750, uid: 3, gid: 4, mtime: T2020 },
    { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o4755, uid: 5, gid: 6, mtime: T2020 },
    { name: 'bin/alias', type: 'symlink', linkname: 'tool', uid: 7, gid: 8, mtime: T2020 },
    { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'tmp/pipe', type: 'fifo', mode: 0o640 },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: '/abs-style', data: 'leading slash is relative to the root' },
    { name: './dot-style', data: 'so is ./' },
    { name: 'x/', type: 'directory', pax: { 'SCHILY.xattr.user.berth': 'on-dir' } },
    { name: 'x/f', data: 'f', pax: { 'SCHILY.xattr.user.berth': 'yes', 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
  ]);
  const tool = await fsp.lstat(path.join(root, 'bin/tool'));
  assert.equal(tool.mode & 0o7777, 0o4755, 'setuid survives chown');
  assert.equal(tool.uid, 5);
  assert.equal(tool.gid, 6);
  assert.equal(tool.mtime.getTime(), T2020.getTime());
  const bin = await fsp.lstat(path.join(root, 'bin'));
  assert.equal(bin.mode & 0o7777, 0o750);
  assert.equal(bin.uid, 3);
  assert.equal(bin.mtime.getTime(), T2020.getTime(), 'directory mtime set after its contents');
  const alias = await fsp.lstat(path.join(root, 'bin/alias'));
  assert.ok(alias.isSymbolicLink());
  assert.equal(await fsp.readlink(path.join(root, 'bin/alias')), 'tool');
  assert.equal(alias.uid, 7);
  assert.equal(alias.mtime.getTime(), T2020.getTime());
  const hard = await fsp.lstat(path.join(root, 'bin/hard'));
  assert.equal(hard.ino, tool.ino);
  assert.equal((await fsp.lstat(path.join(root, 'tmp'))).mode & 0o7777, 0o1777);
  const pipe = await fsp.lstat(path.join(root, 'tmp/pipe'));
  assert.ok(pipe.isFIFO());
  assert.equal(pipe.mode & 0o777, 0o640);
  const dev = await fsp.lstat(path.join(root, 'dev/null'));
  assert.ok(dev.isCharacterDevice());
  assert.equal(dev.rdev, (1 << 8) | 3);
  assert.equal(await fsp.readFile(path.join(root, 'abs-style'), 'utf8'), 'leading slash is relative to the root');
  assert.equal(await fsp.readFile(path.join(root, 'dot-style'), 'utf8'), 'so is ./');
  assert.equal(xattr(path.join(root, 'x/f'), 'user.berth'), 'yes');
  assert.equal(xattr(path.join(root, 'x'), 'user.berth'), 'on-dir');
  assert.equal(xattr(path.join(root, 'x/f'), 'trusted.overlay.opaque'), undefined, 'overlay xattrs from a tar are ignored');
});

test('an entry replaces what is there: file over dir, dir over file, file over symlink, symlink over file, dir over a dangling symlink', async (t) => {
  const root = await tempRoot(t);
  await apply(root, [
    { name: 'was-dir/', type: 'directory' },
    { name: 'was-dir/inner', data: 'x' },
    { name: 'was-file', data: 'x' },
    { name: 'was-link', type: 'symlink', linkname: 'was-file' },
    { name: 'merge/', type: 'directory' },
    { name: 'merge/old', data: 'old' },
    { name: 'file-then-link', data: 'x' },
    { name: 'dangling', type: 'symlink', linkname: 'nowhere' },
  ]);
  await apply(root, [
    { name: 'was-dir', data: 'now a file' },
    { name: 'was-file/', type: 'directory' },
    { name: 'was-link', data: 'now a file too' },
    { name: 'merge/', type: 'directory' },
    { name: 'merge/new', data: 'new' },
    { name: 'file-then-link', type: 'symlink', linkname: 'was-dir' },
    { name: 'dangling/', type: 'directory' },
    { name: 'dangling/in', data: 'in' },
  ]);
  assert.equal(await fsp.readlink(path.join(root, 'file-then-link')), 'was-dir');
  assert.ok((await fsp.lstat(path.join(root, 'dangling'))).isDirectory());
  await assert.rejects(fsp.lstat(path.join(root, 'nowhere')), /ENOENT/, 'nothing made through the dangling link');
  assert.equal(await fsp.readFile(path.join(root, 'was-dir'), 'utf8'), 'now a file');
  assert.ok((await fsp.lstat(path.join(root, 'was-file'))).isDirectory());
  assert.ok((await fsp.lstat(path.join(root, 'was-link'))).isFile());
  assert.equal(await fsp.readFile(path.join(root, 'was-file'), 'utf8').catch(() => 'dir'), 'dir');
  assert.deepEqual((await fsp.readdir(path.join(root, 'merge'))).sort(), ['new', 'old'], 'directories merge');
});

test('overlay whiteouts: .wh.NAME is a 0/0 char device, .wh..wh..opq marks the dir opaque', async (t) => {
  const root = await tempRoot(t);
  await apply(
    root,
    [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.gone', uid: 0, gid: 0 },
      { name: 'opaque/', type: 'directory' },
      { name: 'opaque/.wh..wh..opq' },
      { name: 'opaque/kept', data: 'k' },
      { name: 'implicit/.wh..wh..opq' },
      { name: '.wh..wh.plnk/', type: 'directory' },
      { name: '.wh..wh.plnk/1234.5678', data: 'aufs hardlink store' },
    ],
    'overlay',
  );
  const wh = await fsp.lstat(path.join(root, 'etc/gone'));
  assert.ok(wh.isCharacterDevice());
  assert.equal(wh.rdev, 0);
  assert.equal(xattr(path.join(root, 'opaque'), 'trusted.overlay.opaque'), 'y');
  assert.equal(xattr(path.join(root, 'implicit'), 'trusted.overlay.opaque'), 'y', 'the opaque dir is created when missing');
  assert.equal(await fsp.readFile(path.join(root, 'opaque/kept'), 'utf8'), 'k');
  await assert.rejects(fsp.lstat(path.join(root, 'opaque/.wh..wh..opq')));
  assert.deepEqual((await fsp.readdir(root)).sort(), ['etc', 'implicit', 'opaque'], 'AUFS bookkeeping entries are not content');
});

test('plain whiteouts delete the name, opaque dirs keep only this layer\'s entries', async (t) => {
  const root = await tempRoot(t);
  await apply(
    root,
    [
      { name: 'etc/gone', data: 'x' },
      { name: 'etc/stays', data: 'x' },
      { name: 'gonedir/sub/f', data: 'x' },
      { name: 'opq/lower1', data: 'x' },
      { name: 'opq/sub/lower2', data: 'x' },
    ],
    'plain',
  );
  await apply(
    root,
    [
      { name: 'etc/.wh.gone' },
      { name: '.wh.gonedir' },
      { name: 'opq/', type: 'directory' },
      { name: 'opq/sub/', type: 'directory' },
      { name: 'opq/sub/new', data: 'n' },
      // opq comes after some of the layer's own entries: those must stay.
      { name: 'opq/.wh..wh..opq' },
      { name: 'opq/after', data: 'a' },
      { name: 'missing/.wh.x' },
    ],
    'plain',
  );
  assert.deepEqual(await fsp.readdir(path.join(root, 'etc')), ['stays']);
  await assert.rejects(fsp.lstat(path.join(root, 'gonedir')));
  assert.deepEqual((await fsp.readdir(path.join(root, 'opq'))).sort(), ['after', 'sub']);
  assert.deepEqual(await fsp.readdir(path.join(root, 'opq/sub')), ['new']);
  await assert.rejects(fsp.lstat(path.join(root, 'missing')), 'a whiteout does not create its parent in plain mode');
});

test('an empty stream is an empty layer', async (t) => {
  const root = await tempRoot(t);
  const res = await applyTar(root, streamOf(Buffer.alloc(0)), { whiteouts: 'overlay' });
  assert.equal(res.diffID, `sha256:${createHash('sha256').update(Buffer.alloc(0)).digest('hex')}`);
  assert.deepEqual(await fsp.readdir(root), []);
});

test('long names (PAX / GNU) unpack at the full path', async (t) => {
  const root = await tempRoot(t);
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  await apply(root, [{ name: long, data: 'long' }]);
  assert.equal(await fsp.readFile(path.join(root, long), 'utf8'), 'long');
});

test('root-owned entries get exactly their mode, whatever the umask and the directory they are made in', async (t) => {
  // The unpacker changes owner and mode only where the create did not already give them.
  const root = await tempRoot(t);
  // a directory from a lower layer (plain mode): setgid, group 50, so new files would inherit group 50
  await fsp.mkdir(path.join(root, 'shared'));
  await fsp.chown(path.join(root, 'shared'), 0, 50);
  await fsp.chmod(path.join(root, 'shared'), 0o2775);
  const old = process.umask(0o077);
  t.after(() => process.umask(old));
  await apply(
    root,
    [
      { name: 'f666', data: 'a', mode: 0o666 },
      { name: 'f444', data: 'b', mode: 0o444 },
      { name: 'f755', data: 'c', mode: 0o755 },
      { name: 'suid', data: 'd', mode: 0o4755 },
      { name: 'd777/', type: 'directory', mode: 0o777 },
      { name: 'd2755/', type: 'directory', mode: 0o2755, gid: 7 },
      { name: 'shared/file', data: 'e', mode: 0o644, uid: 0, gid: 0 },
    ],
    'plain',
  );
  const mode = async (n: string) => (await fsp.lstat(path.join(root, n))).mode & 0o7777;
  assert.equal(await mode('f666'), 0o666);
  assert.equal(await mode('f444'), 0o444);
  assert.equal(await mode('f755'), 0o755);
  assert.equal(await mode('suid'), 0o4755);
  assert.equal(await mode('d777'), 0o777);
  assert.equal(await mode('d2755'), 0o2755);
  assert.equal((await fsp.lstat(path.join(root, 'd2755'))).gid, 7);
  const shared = await fsp.lstat(path.join(root, 'shared', 'file'));
  assert.equal(shared.gid, 0, 'the header group, not the one inherited from a setgid directory');
  assert.equal(shared.mode & 0o7777, 0o644);
});
