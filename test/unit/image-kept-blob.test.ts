/**
 * A pulled gzip layer kept as the blob it came in (ImageStore.keepCompressed): committed only
 * once the blob's own check has passed, read back as its tar, deleted with its last user.
 */
import { test, TestContext } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import { ContentStore } from '../../src/image/content-store';
import { ImageStore } from '../../src/image/store';
import { OverlaySnapshotter } from '../../src/layer';
import { packTar } from '../../src/layer/tar-pack';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const exists = (p: string) => fsp.access(p).then(() => true, () => false);

async function stores(t: TestContext): Promise<{ images: ImageStore; content: ContentStore }> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-kept-'));
  t.after(() => fsp.rm(root, { recursive: true, force: true }));
  const snapshotter = new OverlaySnapshotter(path.join(root, 'overlay2'));
  await snapshotter.init();
  const content = await ContentStore.open(path.join(root, 'content'));
  return { images: await ImageStore.open(path.join(root, 'image'), snapshotter, content), content };
}

/** What pull.ts puts before the store: a check of the whole blob, failing at its end when told to. */
function verifier(fail: boolean): Transform {
  return new Transform({
    transform: (chunk, _e, cb) => cb(null, chunk),
    flush: (cb) => cb(fail ? new Error('filesystem layer verification failed') : null),
  });
}

test('a kept blob is not committed before its check has passed, though gzip ends before the blob does', async (t) => {
  const { images, content } = await stores(t);
  const tar = await packTar([{ name: 'f', data: 'hello' }]);
  // gzip ignores what follows its end: zeros after it leave the tar whole
  const blob = Buffer.concat([gzipSync(tar), Buffer.alloc(4096)]);
  const desc = { digest: sha256(blob), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: blob.length };
  const source = new PassThrough();
  const checked = verifier(true);
  source.pipe(checked);
  const gunzip = createGunzip();
  const kept = images.keepCompressed(desc, checked, gunzip);
  const unpacking = images.unpackDetached(gunzip, kept);
  source.write(blob); // every byte passes, and the tar ends ...
  await new Promise((r) => setTimeout(r, 200));
  source.end(); // ... well before the check fails
  await assert.rejects(unpacking, /verification failed/);
  assert.equal(await exists(content.blobPath(desc.digest)), false, 'nothing kept under a digest that was not checked');
});

test('a kept blob gives back its tar, is what push may send, and goes with its last layer', async (t) => {
  const { images, content } = await stores(t);
  const tar = await packTar([{ name: 'd/', type: 'directory' }, { name: 'd/f', data: 'x'.repeat(10000) }]);
  const blob = gzipSync(tar);
  const desc = { digest: sha256(blob), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: blob.length };
  const unpack = async () => {
    const checked = verifier(false);
    const gunzip = createGunzip();
    const kept = images.keepCompressed(desc, checked, gunzip);
    const unpacking = images.unpackDetached(gunzip, kept);
    checked.end(blob);
    return unpacking;
  };

  const layer = await unpack();
  assert.equal(layer.diffID, sha256(tar));
  assert.deepEqual(layer.stored, { ...desc, tarSize: tar.length });
  await images.attachLayer(layer);
  assert.equal(await exists(content.blobPath(layer.diffID)), false, 'no tar beside it');
  const back = await images.layerTar(layer.diffID);
  assert.equal(back.size, tar.length);
  const chunks: Buffer[] = [];
  for await (const c of back.open()) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(tar));
  assert.equal(back.compressed?.digest, desc.digest);

  // the same blob unpacked again and discarded: the layer still names it, so it stays
  const again = await unpack();
  await images.discardDetached(again);
  assert.equal(await exists(content.blobPath(desc.digest)), true);

  // unpacked again, and found to be a layer the store has: this copy goes, the blob stays
  await images.attachLayer(await unpack());
  assert.equal(await exists(content.blobPath(desc.digest)), true);
});

test('a discarded layer whose blob nothing else names takes the blob with it', async (t) => {
  const { images, content } = await stores(t);
  const blob = gzipSync(await packTar([{ name: 'only', data: 'one' }]));
  const desc = { digest: sha256(blob), mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: blob.length };
  const checked = verifier(false);
  const gunzip = createGunzip();
  const unpacking = images.unpackDetached(gunzip, images.keepCompressed(desc, checked, gunzip));
  checked.end(blob);
  const layer = await unpacking;
  assert.equal(await exists(content.blobPath(desc.digest)), true);
  await images.discardDetached(layer);
  assert.equal(await exists(content.blobPath(desc.digest)), false);
});
