import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, TestContext } from 'node:test';
import { isBerthError } from '../../src/common/errors';
import { exists } from '../../src/common/fsutil';
import { applyTar } from '../../src/layer/tar-apply';
import { PackEntry, packTar, streamOf } from '../../src/layer/tar-pack';
import { ResolvedDirs } from '../../src/layer/tar-path';

/**
 * Hostile layers. The root sits three levels below a fresh temp dir, so that a
 * path escaping by "..", or through a symlink, would land inside that temp dir (or at
 * a unique name on the host) where the test can see it, never on a real host file.
 */
async function sandbox(t: TestContext): Promise<{ base: string; root: string }> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-layer-evil-'));
  t.after(() => fsp.rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'a', 'b', 'root');
  await fsp.mkdir(root, { recursive: true });
  return { base, root };
}

const unique = () => `berth-evil-${randomBytes(6).toString('hex')}`;

async function applyEntries(root: string, entries: PackEntry[], whiteouts: 'overlay' | 'plain' = 'overlay') {
  return applyTar(root, streamOf(await packTar(entries)), { whiteouts });
}

function invalidWith(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(isBerthError(e, 'INVALID_PARAMETER'), `expected INVALID_PARAMETER, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  };
}

test('"../evil" is rejected as an unsafe path and nothing is written above the root', async (t) => {
  const { root } = await sandbox(t);
  await assert.rejects(applyEntries(root, [{ name: '../evil', data: 'x' }]), invalidWith(/unsafe path "\.\.\/evil" escapes the layer/));
  await assert.rejects(applyEntries(root, [{ name: 'ok/../../evil2', data: 'x' }]), invalidWith(/unsafe path "ok\/\.\.\/\.\.\/evil2"/));
  assert.equal(await exists(path.join(root, '..', 'evil')), false);
  assert.equal(await exists(path.join(root, '..', 'evil2')), false);
});

test('an absolute name is taken relative to the root (as Docker does)', async (t) => {
  const { root } = await sandbox(t);
  const name = unique();
  await applyEntries(root, [{ name: `/${name}`, data: 'x' }]);
  assert.equal(await exists(path.join('/', name)), false);
  assert.equal(await fsp.readFile(path.join(root, name), 'utf8'), 'x');
});

test('a symlink to "/" is followed inside the root only', async (t) => {
  const { root } = await sandbox(t);
  const name = unique();
  await applyEntries(root, [
    { name: 'evil', type: 'symlink', linkname: '/' },
    { name: `evil/tmp/${name}`, data: 'x' },
  ]);
  assert.equal(await exists(path.join('/tmp', name)), false, 'host /tmp untouched');
  assert.equal(await fsp.readFile(path.join(root, 'tmp', name), 'utf8'), 'x');
  assert.equal(await fsp.readlink(path.join(root, 'evil')), '/', 'the symlink itself is kept as data');
});

test('a symlink climbing out with ../../.. stops at the root', async (t) => {
  const { base, root } = await sandbox(t);
  await applyEntries(root, [
    { name: 'up', type: 'symlink', linkname: '../../..' },
    { name: 'up/x', data: 'x' },
    { name: 'deep/', type: 'directory' },
    { name: 'deep/up2', type: 'symlink', linkname: '../../../../../a' },
    { name: 'deep/up2/y', data: 'y' },
  ]);
  assert.equal(await exists(path.join(base, 'x')), false);
  assert.equal(await exists(path.join(base, 'a', 'y')), false);
  assert.equal(await fsp.readFile(path.join(root, 'x'), 'utf8'), 'x');
  assert.equal(await fsp.readFile(path.join(root, 'a', 'y'), 'utf8'), 'y');
});

test('a symlink to a host path is followed inside the root', async (t) => {
  const { base, root } = await sandbox(t);
  await applyEntries(root, [
    { name: 'host', type: 'symlink', linkname: base },
    { name: 'host/planted', data: 'x' },
  ]);
  assert.equal(await exists(path.join(base, 'planted')), false);
  assert.equal(await fsp.readFile(path.join(root, base, 'planted'), 'utf8'), 'x');
});

test('a file entry replaces a symlink of the same name instead of writing through it', async (t) => {
  const { base, root } = await sandbox(t);
  const victim = path.join(base, 'victim.txt');
  await fsp.writeFile(victim, 'original');
  await applyEntries(root, [
    { name: 'f', type: 'symlink', linkname: victim },
    { name: 'f', data: 'overwritten?' },
    { name: 'h', type: 'symlink', linkname: victim },
    { name: 'h', type: 'link', linkname: 'f' },
  ]);
  assert.equal(await fsp.readFile(victim, 'utf8'), 'original');
  assert.ok((await fsp.lstat(path.join(root, 'f'))).isFile());
  assert.equal(await fsp.readFile(path.join(root, 'h'), 'utf8'), 'overwritten?');
});

test('hardlinks outside the layer or through an escaping symlink are rejected', async (t) => {
  const { base, root } = await sandbox(t);
  await fsp.writeFile(path.join(base, 'secret'), 'host secret');
  await assert.rejects(
    applyEntries(root, [{ name: 'pw', type: 'link', linkname: '../../etc/passwd' }]),
    invalidWith(/unsafe path "pw" is a hardlink to "\.\.\/\.\.\/etc\/passwd", which escapes the layer/),
  );
  await assert.rejects(
    applyEntries(root, [
      { name: 'evil', type: 'symlink', linkname: '/' },
      { name: 'pw2', type: 'link', linkname: `evil${base}/secret` },
    ]),
    invalidWith(/unsafe path "pw2" goes through a symlink that leaves the layer/),
  );
  await assert.rejects(
    applyEntries(root, [
      { name: 'up', type: 'symlink', linkname: '../../..' },
      { name: 'pw3', type: 'link', linkname: 'up/secret' },
    ]),
    invalidWith(/unsafe path "pw3" goes through a symlink that leaves the layer/),
  );
  for (const n of ['pw', 'pw2', 'pw3']) assert.equal(await exists(path.join(root, n)), false);
  assert.equal((await fsp.stat(path.join(base, 'secret'))).nlink, 1, 'no new link to the host file');
});

test('whiteouts never delete through a symlink out of the root', async (t) => {
  const { base, root } = await sandbox(t);
  await fsp.writeFile(path.join(base, 'victim'), 'v');
  await applyEntries(root, [{ name: 'host', type: 'symlink', linkname: base }], 'plain');
  await applyEntries(root, [{ name: 'host/.wh.victim' }, { name: 'up', type: 'symlink', linkname: '../../..' }], 'plain');
  await applyEntries(root, [{ name: 'up/.wh.victim' }, { name: 'up/.wh..wh..opq' }], 'plain');
  await applyEntries(root, [{ name: 'up/.wh.victim' }, { name: 'host/.wh..wh..opq' }], 'overlay');
  assert.equal(await fsp.readFile(path.join(base, 'victim'), 'utf8'), 'v');
  assert.equal(await exists(path.join(base, 'a')), true);
});

test('a directory replaced by a symlink later in the tar does not get its metadata applied through it', async (t) => {
  const { base, root } = await sandbox(t);
  const outside = path.join(base, 'outside');
  await fsp.mkdir(outside, { mode: 0o755 });
  await fsp.chmod(outside, 0o755);
  await applyEntries(root, [
    { name: 'd/', type: 'directory', mode: 0o700, uid: 1234 },
    { name: 'd/.wh..wh..opq' },
    { name: 'd', type: 'symlink', linkname: outside },
  ]);
  const st = await fsp.stat(outside);
  assert.equal(st.mode & 0o7777, 0o755);
  assert.equal(st.uid, 0);
  assert.ok((await fsp.lstat(path.join(root, 'd'))).isSymbolicLink());
});

test('a truncated tar is rejected with "unexpected EOF"', async (t) => {
  const { root } = await sandbox(t);
  const tar = await packTar([{ name: 'big', data: Buffer.alloc(10_000, 7) }]);
  await assert.rejects(applyTar(root, streamOf(tar.subarray(0, 3000)), { whiteouts: 'overlay' }), invalidWith(/unexpected EOF/));
});

test('random bytes are rejected as an invalid tar header', async (t) => {
  const { root } = await sandbox(t);
  await assert.rejects(applyTar(root, streamOf(randomBytes(8192)), { whiteouts: 'overlay' }), invalidWith(/archive\/tar: invalid tar header/));
  const gz = Buffer.from('1f8b0800000000000003', 'hex');
  await assert.rejects(applyTar(root, streamOf(Buffer.concat([gz, Buffer.alloc(1014)])), { whiteouts: 'overlay' }), invalidWith(/invalid tar header/));
});

test('a stream error reaches the caller', async (t) => {
  const { root } = await sandbox(t);
  const { Readable } = await import('node:stream');
  const failing = new Readable({
    read() {
      this.destroy(new Error('connection reset'));
    },
  });
  await assert.rejects(applyTar(root, failing, { whiteouts: 'overlay' }), /connection reset/);
});

test('symlinks that stay inside the layer are followed, for entries and hardlink targets', async (t) => {
  const { root } = await sandbox(t);
  await applyEntries(root, [
    { name: 'usr/lib/libx.so', data: 'lib' },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    { name: 'lib/added', data: 'through the link' },
    { name: 'hard', type: 'link', linkname: 'lib/libx.so' },
  ]);
  assert.equal(await fsp.readFile(path.join(root, 'usr/lib/added'), 'utf8'), 'through the link');
  assert.equal((await fsp.stat(path.join(root, 'hard'))).ino, (await fsp.stat(path.join(root, 'usr/lib/libx.so'))).ino);
});

test('a symlink loop is rejected, not followed forever', async (t) => {
  const { root } = await sandbox(t);
  await assert.rejects(
    applyEntries(root, [
      { name: 'loop1', type: 'symlink', linkname: 'loop2' },
      { name: 'loop2', type: 'symlink', linkname: 'loop1' },
      { name: 'loop1/x', data: 'x' },
    ]),
    invalidWith(/too many levels of symbolic links/),
  );
});

test('a directory replaced by a symlink later in the same layer is not remembered as a directory', async (t) => {
  // The unpacker remembers resolved directories; replacing one must make it resolve afresh.
  const { base, root } = await sandbox(t);
  const name = unique();
  await applyEntries(root, [
    { name: 'd/', type: 'directory' },
    { name: 'd/first', data: '1' },
    { name: 'd', type: 'symlink', linkname: '../../..' },
    { name: `d/${name}`, data: 'x' },
  ]);
  // "../../.." climbs to the root and stops there: the file lands at the root, never above it
  assert.equal(await fsp.readFile(path.join(root, name), 'utf8'), 'x');
  assert.equal(await exists(path.join(base, name)), false);
  assert.equal(await exists(path.join(root, 'd', 'first')), false);
  assert.equal((await fsp.lstat(path.join(root, 'd'))).isSymbolicLink(), true);
});

test('a parent directory made implicitly, then replaced by a symlink to "/", keeps later entries inside the root', async (t) => {
  const { root } = await sandbox(t);
  const name = unique();
  await applyEntries(root, [
    { name: 'p/q/one', data: '1' },
    { name: 'p/q/two', data: '2' },
    { name: 'p/q', type: 'symlink', linkname: '/' },
    { name: `p/q/${name}`, data: 'x' },
  ]);
  assert.equal(await exists(path.join('/', name)), false);
  assert.equal(await fsp.readFile(path.join(root, name), 'utf8'), 'x');
});

test('a name deeper than any real path is resolved from the root, not prefix by prefix (each prefix a join of the whole name)', () => {
  const dirs = new ResolvedDirs();
  dirs.remember(['a'], ['a']);
  assert.deepEqual(dirs.longestKnown(['a', 'b']), { resolved: ['a'], covered: 1 });
  assert.equal(dirs.longestKnown(new Array(500_000).fill('a')), undefined);
});
