import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';
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

test('bad imports are refused and nothing stored is damaged', async () => {
  const before = (await d.berth(['images', '-q'])).stdout;
  const corrupt = await d.berth(['import', '-', 'bad:1'], { input: Buffer.from('this is not a tar archive at all'.repeat(40)) });
  assert.notEqual(corrupt.code, 0);
  assert.match(corrupt.stderr, /Error response from daemon: .*(tar|header|archive)/i);

  for (const evil of [[{ name: '../escape.txt', data: 'x' }], [{ name: 'link', type: 'symlink' as const, linkname: '/' }, { name: 'link/tmp/escaped-by-berth', data: 'x' }]]) {
    const tar = await packTar(evil);
    const r = await d.berth(['import', '-', 'evil:1'], { input: tar });
    // a symlink to "/" must be resolved inside the layer, never on the host
    await assert.rejects(fsp.access('/tmp/escaped-by-berth'));
    await assert.rejects(fsp.access(path.join(path.dirname(d.dataRoot), 'escape.txt')));
    if (evil[0].name.startsWith('..')) {
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\.\.\/escape\.txt/);
    } else if (r.code === 0) {
      await d.berth(['rmi', 'evil:1']);
    }
  }
  assert.equal((await d.berth(['images', '-q'])).stdout, before);
  assert.equal((await d.berth(['run', '--rm', 'busybox', 'true'])).code, 0);
});
