import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BERTH, TestDaemon, runCommand } from '../helpers/daemon';
import { packTar } from '../../src/layer/tar-pack';

let d: TestDaemon;
let tmp: string;
before(async () => {
  d = await TestDaemon.start();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-img-'));
});
after(async () => {
  await d?.cleanup();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

test('busybox:latest is built in with the same ID on every fresh daemon', async () => {
  const id1 = (await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
  assert.match(id1, /^sha256:[0-9a-f]{64}$/);
  const other = await TestDaemon.start();
  try {
    const id2 = (await other.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox:latest'])).stdout.trim();
    assert.equal(id2, id1);
  } finally {
    await other.cleanup();
  }
  const images = await d.berth(['images']);
  assert.match(images.stdout.split('\n')[0], /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
  assert.match(images.stdout, new RegExp(`^busybox\\s+latest\\s+${id1.slice(7, 19)}\\s+.*\\s+\\d+(\\.\\d+)?MB$`, 'm'));
});

test('tag, rmi, and image inspect', async () => {
  assert.equal((await d.berth(['tag', 'busybox', 'mybox:1'])).code, 0);
  const inspect = JSON.parse((await d.berth(['image', 'inspect', 'mybox:1'])).stdout)[0];
  assert.deepEqual(inspect.RepoTags.sort(), ['busybox:latest', 'mybox:1']);
  assert.equal(inspect.Os, 'linux');
  assert.deepEqual(inspect.Config.Cmd, ['sh']);
  assert.equal(inspect.RootFS.Layers.length, 1);
  const rmi = await d.berth(['rmi', 'mybox:1']);
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.match(rmi.stdout, /Untagged: mybox:1/);
  assert.doesNotMatch(rmi.stdout, /Deleted/);
  assert.equal((await d.berth(['image', 'inspect', 'busybox'])).code, 0, 'busybox is still there');
});

test('import from a file and from stdin, with --change; rmi frees the image', async () => {
  const tar = await packTar([
    { name: 'bin/', type: 'directory' },
    { name: 'hello.txt', data: 'hi from import\n' },
  ]);
  const file = path.join(tmp, 'rootfs.tar');
  await fsp.writeFile(file, tar);
  const imp = await d.berth(['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV A=b', file, 'myimg:1']);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const cfg = JSON.parse((await d.berth(['image', 'inspect', '-f', '{{json .Config}}', 'myimg:1'])).stdout);
  assert.deepEqual(cfg.Cmd, ['/bin/sh']);
  assert.deepEqual(cfg.Env, ['A=b']);

  const fromStdin = await d.berth(['import', '-', 'x'], { input: tar });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal((await d.berth(['images', '-q', 'x'])).stdout.trim().length, 12);

  // both images hold the same layer: removing one deletes the image but keeps the shared layer
  const layer = JSON.parse((await d.berth(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'x'])).stdout)[0];
  const rmi = await d.berth(['rmi', 'myimg:1']);
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.match(rmi.stdout, /Untagged: myimg:1/);
  assert.equal(rmi.stdout.match(/Deleted: sha256:/g)?.length, 1, rmi.stdout);
  assert.equal((await d.berth(['image', 'inspect', 'myimg:1'])).code, 1);
  const rmiLast = await d.berth(['rmi', 'x']);
  assert.equal(rmiLast.code, 0, rmiLast.stderr);
  assert.ok(rmiLast.stdout.includes(`Deleted: ${layer}`), `the last user of layer ${layer} frees it:\n${rmiLast.stdout}`);
});

test('an image used by a container cannot be removed without -f', async () => {
  await d.berth(['tag', 'busybox', 'used:1']);
  const c = await d.berth(['create', 'used:1', 'true']);
  assert.equal(c.code, 0, c.stderr);
  const id = (await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
  const byId = await d.berth(['rmi', id]);
  assert.notEqual(byId.code, 0);
  assert.match(byId.stderr, /conflict: unable to delete [0-9a-f]{12} \(must be forced\)/);
  // the image is still whole: a container runs from it
  assert.equal((await d.berth(['run', '--rm', 'busybox', 'true'])).code, 0);
  await d.berth(['rm', c.stdout.trim()]);
  await d.berth(['rmi', 'used:1']);
});

/** A file name under the host's /tmp that only this run uses: where an escape would land. */
function hostTarget(what: string): string {
  return path.join('/tmp', `escaped-by-berth-${what}-${randomBytes(6).toString('hex')}`);
}

/** The content of one file of an image's root, read through a container made from it. */
async function fileInImage(image: string, file: string): Promise<string> {
  const c = await d.berth(['create', image, 'true']);
  assert.equal(c.code, 0, c.stderr);
  try {
    const r = await runCommand('sh', ['-c', `${BERTH} -H ${d.host} export ${c.stdout.trim()} | tar -xO ${file.replace(/^\//, '')}`]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  } finally {
    await d.berth(['rm', c.stdout.trim()]);
  }
}

/** Layer tars made to write outside the layer: `..` up to the host's /tmp, or through a symlink to "/". */
async function evilLayers(): Promise<{ dotdot: { tar: Buffer; target: string }; symlink: { tar: Buffer; target: string } }> {
  // Thirty ".." climb to "/" from any depth the layer could be unpacked at.
  const dotdotTarget = hostTarget('dotdot');
  const dotdotName = `${'../'.repeat(30)}${dotdotTarget.slice(1)}`;
  const symlinkTarget = hostTarget('symlink');
  return {
    dotdot: { tar: await packTar([{ name: dotdotName, data: 'x' }]), target: dotdotTarget },
    symlink: {
      tar: await packTar([
        { name: 'link', type: 'symlink', linkname: '/' },
        { name: `link${symlinkTarget}`, data: 'inside\n' },
      ]),
      target: symlinkTarget,
    },
  };
}

test('import: a name climbing out of the layer is refused, a symlink to "/" is followed inside the root', async () => {
  const before = (await d.berth(['images', '-q'])).stdout;
  const corrupt = await d.berth(['import', '-', 'bad:1'], { input: Buffer.from('this is not a tar archive at all'.repeat(40)) });
  assert.notEqual(corrupt.code, 0);
  assert.match(corrupt.stderr, /Error response from daemon: .*(tar|header|archive)/i);

  const evil = await evilLayers();
  // Docker refuses the entry: `"../../…" is outside of "<root>"`; berth names it the same way.
  const dotdot = await d.berth(['import', '-', 'evil:1'], { input: evil.dotdot.tar });
  assert.equal(dotdot.code, 1);
  assert.match(dotdot.stderr, /^Error response from daemon: invalid tar header: unsafe path "(\.\.\/){30}tmp\/escaped-by-berth-dotdot-[0-9a-f]+" escapes the layer$/m);
  await assert.rejects(fsp.access(evil.dotdot.target), { code: 'ENOENT' });
  assert.equal((await d.berth(['images', '-q'])).stdout, before, 'a refused import stores no image');

  // Docker unpacks chrooted into the layer: "/" is the layer's root, so the file lands in it.
  const symlink = await d.berth(['import', '-', 'evil:2'], { input: evil.symlink.tar });
  assert.equal(symlink.code, 0, symlink.stderr);
  await assert.rejects(fsp.access(evil.symlink.target), { code: 'ENOENT' });
  assert.equal(await fileInImage('evil:2', evil.symlink.target), 'inside\n');
  assert.equal((await d.berth(['rmi', 'evil:2'])).code, 0);

  assert.equal((await d.berth(['images', '-q'])).stdout, before);
  assert.equal((await d.berth(['run', '--rm', 'busybox', 'true'])).code, 0);
});

/** A legacy `docker save` archive of one image made of one layer tar. */
async function saveArchive(layer: Buffer, tag: string): Promise<Buffer> {
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layer)}`] } }),
  );
  const dir = sha256(layer);
  return packTar([
    { name: `${sha256(config)}.json`, data: config },
    { name: `${dir}/`, type: 'directory' },
    { name: `${dir}/layer.tar`, data: layer },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: [tag], Layers: [`${dir}/layer.tar`] }]) },
  ]);
}

test('load: the same layers inside a saved image are refused, or unpacked inside the root', async () => {
  const before = (await d.berth(['images', '-q'])).stdout;
  const evil = await evilLayers();
  const dotdot = await d.berth(['load'], { input: await saveArchive(evil.dotdot.tar, 'evil:3') });
  assert.equal(dotdot.code, 1);
  assert.match(dotdot.stderr, /invalid tar header: unsafe path "(\.\.\/){30}tmp\/escaped-by-berth-dotdot-[0-9a-f]+" escapes the layer/);
  await assert.rejects(fsp.access(evil.dotdot.target), { code: 'ENOENT' });
  assert.equal((await d.berth(['images', '-q'])).stdout, before, 'a refused load stores no image');

  const symlink = await d.berth(['load'], { input: await saveArchive(evil.symlink.tar, 'evil:4') });
  assert.equal(symlink.code, 0, symlink.stderr);
  assert.match(symlink.stdout, /Loaded image: evil:4/);
  await assert.rejects(fsp.access(evil.symlink.target), { code: 'ENOENT' });
  assert.equal(await fileInImage('evil:4', evil.symlink.target), 'inside\n');
  assert.equal((await d.berth(['rmi', 'evil:4'])).code, 0);
  assert.equal((await d.berth(['images', '-q'])).stdout, before);
});
