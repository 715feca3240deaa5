import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Drives a real `bin/berth-registry serve` process over plain HTTP on loopback.
const BIN = path.resolve(__dirname, '../../../bin/berth-registry');
const root = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-it-'));
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

interface Server { base: string; stop(): Promise<void> }

function serve(...extra: string[]): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', '--addr', '127.0.0.1:0', '--root', root, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`registry did not start: ${err}`)), 10000);
    child.on('exit', (code) => reject(new Error(`registry exited ${code}: ${err}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        base: `http://${m[1]}`,
        stop: () => new Promise<void>((res) => {
          if (child.exitCode !== null) return res();
          child.once('exit', () => { children.delete(child); res(); });
          process.kill(child.pid!, 'SIGTERM');
        }),
      });
    });
  });
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
type Json = { errors?: { code: string }[] } & Record<string, unknown>;
const errCode = async (r: Response) => ((await r.json()) as Json).errors?.[0]?.code;

async function pushBlob(base: string, repo: string, data: Buffer | string): Promise<string> {
  const d = sha(data);
  const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${d}`, { method: 'POST', body: data });
  assert.equal(r.status, 201, await r.text());
  return d;
}

async function pushManifest(base: string, repo: string, ref: string, doc: unknown, type: string) {
  const body = Buffer.from(JSON.stringify(doc));
  const r = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body, headers: { 'Content-Type': type } });
  return { r, body, digest: sha(body) };
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

test('the registry API end to end', async (t) => {
  let srv = await serve();
  const { base } = srv;
  let b = base;

  await t.test('version check', async () => {
    const r = await fetch(`${b}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(await r.json(), {});
  });

  const config = '{"architecture":"amd64","os":"linux"}';
  let configDigest = '';
  await t.test('monolithic push, HEAD, GET and Range', async () => {
    configDigest = await pushBlob(b, 'team/app', config);
    const h = await fetch(`${b}/v2/team/app/blobs/${configDigest}`, { method: 'HEAD' });
    assert.equal(h.status, 200);
    assert.equal(h.headers.get('content-length'), String(config.length));
    assert.equal(h.headers.get('docker-content-digest'), configDigest);
    const g = await fetch(`${b}/v2/team/app/blobs/${configDigest}`);
    assert.equal(await g.text(), config);
    const part = await fetch(`${b}/v2/team/app/blobs/${configDigest}`, { headers: { Range: 'bytes=1-4' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 1-4/${config.length}`);
    assert.equal(await part.text(), config.slice(1, 5));
    const bad = await fetch(`${b}/v2/team/app/blobs/${configDigest}`, { headers: { Range: 'bytes=999-' } });
    assert.equal(bad.status, 416);
    await bad.text();
    const other = await fetch(`${b}/v2/other/blobs/${configDigest}`);
    assert.equal(other.status, 404, 'a blob is visible only in repositories that link it');
    assert.equal(await errCode(other), 'BLOB_UNKNOWN');
  });

  const layer = Buffer.from('0123456789abcdefghij'.repeat(50));
  const layerDigest = sha(layer);
  await t.test('chunked push with an out-of-order chunk, status, and resume after restart', async () => {
    const start = await fetch(`${b}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const loc = start.headers.get('location')!;
    assert.match(loc, /^\/v2\/team\/app\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const p1 = await fetch(`${b}${loc}`, { method: 'PATCH', body: layer.subarray(0, 400), headers: { 'Content-Range': '0-399' } });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.get('range'), '0-399');
    const short = await fetch(`${b}${loc}`, { method: 'PATCH', body: layer.subarray(400, 450), headers: { 'Content-Range': '400-499' } });
    assert.equal(short.status, 400, 'a chunk shorter than its Content-Range is refused');
    await short.text();
    const ooo = await fetch(`${b}${loc}`, { method: 'PATCH', body: layer.subarray(500, 600), headers: { 'Content-Range': '500-599' } });
    assert.equal(ooo.status, 416);
    await ooo.text();

    await srv.stop();
    srv = await serve();
    b = srv.base;

    const status = await fetch(`${b}${loc}`);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-399');
    const p2 = await fetch(`${b}${loc}`, { method: 'PATCH', body: layer.subarray(400, 800), headers: { 'Content-Range': '400-799' } });
    assert.equal(p2.headers.get('range'), '0-799');
    const fin = await fetch(`${b}${loc}?digest=${layerDigest}`, { method: 'PUT', body: layer.subarray(800), headers: { 'Content-Range': `800-${layer.length - 1}` } });
    assert.equal(fin.status, 201, await fin.text());
    assert.equal(fin.headers.get('location'), `/v2/team/app/blobs/${layerDigest}`);
    const g = await fetch(`${b}/v2/team/app/blobs/${layerDigest}`);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), layer);
    assert.equal((await fetch(`${b}${loc}`)).status, 404, 'a finished session is gone');
  });

  await t.test('digest mismatch is refused and leaves nothing visible', async () => {
    const wrong = sha('something else');
    const r = await fetch(`${b}/v2/team/app/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: 'the real bytes' });
    assert.equal(r.status, 400);
    assert.equal(await errCode(r), 'DIGEST_INVALID');
    for (const d of [wrong, sha('the real bytes')]) {
      const h = await fetch(`${b}/v2/team/app/blobs/${d}`, { method: 'HEAD' });
      assert.equal(h.status, 404);
    }
    assert.deepEqual(readdirSync(path.join(root, 'uploads')), [], 'the failed session is cleaned up');
  });

  await t.test('cancel an upload', async () => {
    const loc = (await fetch(`${b}/v2/team/app/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
    assert.equal((await fetch(`${b}${loc}`, { method: 'DELETE' })).status, 204);
    const again = await fetch(`${b}${loc}`);
    assert.equal(again.status, 404);
    assert.equal(await errCode(again), 'BLOB_UPLOAD_UNKNOWN');
  });

  await t.test('cross-repository mount, and the fallback to an upload session', async () => {
    const m = await fetch(`${b}/v2/mirror/app/blobs/uploads/?mount=${layerDigest}&from=team/app`, { method: 'POST' });
    assert.equal(m.status, 201);
    assert.equal(m.headers.get('docker-content-digest'), layerDigest);
    assert.equal((await fetch(`${b}/v2/mirror/app/blobs/${layerDigest}`, { method: 'HEAD' })).status, 200);
    const miss = await fetch(`${b}/v2/mirror/app/blobs/uploads/?mount=${sha('absent')}&from=team/app`, { method: 'POST' });
    assert.equal(miss.status, 202);
    assert.ok(miss.headers.get('location'));
    await fetch(`${b}${miss.headers.get('location')}`, { method: 'DELETE' });
  });

  let manifestDigest = '';
  let manifestBody = Buffer.alloc(0);
  await t.test('manifests: refuse missing blobs, push, pull by tag and digest', async () => {
    const doc = {
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: configDigest },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: layerDigest }],
    };
    const missing = await pushManifest(b, 'team/app', 'broken', { ...doc, layers: [{ ...doc.layers[0], digest: sha('nope') }] }, DOCKER_MANIFEST);
    assert.equal(missing.r.status, 400);
    assert.equal(await errCode(missing.r), 'MANIFEST_BLOB_UNKNOWN');
    const notJson = await fetch(`${b}/v2/team/app/manifests/x`, { method: 'PUT', body: 'nope', headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(await errCode(notJson), 'MANIFEST_INVALID');

    const { r, body, digest } = await pushManifest(b, 'team/app', 'v1', doc, DOCKER_MANIFEST);
    assert.equal(r.status, 201, await r.text());
    assert.equal(r.headers.get('docker-content-digest'), digest);
    manifestDigest = digest;
    manifestBody = body;
    for (const ref of ['v1', digest]) {
      const g = await fetch(`${b}/v2/team/app/manifests/${ref}`, { headers: { Accept: DOCKER_MANIFEST } });
      assert.equal(g.status, 200);
      assert.equal(g.headers.get('content-type'), DOCKER_MANIFEST);
      assert.equal(g.headers.get('docker-content-digest'), digest);
      assert.deepEqual(Buffer.from(await g.arrayBuffer()), body);
      const h = await fetch(`${b}/v2/team/app/manifests/${ref}`, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-length'), String(body.length));
    }
    const unknown = await fetch(`${b}/v2/team/app/manifests/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(await errCode(unknown), 'MANIFEST_UNKNOWN');
    const noRepo = await fetch(`${b}/v2/no/such/manifests/v1`);
    assert.equal(await errCode(noRepo), 'NAME_UNKNOWN');
    const badName = await fetch(`${b}/v2/Bad/manifests/v1`);
    assert.equal(badName.status, 400);
    assert.equal(await errCode(badName), 'NAME_INVALID');

    // An index may only name manifests the repository has.
    const index = (d: string) => ({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: DOCKER_MANIFEST, size: body.length, digest: d }] });
    const badIndex = await pushManifest(b, 'team/app', 'multi', index(sha('absent')), 'application/vnd.oci.image.index.v1+json');
    assert.equal(await errCode(badIndex.r), 'MANIFEST_BLOB_UNKNOWN');
    const okIndex = await pushManifest(b, 'team/app', 'multi', index(digest), 'application/vnd.oci.image.index.v1+json');
    assert.equal(okIndex.r.status, 201);
  });

  await t.test('tags pagination and catalog', async () => {
    for (const tag of ['v2', 'v3', 'a0']) {
      const r = await fetch(`${b}/v2/team/app/manifests/${tag}`, { method: 'PUT', body: manifestBody, headers: { 'Content-Type': DOCKER_MANIFEST } });
      assert.equal(r.status, 201);
    }
    const all = await fetch(`${b}/v2/team/app/tags/list`);
    assert.deepEqual(await all.json(), { name: 'team/app', tags: ['a0', 'multi', 'v1', 'v2', 'v3'] });
    const none = await fetch(`${b}/v2/team/app/tags/list?n=0`);
    assert.deepEqual(((await none.json()) as Json).tags, []);
    assert.equal(none.headers.get('link'), null);
    const p1 = await fetch(`${b}/v2/team/app/tags/list?n=2`);
    assert.deepEqual(((await p1.json()) as Json).tags, ['a0', 'multi']);
    const link = p1.headers.get('link')!;
    assert.match(link, /rel="next"/);
    const next = /<([^>]+)>/.exec(link)![1];
    const p2 = await fetch(`${b}${next}`);
    assert.deepEqual(((await p2.json()) as Json).tags, ['v1', 'v2']);
    const p3 = await fetch(`${b}/v2/team/app/tags/list?n=2&last=v2`);
    assert.deepEqual(((await p3.json()) as Json).tags, ['v3']);
    assert.equal(p3.headers.get('link'), null);
    const cat = await fetch(`${b}/v2/_catalog`);
    assert.deepEqual(await cat.json(), { repositories: ['mirror/app', 'team/app'] });
    const cat1 = await fetch(`${b}/v2/_catalog?n=1`);
    assert.deepEqual(((await cat1.json()) as Json).repositories, ['mirror/app']);
    assert.match(cat1.headers.get('link')!, /last=mirror%2Fapp/);
  });

  let sbomDigest = '';
  let sbomBlob = '';
  await t.test('referrers through the subject field', async () => {
    const emptyConfig = await pushBlob(b, 'team/app', '{}');
    sbomBlob = await pushBlob(b, 'team/app', 'sbom contents');
    const art = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.example.sbom.v1',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: emptyConfig },
      layers: [{ mediaType: 'text/plain', size: 13, digest: sbomBlob }],
      subject: { mediaType: DOCKER_MANIFEST, size: manifestBody.length, digest: manifestDigest },
      annotations: { 'org.example.kind': 'sbom' },
    };
    // Pushed by digest with ?tag= parameters, which the registry answers with OCI-Tag.
    const { r, digest } = await pushManifest(b, 'team/app', `${sha(JSON.stringify(art))}?tag=sbom&tag=sbom-1`, art, OCI_MANIFEST);
    assert.equal(r.status, 201, await r.text());
    assert.equal(r.headers.get('oci-subject'), manifestDigest);
    assert.equal(r.headers.get('oci-tag'), 'sbom, sbom-1');
    sbomDigest = digest;
    const list = await fetch(`${b}/v2/team/app/referrers/${manifestDigest}`);
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    const idx = (await list.json()) as { manifests: Record<string, unknown>[] };
    assert.deepEqual(idx.manifests, [{
      mediaType: OCI_MANIFEST, digest, size: Buffer.byteLength(JSON.stringify(art)),
      artifactType: 'application/vnd.example.sbom.v1', annotations: { 'org.example.kind': 'sbom' },
    }]);
    const filtered = await fetch(`${b}/v2/team/app/referrers/${manifestDigest}?artifactType=application/other`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(((await filtered.json()) as Json).manifests, []);
    const bad = await fetch(`${b}/v2/team/app/referrers/sha256:xyz`);
    assert.equal(bad.status, 400);
    await bad.text();
  });

  await t.test('delete tag, manifest and blob', async () => {
    assert.equal((await fetch(`${b}/v2/team/app/manifests/a0`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${b}/v2/team/app/manifests/a0`)).status, 404);
    assert.equal((await fetch(`${b}/v2/team/app/manifests/${sbomDigest}`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${b}/v2/team/app/manifests/${sbomDigest}`)).status, 404);
    assert.equal((await fetch(`${b}/v2/team/app/manifests/sbom`)).status, 404, 'tags of a deleted manifest go with it');
    const refs = await fetch(`${b}/v2/team/app/referrers/${manifestDigest}`);
    assert.deepEqual(((await refs.json()) as Json).manifests, []);
    assert.equal((await fetch(`${b}/v2/mirror/app/blobs/${layerDigest}`, { method: 'DELETE' })).status, 202);
    assert.equal((await fetch(`${b}/v2/mirror/app/blobs/${layerDigest}`, { method: 'HEAD' })).status, 404);
    assert.equal((await fetch(`${b}/v2/team/app/blobs/${layerDigest}`, { method: 'HEAD' })).status, 200, 'other repositories keep it');
  });

  await t.test('gc sweeps unreferenced blobs and keeps referenced ones', async () => {
    const orphan = await pushBlob(b, 'team/app', 'never referenced');
    await srv.stop();
    // within the grace period a fresh blob may belong to a push whose manifest is still to come
    const young = spawnSync(process.execPath, [BIN, 'gc', '--root', root, '--dry-run'], { encoding: 'utf8' });
    assert.equal(young.status, 0, young.stderr);
    assert.doesNotMatch(young.stdout, new RegExp(`would delete blob ${orphan}`));
    const dry = spawnSync(process.execPath, [BIN, 'gc', '--root', root, '--dry-run', '--grace', '0'], { encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would delete blob ${orphan}`));
    assert.match(dry.stdout, new RegExp(`would delete blob ${sbomBlob}`));
    const run = spawnSync(process.execPath, [BIN, 'gc', '--root', root, '--grace', '0'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    srv = await serve('--read-only');
    b = srv.base;
    for (const gone of [orphan, sbomBlob]) assert.equal((await fetch(`${b}/v2/team/app/blobs/${gone}`, { method: 'HEAD' })).status, 404);
    for (const kept of [configDigest, layerDigest, manifestDigest]) {
      assert.equal((await fetch(`${b}/v2/team/app/blobs/${kept}`, { method: 'HEAD' })).status, 200, kept);
    }
    const g = await fetch(`${b}/v2/team/app/manifests/v1`);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), manifestBody);
  });

  await t.test('read-only mode refuses writes and serves reads', async () => {
    const post = await fetch(`${b}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(await errCode(post), 'UNSUPPORTED');
    const del = await fetch(`${b}/v2/team/app/manifests/v1`, { method: 'DELETE' });
    assert.equal(del.status, 405);
    await del.text();
    const put = await fetch(`${b}/v2/team/app/manifests/v9`, { method: 'PUT', body: manifestBody, headers: { 'Content-Type': DOCKER_MANIFEST } });
    assert.equal(put.status, 405);
    await put.text();
    assert.equal((await fetch(`${b}/v2/team/app/tags/list`)).status, 200);
  });

  await srv.stop();
});

test('foreign layer URLs: refused unless allowed; a config must be here whatever its URLs', async () => {
  const FOREIGN = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
  const absent = sha('a layer this registry never saw');
  const errorsOf = async (r: Response) => ((await r.json()) as { errors: { code: string; message: string; detail: unknown }[] }).errors;
  const manifest = (configDesc: Record<string, unknown>, layers: Record<string, unknown>[]) => ({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: configDesc, layers });

  const strict = await serve();
  try {
    const config = await pushBlob(strict.base, 'foreign/strict', '{"os":"linux"}');
    const configDesc = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: 14 };

    // the config blob is not here: its urls do not excuse it
    const missingConfig = sha('no such config');
    const noConfig = await pushManifest(strict.base, 'foreign/strict', 'a', manifest({ ...configDesc, digest: missingConfig, urls: ['https://layers.example.com/c'] }, []), DOCKER_MANIFEST);
    assert.equal(noConfig.r.status, 400);
    const [e1] = await errorsOf(noConfig.r);
    assert.equal(e1.code, 'MANIFEST_INVALID');
    assert.equal(e1.message, 'unexpected URL on layer');
    assert.deepEqual(e1.detail, [{ digest: missingConfig, problem: 'unexpected URL on layer' }]);
    const noConfigNoUrls = await pushManifest(strict.base, 'foreign/strict', 'a', manifest({ ...configDesc, digest: missingConfig }, []), DOCKER_MANIFEST);
    assert.equal(noConfigNoUrls.r.status, 400);
    assert.equal((await errorsOf(noConfigNoUrls.r))[0].code, 'MANIFEST_BLOB_UNKNOWN');

    // without an allow list no foreign URL is accepted
    const layer = { mediaType: FOREIGN, digest: absent, size: 10, urls: ['https://layers.example.com/l'] };
    const refused = await pushManifest(strict.base, 'foreign/strict', 'b', manifest(configDesc, [layer]), DOCKER_MANIFEST);
    assert.equal(refused.r.status, 400);
    const [e2] = await errorsOf(refused.r);
    assert.equal(e2.code, 'MANIFEST_INVALID');
    assert.deepEqual(e2.detail, [{ digest: absent, problem: 'invalid URL on layer', url: 'https://layers.example.com/l' }]);
    const noUrl = await pushManifest(strict.base, 'foreign/strict', 'c', manifest(configDesc, [{ ...layer, urls: undefined }]), DOCKER_MANIFEST);
    assert.equal(noUrl.r.status, 400);
    assert.equal((await errorsOf(noUrl.r))[0].message, 'missing URL on layer');
  } finally {
    await strict.stop();
  }

  const allowing = await serve('--allow-foreign-url', '^https://layers\\.example\\.com/');
  try {
    const config = await pushBlob(allowing.base, 'foreign/allowed', '{"os":"linux"}');
    const configDesc = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: 14 };
    const layer = { mediaType: FOREIGN, digest: absent, size: 10, urls: ['https://layers.example.com/l'] };
    const ok = await pushManifest(allowing.base, 'foreign/allowed', 'v1', manifest(configDesc, [layer]), DOCKER_MANIFEST);
    assert.equal(ok.r.status, 201, await ok.r.text());
    for (const url of ['https://elsewhere.example.org/l', 'ftp://layers.example.com/l', 'https://layers.example.com/l#frag', 'not a url']) {
      const r = await pushManifest(allowing.base, 'foreign/allowed', 'v2', manifest(configDesc, [{ ...layer, urls: [url] }]), DOCKER_MANIFEST);
      assert.equal(r.r.status, 400, url);
      assert.deepEqual((await errorsOf(r.r))[0].detail, [{ digest: absent, problem: 'invalid URL on layer', url }], url);
    }
  } finally {
    await allowing.stop();
  }
});
