/**
 * The native addon's mount(2)/umount2(2) (src/native/) through src/layer/mount.ts, as the
 * daemon uses them for a container's root filesystem; and the same calls through mount(8)
 * with BERTH_NATIVE=0, so both paths behave alike.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../../src/native';
import { mountAll, unmount } from '../../src/layer/mount';
import { removeTree } from '../../src/common/fsutil';

const mounted = (target: string) => readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === target);

async function overlayDirs(): Promise<{ base: string; lower: string; upper: string; work: string; target: string }> {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-native-mount-'));
  const d = { base, lower: path.join(base, 'lower'), upper: path.join(base, 'upper'), work: path.join(base, 'work'), target: path.join(base, 'rootfs') };
  for (const p of [d.lower, d.upper, d.work, d.target]) await fsp.mkdir(p);
  await fsp.writeFile(path.join(d.lower, 'from-lower'), 'hello');
  return d;
}

test('npm run build builds the addon, and BERTH_NATIVE=0 turns it off', () => {
  const loaded = (env: string | undefined) => {
    const { BERTH_NATIVE: _, ...rest } = process.env;
    const code = `process.stdout.write(String(require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'native'))}).native !== undefined))`;
    return execFileSync(process.execPath, ['-e', code], { env: env === undefined ? rest : { ...rest, BERTH_NATIVE: env } }).toString();
  };
  assert.equal(loaded(undefined), 'true', 'dist/native/berth_native.node loads');
  assert.equal(loaded('0'), 'false');
  assert.equal(native !== undefined, process.env.BERTH_NATIVE !== '0', 'this test runs the path the environment chose');
});

test('an overlay is mounted and unmounted by system calls; unmounting twice is fine', async () => {
  const d = await overlayDirs();
  try {
    await mountAll([{ type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${d.lower}`, `upperdir=${d.upper}`, `workdir=${d.work}`] }], d.target);
    assert.ok(mounted(d.target));
    assert.equal(await fsp.readFile(path.join(d.target, 'from-lower'), 'utf8'), 'hello');
    await fsp.writeFile(path.join(d.target, 'written'), 'x');
    assert.equal(await fsp.readFile(path.join(d.upper, 'written'), 'utf8'), 'x', 'writes land in the upper dir');
    await unmount(d.target);
    assert.equal(mounted(d.target), false);
    await unmount(d.target); // not mounted: success, as umount(8)'s "not mounted" was
    await unmount(path.join(d.base, 'no-such-dir'));
  } finally {
    await unmount(d.target).catch(() => undefined);
    await fsp.rm(d.base, { recursive: true, force: true });
  }
});

test('a busy mount is detached lazily, and a bad mount says why', async () => {
  const d = await overlayDirs();
  try {
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${d.lower}`, `upperdir=${d.upper}`, `workdir=${d.work}`] }], d.target);
    const fd = openSync(path.join(d.target, 'from-lower'), 'r');
    try {
      await unmount(d.target);
      assert.equal(mounted(d.target), false, 'gone from the mount table while a file is open');
    } finally {
      closeSync(fd);
    }
    await assert.rejects(
      mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${path.join(d.base, 'missing')}`] }], d.target),
      /mounting: .*(No such file|ENOENT|special device)/,
    );
    assert.equal(mounted(d.target), false);
  } finally {
    await unmount(d.target).catch(() => undefined);
    await fsp.rm(d.base, { recursive: true, force: true });
  }
});

test('removeTree removes a tree whole, follows no link out of it, stops at a mount inside it, and takes a missing path', async () => {
  const base = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-native-rm-'));
  const outside = path.join(base, 'outside');
  const tree = path.join(base, 'tree');
  const mnt = path.join(tree, 'a', 'mnt');
  try {
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'keep'), 'kept');
    await fsp.mkdir(path.join(tree, 'a', 'b', 'c'), { recursive: true });
    await fsp.writeFile(path.join(tree, 'a', 'b', 'c', 'f'), 'x');
    await fsp.writeFile(path.join(tree, 'top'), 'x');
    await fsp.symlink(outside, path.join(tree, 'a', 'link-to-outside'));
    await fsp.symlink('/nonexistent', path.join(tree, 'dangling'));
    execFileSync('mkfifo', [path.join(tree, 'a', 'fifo')]);
    await fsp.mkdir(path.join(tree, 'a', 'locked'), { mode: 0o000 });
    await fsp.writeFile(path.join(tree, 'a', 'b', 'ro'), 'x', { mode: 0o000 });
    await removeTree(tree);
    await assert.rejects(fsp.lstat(tree), /ENOENT/);
    assert.equal(await fsp.readFile(path.join(outside, 'keep'), 'utf8'), 'kept', 'a link is removed, not followed');
    await removeTree(tree); // missing: no error

    if (native?.removeTree) {
      // a file system mounted inside: the native walk does not enter it
      await fsp.mkdir(mnt, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mnt]);
      await fsp.writeFile(path.join(mnt, 'inside'), 'mounted');
      await assert.rejects(removeTree(tree), (e: NodeJS.ErrnoException) => e.code === 'EBUSY');
      assert.equal(await fsp.readFile(path.join(mnt, 'inside'), 'utf8'), 'mounted');
      execFileSync('umount', [mnt]);
      // nor a bind mount of a folder of the same file system (a container's root can be one)
      await fsp.writeFile(path.join(outside, 'bound'), 'bound');
      execFileSync('mount', ['--bind', outside, mnt]);
      await assert.rejects(removeTree(tree), (e: NodeJS.ErrnoException) => e.code === 'EBUSY');
      assert.equal(await fsp.readFile(path.join(outside, 'bound'), 'utf8'), 'bound');
    }
  } finally {
    if (mounted(mnt)) execFileSync('umount', [mnt]);
    await fsp.rm(base, { recursive: true, force: true });
  }
});

test('sealedCopy holds a copy of a program that runs and that nothing can write', { skip: native?.sealedCopy ? false : 'no native addon' }, () => {
  const fd = native!.sealedCopy!('/bin/echo');
  const file = `/proc/${process.pid}/fd/${fd}`;
  try {
    assert.equal(execFileSync(file, ['sealed']).toString(), 'sealed\n');
    // F_SEAL_WRITE: not even root may change it, which is what protects the runtime's binary
    assert.throws(() => writeFileSync(file, 'x'), /EPERM/);
    assert.throws(() => native!.sealedCopy!('/nonexistent/program'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  } finally {
    closeSync(fd);
  }
});
