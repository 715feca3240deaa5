import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, TestContext } from 'node:test';
import { isBerthError } from '../../src/common/errors';
import { createSnapshotter, OverlaySnapshotter, VfsSnapshotter } from '../../src/layer';
import { mountAll, unmount } from '../../src/layer/mount';
import type { Snapshotter } from '../../src/layer/snapshotter';
import { packTar, streamOf } from '../../src/layer/tar-pack';

/** A fresh data root; mounts made by the test are undone even when it fails. */
async function dataRoot(t: TestContext, prefix = 'berth-layer-snap-'): Promise<{ root: string; mountpoint: (name: string) => Promise<string> }> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  const mounted: string[] = [];
  t.after(async () => {
    for (const m of mounted.reverse()) {
      await unmount(m).catch(() => undefined);
      await unmount(m).catch(() => undefined);
    }
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

async function layer(s: Snapshotter, key: string, parent: string | undefined, name: string, entries: Parameters<typeof packTar>[0]) {
  await s.prepare(key, parent);
  const res = await s.apply(key, streamOf(await packTar(entries)));
  await s.commit(name, key);
  return res;
}

const drivers: Array<{ driver: 'overlay2' | 'vfs'; make: (root: string) => OverlaySnapshotter | VfsSnapshotter }> = [
  { driver: 'overlay2', make: (root) => new OverlaySnapshotter(path.join(root, 'overlay2')) },
  { driver: 'vfs', make: (root) => new VfsSnapshotter(path.join(root, 'vfs')) },
];

for (const { driver, make } of drivers) {
  test(`${driver}: two layers and a container snapshot, mounted, written, removed`, async (t) => {
    const { root, mountpoint } = await dataRoot(t);
    const s = make(root);
    await s.init();
    assert.equal(s.driver, driver);

    await layer(s, 'unpack-1', undefined, 'chain-1', [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/hostname', data: 'base' },
      { name: 'etc/removed-later', data: 'x' },
      { name: 'opt/lower-only', data: 'lower' },
    ]);
    await layer(s, 'unpack-2', 'chain-1', 'chain-2', [
      { name: 'etc/.wh.removed-later' },
      { name: 'opt/', type: 'directory' },
      { name: 'opt/.wh..wh..opq' },
      { name: 'opt/upper-only', data: 'upper' },
      { name: 'bin/tool', data: 'tool', mode: 0o755 },
    ]);
    assert.deepEqual(await s.stat('chain-2'), { name: 'chain-2', parent: 'chain-1', kind: 'committed' });
    assert.equal(await s.stat('unpack-2'), undefined, 'the key is gone after commit');

    const mounts = await s.prepare('container-1', 'chain-2');
    assert.deepEqual(await s.mounts('container-1'), mounts);
    const target = await mountpoint('rootfs');
    await mountAll(mounts, target);
    assert.equal(await fsp.readFile(path.join(target, 'etc/hostname'), 'utf8'), 'base');
    assert.equal(await fsp.readFile(path.join(target, 'bin/tool'), 'utf8'), 'tool');
    await assert.rejects(fsp.lstat(path.join(target, 'etc/removed-later')), /ENOENT/, 'whiteout hides the lower file');
    assert.deepEqual(await fsp.readdir(path.join(target, 'opt')), ['upper-only'], 'opaque dir hides the lower dir');
    await fsp.writeFile(path.join(target, 'etc/hostname'), 'written by the container');
    await fsp.writeFile(path.join(target, 'new-file'), 'new');
    await unmount(target);

    const changes = await s.changesDir('container-1');
    assert.equal(await fsp.readFile(path.join(changes, 'new-file'), 'utf8'), 'new');
    assert.ok((await s.usage('container-1')) > 0);
    // The committed layers are untouched by the container's writes.
    const view = await mountpoint('view');
    await mountAll(await s.mounts('chain-2'), view);
    assert.equal(await fsp.readFile(path.join(view, 'etc/hostname'), 'utf8'), 'base');
    await assert.rejects(fsp.writeFile(path.join(view, 'x'), 'x'), /EROFS/, 'a committed snapshot mounts read-only');
    await unmount(view);

    await assert.rejects(s.remove('chain-2'), (e) => isBerthError(e, 'CONFLICT'));
    await s.remove('container-1');
    await s.remove('chain-2');
    await s.remove('chain-1');
    assert.equal(await s.stat('chain-1'), undefined);
    assert.deepEqual(await fsp.readdir(path.join(s.root, 'snapshots')), []);
  });

  test(`${driver}: deletions() resolves once the files of the removals begun are deleted`, async (t) => {
    const { root } = await dataRoot(t);
    const s = make(root);
    await s.init();
    const files = Array.from({ length: 300 }, (_, i) => ({ name: `d${i % 10}/f${i}`, data: 'x'.repeat(i) }));
    await layer(s, 'unpack-w', undefined, 'chain-w', [...Array.from({ length: 10 }, (_, i) => ({ name: `d${i}/`, type: 'directory' as const })), ...files]);
    const trash = path.join(root, driver, 'trash');
    await s.remove('chain-w');
    assert.equal(await s.stat('chain-w'), undefined);
    await s.deletions();
    assert.deepEqual(await fsp.readdir(trash), [], 'nothing left to delete');
  });

  test(`${driver}: errors for missing, duplicate and misused snapshots`, async (t) => {
    const { root } = await dataRoot(t);
    const s = make(root);
    await s.init();
    await assert.rejects(s.commit('name', 'no-such-key'), (e) => isBerthError(e, 'NOT_FOUND'));
    await assert.rejects(s.prepare('k', 'no-such-parent'), (e) => isBerthError(e, 'NOT_FOUND'));
    await assert.rejects(s.remove('nothing'), (e) => isBerthError(e, 'NOT_FOUND'));
    await s.prepare('k');
    await assert.rejects(s.prepare('k'), (e) => isBerthError(e, 'CONFLICT'));
    await assert.rejects(s.prepare('child', 'k'), (e) => isBerthError(e, 'INVALID_PARAMETER'), 'an active snapshot is no parent');
    await s.commit('c', 'k');
    await assert.rejects(s.apply('c', streamOf(await packTar([]))), (e) => isBerthError(e, 'INVALID_PARAMETER'));
    await s.prepare('k2');
    await assert.rejects(s.commit('c', 'k2'), (e) => isBerthError(e, 'CONFLICT'));
    assert.equal((await s.stat('k2'))?.kind, 'active', 'a failed commit leaves the key as it was');
  });

  test(`${driver}: state survives a restart; crash leftovers are cleaned`, async (t) => {
    const { root, mountpoint } = await dataRoot(t);
    const first = make(root);
    await first.init();
    await layer(first, 'k', undefined, 'sha256:aaaa', [{ name: 'hello', data: 'world' }]);
    await first.prepare('ctr', 'sha256:aaaa');
    // A snapshot dir that never got its ref, as a crash in prepare leaves it.
    await fsp.mkdir(path.join(first.root, 'snapshots', 'orphan'), { recursive: true });

    const again = make(root);
    await again.init();
    assert.deepEqual(await again.stat('ctr'), { name: 'ctr', parent: 'sha256:aaaa', kind: 'active' });
    assert.deepEqual(await again.stat('sha256:aaaa'), { name: 'sha256:aaaa', kind: 'committed', parent: undefined });
    assert.equal(await fsp.readdir(path.join(first.root, 'snapshots')).then((d) => d.includes('orphan')), false);
    const target = await mountpoint('rootfs');
    await mountAll(await again.mounts('ctr'), target);
    assert.equal(await fsp.readFile(path.join(target, 'hello'), 'utf8'), 'world');
    await unmount(target);
  });
}

test('the snapshots folder spreads its snapshots over block groups where the file system can (chattr +T)', async (t) => {
  const { root } = await dataRoot(t);
  const flags = (dir: string) => execFileSync('lsattr', ['-d', dir], { encoding: 'utf8' }).split(' ')[0];
  try {
    flags(root);
  } catch {
    t.skip(`${os.tmpdir()} has no inode flags (lsattr fails)`);
    return;
  }
  const s = new OverlaySnapshotter(path.join(root, 'overlay2'));
  await s.init();
  assert.match(flags(path.join(root, 'overlay2', 'snapshots')), /T/);
  assert.doesNotMatch(flags(path.join(root, 'overlay2', 'refs')), /T/, 'only the snapshots folder');
});

test('overlay2: 60 layers under a long data root still mount', async (t) => {
  const { root, mountpoint } = await dataRoot(t, `berth-layer-snap-${'long'.repeat(20)}-`);
  const s = new OverlaySnapshotter(path.join(root, 'overlay2'));
  await s.init();
  let parent: string | undefined;
  for (let i = 0; i < 60; i++) {
    await layer(s, `k${i}`, parent, `layer-${i}`, [{ name: `file-${i}`, data: String(i) }, { name: 'top', data: String(i) }]);
    parent = `layer-${i}`;
  }
  const mounts = await s.prepare('ctr', parent);
  assert.ok(mounts[0].options.join(',').length > 4096, 'the absolute options would not fit one page');
  const target = await mountpoint('rootfs');
  await mountAll(mounts, target);
  assert.equal(await fsp.readFile(path.join(target, 'file-0'), 'utf8'), '0');
  assert.equal(await fsp.readFile(path.join(target, 'top'), 'utf8'), '59');
  await unmount(target);
});

test('unmount of something not mounted succeeds', async (t) => {
  const { root } = await dataRoot(t);
  await unmount(root);
  await unmount(path.join(root, 'does-not-exist'));
});

test('createSnapshotter picks overlay2 here, honours vfs, and keeps the prior driver', async (t) => {
  const { root } = await dataRoot(t);
  const vfsRoot = path.join(root, 'a');
  const v = await createSnapshotter(vfsRoot, 'vfs');
  assert.equal(v.driver, 'vfs');
  await v.prepare('something');
  assert.equal((await createSnapshotter(vfsRoot)).driver, 'vfs', 'existing vfs snapshots keep vfs');
  assert.equal((await createSnapshotter(path.join(root, 'b'))).driver, 'overlay2');
  await assert.rejects(createSnapshotter(path.join(root, 'c'), 'zfs' as 'vfs'), (e) => isBerthError(e, 'INVALID_PARAMETER'));
  assert.deepEqual((await fsp.readdir(path.join(root, 'b'))).sort(), ['overlay2'], 'the overlay probe cleans up');
});
