import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp, readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { BERTH, TestDaemon, runCommand } from '../helpers/daemon';
import { packTar, type PackEntry } from '../../src/layer/tar-pack';

let d: TestDaemon;
/** a second daemon that starts empty (its built-in busybox removed): what it has, it loaded */
let d2: TestDaemon;
let tmp: string;

before(async () => {
  [d, d2] = await Promise.all([TestDaemon.start(), TestDaemon.start()]);
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-archive-'));
});
after(async () => {
  await Promise.all([d?.cleanup(), d2?.cleanup()]);
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const digest = (b: Buffer) => `sha256:${sha256(b)}`;

async function imageId(t: TestDaemon, name: string): Promise<string> {
  const r = await t.berth(['image', 'inspect', '-f', '{{.Id}}', name]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** The entries of a tar, in order, with their contents. */
async function readTar(buf: Buffer): Promise<{ name: string; type: string; mtime: number; data: Buffer }[]> {
  const out: { name: string; type: string; mtime: number; data: Buffer }[] = [];
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.push({ name: e.header.name, type: e.header.type ?? 'file', mtime: e.header.mtime?.getTime() ?? -1, data: Buffer.concat(chunks) });
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

/** What a daemon holds: image IDs and content blobs, to show that a refused load stored nothing. */
async function holdings(t: TestDaemon): Promise<{ images: string[]; blobs: string[] }> {
  const list = (await t.api('GET', '/images/json')).json() as { Id: string }[];
  return { images: list.map((i) => i.Id).sort(), blobs: readdirSync(path.join(t.dataRoot, 'content', 'blobs', 'sha256')).sort() };
}

function fetchBytes(t: TestDaemon, urlPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http.get({ socketPath: t.socket, path: urlPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

async function emptyDaemon(t: TestDaemon): Promise<void> {
  for (const img of (await t.api('GET', '/images/json')).json() as { Id: string }[]) {
    const r = await t.api('DELETE', `/images/${img.Id}?force=1`);
    assert.equal(r.status, 200, r.body);
  }
}

/** A legacy (pre-25) `docker save` archive made by hand: `<id>/layer.tar` and `<id>.json`. */
async function legacyArchive(layers: Buffer[], opts: { diffIDs?: string[]; tags?: string[] | null; /** gzip every second layer, as mixed archives exist */ gzipLayers?: boolean; extra?: PackEntry[]; /** rewrites the config JSON as another encoder would write it */ encode?: (json: string) => string; labels?: Record<string, string> } = {}) {
  const diffIDs = opts.diffIDs ?? layers.map(digest);
  const encode = opts.encode ?? ((j: string) => j);
  const config = Buffer.from(
    encode(JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2024-01-02T03:04:05Z',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Labels: opts.labels },
      rootfs: { type: 'layers', diff_ids: diffIDs },
      history: layers.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'hand' })),
    })),
  );
  const configName = `${sha256(config)}.json`;
  const entries: PackEntry[] = [{ name: configName, data: config }];
  const layerPaths: string[] = [];
  layers.forEach((l, i) => {
    const dir = sha256(Buffer.from(`layer ${i} ${sha256(l)}`));
    entries.push({ name: `${dir}/`, type: 'directory' }, { name: `${dir}/VERSION`, data: '1.0' }, { name: `${dir}/layer.tar`, data: opts.gzipLayers && i % 2 === 1 ? gzipSync(l) : l });
    layerPaths.push(`${dir}/layer.tar`);
  });
  entries.push({ name: 'manifest.json', data: JSON.stringify([{ Config: configName, RepoTags: opts.tags === undefined ? ['multi:1'] : opts.tags, Layers: layerPaths }]) });
  entries.push(...(opts.extra ?? []));
  return { archive: await packTar(entries), id: digest(config) };
}

test('save busybox and a tag, load them into a fresh daemon, run a container from the loaded image', async () => {
  assert.equal((await d.berth(['tag', 'busybox', 'app:1'])).code, 0);
  const id = await imageId(d, 'app:1');
  const file = path.join(tmp, 'app.tar');
  const save = await d.berth(['save', '-o', file, 'app:1', 'busybox']);
  assert.equal(save.code, 0, save.stderr);

  // the archive is Docker 25's: an OCI layout and Docker's manifest.json over the same blobs
  const entries = await readTar(await fsp.readFile(file));
  const byName = new Map(entries.map((e) => [e.name, e.data]));
  assert.deepEqual(JSON.parse(byName.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
  const manifest = JSON.parse(byName.get('manifest.json')!.toString());
  assert.equal(manifest.length, 1, 'one image under two tags');
  assert.deepEqual(manifest[0].RepoTags, ['app:1', 'busybox:latest']);
  assert.equal(manifest[0].Config, `blobs/sha256/${id.slice(7)}`);
  for (const p of [manifest[0].Config, ...manifest[0].Layers]) assert.equal(sha256(byName.get(p)!), p.split('/').pop(), `${p} is content-addressed`);
  const index = JSON.parse(byName.get('index.json')!.toString());
  assert.deepEqual(index.manifests.map((m: any) => m.annotations['io.containerd.image.name']).sort(), ['docker.io/library/app:1', 'docker.io/library/busybox:latest']);
  const ociManifest = JSON.parse(byName.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!.toString());
  assert.equal(ociManifest.config.digest, id);
  assert.equal(ociManifest.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar');
  assert.ok(byName.has('repositories'));
  assert.ok(entries.every((e) => e.mtime === 0), 'fixed mtimes');

  await emptyDaemon(d2);
  const load = await d2.berth(['load', '-i', file]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(load.stdout, 'Loaded image: app:1\nLoaded image: busybox:latest\n');
  assert.equal(await imageId(d2, 'app:1'), id, 'the round trip keeps the image ID');
  const run = await d2.berth(['run', '--rm', 'app:1', 'echo', 'loaded']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'loaded\n');
});

test('saving twice gives the same bytes; stdout, gzip and the images/{name}/get route agree', async () => {
  const a = path.join(tmp, 'a.tar');
  const b = path.join(tmp, 'b.tar');
  assert.equal((await d.berth(['save', '-o', a, 'busybox'])).code, 0);
  assert.equal((await d.berth(['save', '-o', b, 'busybox'])).code, 0);
  const bytes = await fsp.readFile(a);
  assert.equal(sha256(await fsp.readFile(b)), sha256(bytes));

  const toStdout = await runCommand('sh', ['-c', `"$0" -H "$1" save busybox | sha256sum`, BERTH, d.host]);
  assert.equal(toStdout.stdout.split(' ')[0], sha256(bytes), toStdout.stderr);
  const viaRoute = await fetchBytes(d, '/v1.50/images/busybox/get');
  assert.equal(sha256(viaRoute), sha256(bytes));

  // `berth load < x.tar.gz`: a gzip archive on stdin
  await emptyDaemon(d2);
  const r = await d2.berth(['load'], { input: gzipSync(bytes) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Loaded image: busybox:latest\n');
});

test('load reads a whole archive from a pipe every time', async () => {
  // the compiled CLI's stdin once stopped short of the end now and then, and load waited on
  const file = path.join(tmp, 'piped.tar');
  assert.equal((await d.berth(['save', '-o', file, 'busybox'])).code, 0);
  const bytes = await fsp.readFile(file);
  for (let i = 0; i < 10; i++) {
    await emptyDaemon(d2);
    const r = await d2.berth(['load'], { input: bytes, timeoutMs: 30_000 });
    assert.equal(r.code, 0, `load ${i}: ${r.stderr}`);
    assert.equal(r.stdout, 'Loaded image: busybox:latest\n');
  }
});

test('unknown images are a 404 before anything is streamed; images named by ID are saved untagged', async () => {
  const r = await d.api('GET', '/images/get?names=busybox&names=nosuch:1');
  assert.equal(r.status, 404);
  assert.equal(r.json().message, 'No such image: nosuch:1');
  const cli = await d.berth(['save', '-o', path.join(tmp, 'none.tar'), 'nosuch']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /Error response from daemon: No such image: nosuch/);
  await assert.rejects(fsp.access(path.join(tmp, 'none.tar')));

  const id = await imageId(d, 'busybox');
  const file = path.join(tmp, 'byid.tar');
  assert.equal((await d.berth(['save', '-o', file, id.slice(7, 19)])).code, 0);
  const manifest = JSON.parse((await readTar(await fsp.readFile(file))).find((e) => e.name === 'manifest.json')!.data.toString());
  assert.equal(manifest[0].RepoTags, null);
  await emptyDaemon(d2);
  const load = await d2.berth(['load', '-i', file]);
  assert.equal(load.stdout, `Loaded image ID: ${id}\n`);
});

test('a legacy archive of three layers, some gzipped, loads in order and runs', async () => {
  // busybox's own layer at the bottom, taken from a save, then two of ours
  const savedBytes = await fetchBytes(d, '/images/get?names=busybox');
  const entries = new Map((await readTar(savedBytes)).map((e) => [e.name, e.data]));
  const base = entries.get(JSON.parse(entries.get('manifest.json')!.toString())[0].Layers[0])!;
  const l1 = await packTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/one', data: 'first\n' }, { name: 'etc/shadowed', data: 'old\n' }]);
  const l2 = await packTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/two', data: 'second\n' }, { name: 'etc/.wh.shadowed', data: '' }]);
  const { archive, id } = await legacyArchive([base, l1, l2], { gzipLayers: true });
  const r = await d.berth(['load'], { input: archive });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Loaded image: multi:1\n');
  assert.equal(await imageId(d, 'multi:1'), id);
  const layers = JSON.parse((await d.berth(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'multi:1'])).stdout);
  assert.deepEqual(layers, [digest(base), digest(l1), digest(l2)]);
  const run = await d.berth(['run', '--rm', 'multi:1', 'sh', '-c', 'cat /etc/one /etc/two; ls /etc/shadowed 2>/dev/null || echo gone']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'first\nsecond\ngone\n');

  // saved again by berth and loaded elsewhere, with an untagged image beside it
  const busybox = await imageId(d, 'busybox');
  const file = path.join(tmp, 'multi.tar');
  assert.equal((await d.berth(['save', '-o', file, 'multi:1', busybox])).code, 0);
  await emptyDaemon(d2);
  const load = await d2.berth(['load', '-i', file]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(load.stdout, `Loaded image: multi:1\nLoaded image ID: ${busybox}\n`);
  assert.equal(await imageId(d2, 'multi:1'), id);
  assert.equal((await d2.berth(['run', '--rm', 'multi:1', 'cat', '/etc/two'])).stdout, 'second\n');
});

test('an OCI image layout alone (index.json, gzip layers) loads under its annotated name', async () => {
  const base = (await readTar(await fetchBytes(d, '/images/get?names=busybox'))).filter((e) => e.name.startsWith('blobs/sha256/'));
  const busyboxLayer = base.sort((a, b) => b.data.length - a.data.length)[0].data;
  const extra = await packTar([{ name: 'oci.txt', data: 'from an OCI layout\n' }]);
  const gz = [gzipSync(busyboxLayer), gzipSync(extra)];
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['cat', '/oci.txt'] }, rootfs: { type: 'layers', diff_ids: [digest(busyboxLayer), digest(extra)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
      layers: gz.map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(b), size: b.length })),
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest(manifest), size: manifest.length, annotations: { 'io.containerd.image.name': 'registry.example:5000/team/oci:2', 'org.opencontainers.image.ref.name': '2' } }],
  };
  const archive = await packTar([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
    ...[config, manifest, ...gz].map((b) => ({ name: `blobs/sha256/${sha256(b)}`, data: b })),
  ]);
  const r = await d.berth(['load'], { input: archive });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Loaded image: registry.example:5000/team/oci:2\n');
  assert.equal(await imageId(d, 'registry.example:5000/team/oci:2'), digest(config));
  assert.equal((await d.berth(['run', '--rm', 'registry.example:5000/team/oci:2'])).stdout, 'from an OCI layout\n');

  // a blob that does not match its descriptor's digest is refused
  const tampered = await packTar([
    { name: 'index.json', data: JSON.stringify(index) },
    ...[config, manifest].map((b) => ({ name: `blobs/sha256/${sha256(b)}`, data: b })),
    { name: `blobs/sha256/${sha256(gz[0])}`, data: gz[0] },
    { name: `blobs/sha256/${sha256(gz[1])}`, data: gzipSync(await packTar([{ name: 'oci.txt', data: 'tampered\n' }])) },
  ]);
  const before = await holdings(d);
  const bad = await d.berth(['load'], { input: tampered });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid digest for blobs\/sha256\//);
  assert.deepEqual(await holdings(d), before);
});

test('the real docker CLI saves from and loads into berthd', async () => {
  const file = path.join(tmp, 'docker.tar');
  const save = await d.docker(['save', '-o', file, 'busybox:latest']);
  assert.equal(save.code, 0, save.stderr);
  await emptyDaemon(d2);
  const load = await d2.docker(['load', '-i', file]);
  assert.equal(load.code, 0, load.stderr);
  assert.match(load.stdout, /Loaded image: busybox:latest/);
  const again = await d2.docker(['load'], { input: await fsp.readFile(file) });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await d2.docker(['run', '--rm', 'busybox', 'echo', 'via docker'])).stdout, 'via docker\n');
  const bad = await d2.docker(['load'], { input: Buffer.from('garbage'.repeat(200)) });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid tar header/);
});

test('corrupt, truncated, mismatched and escaping archives are refused and nothing is stored', async () => {
  const good = await fsp.readFile(path.join(tmp, 'a.tar'));
  const l1 = await packTar([{ name: 'hello', data: 'hi\n' }]);
  const cases: { what: string; body: Buffer; error: RegExp }[] = [
    { what: 'corrupt', body: Buffer.from('not a tar archive, only words '.repeat(50)), error: /invalid tar header/ },
    { what: 'truncated', body: good.subarray(0, Math.floor(good.length / 2)), error: /unexpected EOF|no such file/ },
    { what: 'truncated gzip', body: gzipSync(good).subarray(0, 4000), error: /unexpected EOF/ },
    { what: 'no manifest', body: await packTar([{ name: 'hello', data: 'x' }]), error: /open manifest\.json: no such file or directory/ },
    { what: 'diff ID mismatch', body: (await legacyArchive([l1], { diffIDs: [digest(Buffer.from('other'))], tags: ['mismatch:1'] })).archive, error: /invalid diffID for layer 0/ },
    {
      what: 'escaping path',
      body: (await legacyArchive([l1], { tags: ['evil:1'], extra: [{ name: '../evil-berth-archive', data: 'pwned' }] })).archive,
      error: /unsafe path "\.\.\/evil-berth-archive"/,
    },
    {
      what: 'escaping symlink',
      body: (await legacyArchive([l1], { tags: ['evil:2'], extra: [{ name: 'up', type: 'symlink', linkname: '../../../../tmp' }] })).archive,
      error: /unsafe path/,
    },
  ];
  const before = await holdings(d);
  for (const c of cases) {
    const r = await d.api('POST', '/images/load', c.body);
    assert.equal(r.status, 200, c.what);
    assert.match(r.body, /"errorDetail"/, `${c.what}: ${r.body}`);
    assert.match(JSON.parse(r.body.trim().split('\r\n').pop()!).error, c.error, c.what);
    assert.deepEqual(await holdings(d), before, `${c.what}: nothing stored`);
    if (process.env.ARCHIVE_TEST_DEBUG) console.log(c.what, r.body.trim());
  }
  const cli = await d.berth(['load'], { input: cases[4].body });
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /invalid diffID for layer 0: expected "sha256:[0-9a-f]{64}", got "sha256:[0-9a-f]{64}"/);
  await assert.rejects(fsp.access(path.join(os.tmpdir(), 'evil-berth-archive')));
  await assert.rejects(fsp.access(path.join(path.dirname(d.dataRoot), 'evil-berth-archive')));
  assert.deepEqual(readdirSync(path.join(d.dataRoot, 'tmp')), [], 'spooled uploads are removed');
  assert.equal((await d.berth(['run', '--rm', 'busybox', 'true'])).code, 0);
});

test('a config written by another encoder keeps its bytes, so the image ID is the same as where it came from', async () => {
  const layer = await packTar([{ name: 'go.txt', data: 'go\n' }]);
  // Go's encoding/json writes <, > and & as \u003c, \u003e and \u0026
  const goStyle = (j: string) => j.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  const { archive, id } = await legacyArchive([layer], { tags: ['goenc:1'], labels: { html: '<b>&</b>' }, encode: goStyle });
  assert.ok(archive.includes(Buffer.from('\\u003cb\\u003e')), 'the archive holds Go-escaped JSON');
  const r = await d.berth(['load'], { input: archive });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await imageId(d, 'goenc:1'), id);
  const label = (await d.berth(['image', 'inspect', '-f', '{{index .Config.Labels "html"}}', 'goenc:1'])).stdout.trim();
  assert.equal(label, '<b>&</b>');
});
