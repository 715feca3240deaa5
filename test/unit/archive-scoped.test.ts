import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { extractTar } from '../../src/archive/extract';
import { packLocation } from '../../src/archive/pack';
import { goBase, goFileMode, goTime, hasModeBit, GoMode } from '../../src/archive/path-stat';
import { ScopedFS, ScopeError } from '../../src/archive/scoped-fs';
import { splitCpArg, splitDirEntry } from '../../src/cli/commands/cp';

/** A tree shaped like a container root: links that would leave it if followed on the host. */
let base: string;
let root: string;
let outside: string;

before(async () => {
  base = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-scoped-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await fsp.mkdir(path.join(root, 'etc'), { recursive: true });
  await fsp.mkdir(path.join(root, 'tmp'));
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(root, 'etc', 'hostname'), 'inside\n');
  await fsp.writeFile(path.join(outside, 'secret'), 'host\n');
  await fsp.symlink('/', path.join(root, 'escape'));
  await fsp.symlink('../../../../..', path.join(root, 'up'));
  await fsp.symlink(outside, path.join(root, 'abs-outside'));
  await fsp.symlink('loop', path.join(root, 'loop'));
});

after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

function tarOf(entries: { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; body?: string; linkname?: string; mode?: number }[]): Readable {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode ?? 0o644 }, e.body ?? '');
  pack.finalize();
  return Readable.from(pack);
}

describe('ScopedFS resolution', () => {
  it('follows symlinks to / and ../../.. inside the root', () => {
    const sfs = ScopedFS.open(root);
    try {
      for (const p of ['/escape/etc/hostname', '/up/etc/hostname', 'escape/escape/up/etc/hostname']) {
        const loc = sfs.resolve(p, { followLast: false });
        assert.equal(loc.treePath, '/etc/hostname');
        assert.equal(readFileSync(loc.fsPath, 'utf8'), 'inside\n');
        loc.close();
      }
      // an absolute target is the root's, not the host's
      assert.throws(() => sfs.resolve('/abs-outside/secret', { followLast: false }), (e: unknown) => e instanceof ScopeError && e.code === 'ENOENT');
      assert.throws(() => sfs.resolve('/loop/x', { followLast: false }), (e: unknown) => e instanceof ScopeError && e.code === 'ELOOP');
      assert.throws(() => sfs.resolve('/etc/hostname/x', { followLast: false }), (e: unknown) => e instanceof ScopeError && e.code === 'ENOTDIR');
      assert.throws(() => sfs.resolve('/nope/x', { followLast: false }), (e: unknown) => e instanceof ScopeError && e.code === 'ENOENT');
      // the last component is followed only when asked
      const link = sfs.resolve('/escape', { followLast: false });
      assert.ok(link.lstat().isSymbolicLink());
      link.close();
      const followed = sfs.resolve('/escape', { followLast: true });
      assert.equal(followed.treePath, '/');
      followed.close();
    } finally {
      sfs.close();
    }
  });

  it("'refuse' rejects any link that would leave the tree", () => {
    const sfs = ScopedFS.open(root, [], 'refuse');
    try {
      assert.throws(() => sfs.resolve('/escape/etc', { followLast: false }), (e: unknown) => e instanceof ScopeError && e.code === 'ESCAPE');
      assert.throws(() => sfs.resolve('/up/etc', { followLast: false }), (e: unknown) => e instanceof ScopeError && e.code === 'ESCAPE');
    } finally {
      sfs.close();
    }
  });

  it('redirects mount destinations to their sources', async () => {
    const vol = path.join(base, 'vol');
    await fsp.mkdir(vol);
    await fsp.writeFile(path.join(vol, 'v'), 'volume\n');
    const sfs = ScopedFS.open(root, [{ destination: '/data', source: vol, readOnly: true }, { destination: '/etc/hostname', source: path.join(outside, 'secret'), readOnly: false }]);
    try {
      const loc = sfs.resolve('/escape/data/v', { followLast: false });
      assert.equal(readFileSync(loc.fsPath, 'utf8'), 'volume\n');
      assert.equal(loc.mount?.readOnly, true);
      loc.close();
      const file = sfs.resolve('/etc/hostname', { followLast: false });
      assert.equal(readFileSync(file.fsPath, 'utf8'), 'host\n', 'a bind of one file is that file');
      file.close();
    } finally {
      sfs.close();
    }
  });
});

describe('extractTar', () => {
  it('refuses ../ names and keeps links and absolute names inside the root (daemon side)', async () => {
    const sfs = ScopedFS.open(root);
    const tmp = sfs.resolve('/tmp', { followLast: true });
    const name = `x-${randomBytes(4).toString('hex')}`;
    try {
      await assert.rejects(extractTar(sfs, tmp, tarOf([{ name: `../../../../${name}` }]), { noOverwriteDirNonDir: false, owner: 'none' }), /is outside of "\/tmp"/);
      await extractTar(
        sfs,
        tmp,
        tarOf([
          { name: 'evil', type: 'symlink', linkname: '/' },
          { name: `evil/${name}`, body: 'a' },
          { name: 'evil2', type: 'symlink', linkname: '../../../../../..' },
          { name: `evil2/etc/${name}`, body: 'b' },
          { name: `/abs-${name}`, body: 'c', mode: 0o4755 },
        ]),
        { noOverwriteDirNonDir: false, owner: 'none' },
      );
      assert.equal(readFileSync(path.join(root, name), 'utf8'), 'a');
      assert.equal(readFileSync(path.join(root, 'etc', name), 'utf8'), 'b');
      assert.equal(readFileSync(path.join(root, 'tmp', `abs-${name}`), 'utf8'), 'c');
      assert.equal(lstatSync(path.join(root, 'tmp', `abs-${name}`)).mode & 0o7777, 0o4755);
      assert.ok(!existsSync(path.join('/', name)) && !existsSync(path.join(base, name)));
      await assert.rejects(
        extractTar(sfs, tmp, tarOf([{ name: 'hl', type: 'link', linkname: '../../etc/passwd' }]), { noOverwriteDirNonDir: false, owner: 'none' }),
        /is outside of/,
      );
    } finally {
      tmp.close();
      sfs.close();
    }
  });

  it("with 'refuse' (the CLI's destination), a tar cannot write through a link it made", async () => {
    const dest = path.join(base, 'dest');
    await fsp.mkdir(dest);
    const sfs = ScopedFS.open(dest, [], 'refuse');
    try {
      await assert.rejects(
        extractTar(sfs, sfs.rootLocation(), tarOf([{ name: 'out', type: 'symlink', linkname: outside }, { name: 'out/planted', body: 'x' }]), { noOverwriteDirNonDir: true, owner: 'none' }),
        /leads outside/,
      );
      await assert.rejects(
        extractTar(sfs, sfs.rootLocation(), tarOf([{ name: 'up', type: 'symlink', linkname: '../outside' }, { name: 'up/planted', body: 'x' }]), { noOverwriteDirNonDir: true, owner: 'none' }),
        /leads outside/,
      );
      assert.ok(!existsSync(path.join(outside, 'planted')));
      assert.equal(readlinkSync(path.join(dest, 'out')), outside, 'the link itself may be made: it is never followed');
    } finally {
      sfs.close();
    }
  });

  it('noOverwriteDirNonDir keeps directories and files from replacing each other', async () => {
    const dest = path.join(base, 'dest2');
    await fsp.mkdir(path.join(dest, 'd'), { recursive: true });
    await fsp.writeFile(path.join(dest, 'f'), 'f');
    const sfs = ScopedFS.open(dest, [], 'refuse');
    try {
      await assert.rejects(extractTar(sfs, sfs.rootLocation(), tarOf([{ name: 'd', body: 'x' }]), { noOverwriteDirNonDir: true, owner: 'none' }), /cannot overwrite directory/);
      await assert.rejects(extractTar(sfs, sfs.rootLocation(), tarOf([{ name: 'f/', type: 'directory' }]), { noOverwriteDirNonDir: true, owner: 'none' }), /cannot overwrite non-directory/);
      await extractTar(sfs, sfs.rootLocation(), tarOf([{ name: 'd', body: 'x' }]), { noOverwriteDirNonDir: false, owner: 'none' });
      assert.equal(readFileSync(path.join(dest, 'd'), 'utf8'), 'x');
    } finally {
      sfs.close();
    }
  });

  it('a packed tree extracts to the same tree, with a rebased top name', async () => {
    const src = ScopedFS.open(root);
    const loc = src.resolve('/etc', { followLast: false });
    const dest = path.join(base, 'dest3');
    await fsp.mkdir(dest);
    const dst = ScopedFS.open(dest, [], 'refuse');
    try {
      await extractTar(dst, dst.rootLocation(), packLocation(src, loc, 'etc'), { noOverwriteDirNonDir: true, owner: 'none', rebase: { from: 'etc', to: 'renamed' } });
      assert.equal(readFileSync(path.join(dest, 'renamed', 'hostname'), 'utf8'), 'inside\n');
    } finally {
      loc.close();
      src.close();
      dst.close();
    }
  });
});

describe('cp helpers', () => {
  it("convert modes to Go's os.FileMode and times to Go's JSON", () => {
    assert.equal(goFileMode(0o040755), 2 ** 31 + 0o755);
    assert.equal(goFileMode(0o120777), 2 ** 27 + 0o777);
    assert.equal(goFileMode(0o104755), 2 ** 23 + 0o755);
    assert.ok(hasModeBit(goFileMode(0o020666), GoMode.charDevice));
    assert.ok(hasModeBit(goFileMode(0o020666), GoMode.device));
    assert.equal(goTime(1_700_000_000_500_000_000n), '2023-11-14T22:13:20.5Z');
    assert.equal(goTime(1_700_000_000_000_000_000n), '2023-11-14T22:13:20Z');
    assert.equal(goBase('/etc/'), 'etc');
    assert.equal(goBase('/etc/.'), '.');
    assert.equal(goBase('/'), '/');
  });

  it('split arguments and paths as docker cp does', () => {
    assert.deepEqual(splitCpArg('web:/etc'), { container: 'web', path: '/etc' });
    assert.deepEqual(splitCpArg('./a:b'), { path: './a:b' });
    assert.deepEqual(splitCpArg('/a:b'), { path: '/a:b' });
    assert.deepEqual(splitCpArg('file'), { path: 'file' });
    assert.deepEqual(splitDirEntry('/a/b/'), { dir: '/a', base: 'b' });
    assert.deepEqual(splitDirEntry('/a/b/.'), { dir: '/a/b', base: '.' });
    assert.deepEqual(splitDirEntry('b'), { dir: '.', base: 'b' });
  });
});
