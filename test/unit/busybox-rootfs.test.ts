import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as tar from 'tar-stream';
import { busyboxApplets, busyboxRootfsTar, busyboxRootfsTarBuffer, busyboxVersion } from '../../src/image/busybox-rootfs';
import { applyTar } from '../../src/layer/tar-apply';
import { streamOf } from '../../src/layer/tar-pack';

async function headers(buf: Buffer): Promise<tar.Header[]> {
  const out: tar.Header[] = [];
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      out.push(entry.header);
      entry.resume();
    }
  })();
  extract.end(buf);
  await done;
  return out;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('the busybox rootfs tar is the same bytes every time', async () => {
  const a = await busyboxRootfsTarBuffer();
  const b = await busyboxRootfsTarBuffer();
  assert.equal(sha256(a), sha256(b));
  const chunks: Buffer[] = [];
  for await (const c of busyboxRootfsTar()) chunks.push(c as Buffer);
  assert.equal(sha256(Buffer.concat(chunks)), sha256(a), 'the stream gives the same bytes');
});

test('the busybox rootfs has the binary, every applet, the directories and the accounts', async () => {
  const list = await headers(await busyboxRootfsTarBuffer());
  const byName = new Map(list.map((h) => [h.name.replace(/\/$/, ''), h]));
  assert.equal(byName.get('bin/busybox')?.type, 'file');
  assert.equal(byName.get('bin/busybox')?.mode, 0o755);
  assert.equal(byName.get('bin/sh')?.type, 'symlink');
  assert.equal(byName.get('bin/sh')?.linkname, '/bin/busybox');
  for (const applet of busyboxApplets()) assert.ok(byName.has(applet), `applet ${applet}`);
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'home', 'tmp', 'var', 'var/tmp', 'proc', 'sys', 'dev']) {
    assert.equal(byName.get(dir)?.type, 'directory', dir);
  }
  assert.equal(byName.get('tmp')?.mode, 0o1777);
  for (const h of list) {
    assert.equal(h.uid, 0);
    assert.equal(h.gid, 0);
    assert.equal(h.mtime.toISOString(), '2024-01-01T00:00:00.000Z');
  }
  const names = list.map((h) => h.name);
  const parents = new Set<string>();
  for (const n of names) {
    const parent = path.posix.dirname(n.replace(/\/$/, ''));
    if (parent !== '.') assert.ok(parents.has(parent), `${n} comes after its directory`);
    if (byName.get(n.replace(/\/$/, ''))?.type === 'directory') parents.add(n.replace(/\/$/, ''));
  }
});

test('the busybox rootfs runs: /bin/sh in a chroot of the unpacked layer', async (t) => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-busybox-'));
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const buf = await busyboxRootfsTarBuffer();
  const res = await applyTar(root, streamOf(buf), { whiteouts: 'overlay' });
  assert.equal(res.diffID, `sha256:${sha256(buf)}`);
  const out = execFileSync('chroot', [root, '/bin/sh', '-c', 'echo hello from $(whoami); awk "BEGIN{print 6*7}"; grep nobody /etc/passwd'], {
    encoding: 'utf8',
    env: { PATH: '/bin:/sbin:/usr/bin:/usr/sbin' },
  });
  assert.equal(out, 'hello from root\n42\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
});

test('busyboxVersion reads the version from busybox --help', () => {
  assert.match(busyboxVersion(), /^\d+\.\d+\.\d+/);
});
