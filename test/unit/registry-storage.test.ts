import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FilesystemDriver } from '../../src/registry/storage/filesystem';
import { isNotFound } from '../../src/registry/storage/driver';
import { BlobStore } from '../../src/registry/store/blobs';
import { UploadStore } from '../../src/registry/store/uploads';
import { Repository, listRepositories } from '../../src/registry/store/repository';
import { digestBytes } from '../../src/registry/reference';
import { collectGarbage } from '../../src/registry/gc';

function withRoot(fn: (d: FilesystemDriver) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-unit-'));
    try {
      await fn(new FilesystemDriver(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

async function readAll(r: Readable): Promise<string> {
  let s = '';
  for await (const c of r) s += (c as Buffer).toString();
  return s;
}

test('filesystem driver: content, streams, stat, list, move, delete, walk', withRoot(async (d) => {
  await d.putContent('a/b/c', 'hello');
  assert.equal((await d.getContent('a/b/c')).toString(), 'hello');
  assert.equal(await readAll(await d.reader('a/b/c', 2)), 'llo');
  await pipeline(Readable.from([Buffer.from(' world')]), await d.writer('a/b/c', true));
  assert.equal((await d.stat('a/b/c')).size, 11);
  await pipeline(Readable.from([Buffer.from('new')]), await d.writer('a/b/c', false));
  assert.equal((await d.getContent('a/b/c')).toString(), 'new');
  await d.putContent('a/d', 'x');
  assert.deepEqual(await d.list('a'), ['a/b', 'a/d']);
  assert.equal((await d.stat('a/b')).isDir, true);
  await d.move('a/d', 'e/f/g');
  assert.equal((await d.getContent('e/f/g')).toString(), 'x');
  const walked: string[] = [];
  await d.walk('', (i) => { walked.push(i.path); });
  assert.deepEqual(walked.sort(), ['a/b/c', 'e/f/g']);
  await d.delete('a');
  await assert.rejects(d.getContent('a/b/c'), isNotFound);
  await assert.rejects(d.stat('nope'), isNotFound);
  await assert.rejects(d.reader('nope'), isNotFound);
  await assert.rejects(d.delete('nope'), isNotFound);
  // '..' cannot climb out of the root: the path is resolved inside it.
  await assert.rejects(d.getContent('../../../../etc/hostname'), isNotFound);
}));

test('blob store: commit verifies the digest and never leaves a wrong blob visible', withRoot(async (d) => {
  const blobs = new BlobStore(d);
  const data = Buffer.from('layer bytes');
  const digest = digestBytes(data);
  await d.putContent('uploads/x/data', data);
  await assert.rejects(blobs.commit('uploads/x/data', digestBytes(Buffer.from('other'))), /did not match/);
  assert.equal(await blobs.size(digestBytes(Buffer.from('other'))), undefined);
  assert.equal(await blobs.size(digest), undefined);
  await blobs.commit('uploads/x/data', digest);
  assert.equal(await blobs.size(digest), data.length);
  assert.deepEqual(await blobs.all(), [digest]);
  // A second identical upload is dropped: content is stored once.
  await d.putContent('uploads/y/data', data);
  await blobs.commit('uploads/y/data', digest);
  await assert.rejects(d.stat('uploads/y/data'), isNotFound);
}));

test('uploads resume from disk with a fresh store (as after a restart)', withRoot(async (d) => {
  const s = await new UploadStore(d, new BlobStore(d)).start('team/app');
  await new UploadStore(d, new BlobStore(d)).append(s.uuid, Readable.from([Buffer.from('abc')]));
  const again = new UploadStore(d, new BlobStore(d));
  const found = await again.get('team/app', s.uuid);
  assert.equal(await again.offset(found.uuid), 3);
  await assert.rejects(again.get('other', s.uuid), /upload unknown/);
}));

test('repositories, tags, referrers and gc', withRoot(async (d) => {
  const blobs = new BlobStore(d);
  const put = async (repo: Repository, s: string) => {
    await d.putContent('uploads/t/data', s);
    const dg = digestBytes(Buffer.from(s));
    await blobs.commit('uploads/t/data', dg);
    await repo.linkLayer(dg);
    return dg;
  };
  const r = new Repository(d, 'team/app');
  const config = await put(r, '{}');
  const layer = await put(r, 'layer');
  const orphan = await put(r, 'orphan');
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: config }, layers: [{ digest: layer }] }));
  const md = await blobs.putBytes(manifest);
  await r.linkRevision(md, 'application/vnd.oci.image.manifest.v1+json');
  await r.tag('v2', md);
  await r.tag('v1', md);
  assert.deepEqual(await r.tags(), ['v1', 'v2']);
  assert.equal(await r.resolveTag('v1'), md);
  await r.linkReferrer(md, 'sha256:' + 'b'.repeat(64));
  assert.deepEqual(await r.referrers(md), ['sha256:' + 'b'.repeat(64)]);
  await new Repository(d, 'solo').linkLayer(orphan);
  assert.deepEqual(await listRepositories(d), ['solo', 'team/app']);

  // right after the push the orphan may still be waiting for its manifest: it is kept
  assert.deepEqual((await collectGarbage(d, { dryRun: true })).swept, []);
  const later = Date.now() + 2 * 60 * 60 * 1000;
  const dry = await collectGarbage(d, { dryRun: true, now: later });
  assert.deepEqual(dry.swept, [orphan]);
  assert.notEqual(await blobs.size(orphan), undefined);
  await collectGarbage(d, { now: later });
  assert.equal(await blobs.size(orphan), undefined);
  assert.equal(await r.hasLayer(orphan), false);
  for (const kept of [config, layer, md]) assert.notEqual(await blobs.size(kept), undefined);
}));

test('gc keeps the blob of a young committing upload and drops idle sessions', withRoot(async (d) => {
  const blobs = new BlobStore(d);
  const uploads = new UploadStore(d, blobs);
  const young = await uploads.start('team/app');
  await uploads.append(young.uuid, Readable.from([Buffer.from('in flight')]));
  const digest = digestBytes(Buffer.from('in flight'));
  // A commit interrupted after the move but before the repository link was written.
  await d.putContent(`uploads/${young.uuid}/state.json`, JSON.stringify({ ...young, committing: digest }));
  await d.putContent(`uploads/${young.uuid}/copy`, 'in flight');
  await blobs.commit(`uploads/${young.uuid}/copy`, digest);
  const old = await uploads.start('team/app');
  const later = Date.now() + 30 * 60 * 1000;
  const r1 = await collectGarbage(d, { now: later });
  assert.deepEqual(r1.swept, []);
  assert.deepEqual(r1.staleUploads, []);
  assert.notEqual(await blobs.size(digest), undefined);
  const r2 = await collectGarbage(d, { now: Date.now() + 2 * 60 * 60 * 1000 });
  assert.deepEqual(r2.swept, [digest]);
  assert.deepEqual(r2.staleUploads.sort(), [young.uuid, old.uuid].sort());
  assert.deepEqual(await uploads.all(), []);
}));
