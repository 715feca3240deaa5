import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { decodeRegistryAuth, parseChallenges } from '../../src/distribution/auth';
import { createLayerGzip, createStoredGzip, looksIncompressible } from '../../src/distribution/compress';
import { endpointsFor, isInsecureRegistry, DEFAULT_REGISTRY_SETTINGS, validateRegistrySettings } from '../../src/distribution/endpoint';
import { parseManifest, parsePlatform, selectPlatform, MediaType } from '../../src/distribution/manifest';
import { progressBar } from '../../src/distribution/progress';

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('WWW-Authenticate challenges: bearer with quoted commas, basic, several in one header', () => {
  const [b] = parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:team/app:pull,push"');
  assert.equal(b.scheme, 'bearer');
  assert.deepEqual(b.params, { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:team/app:pull,push' });
  const two = parseChallenges('Basic realm="basic-realm", Bearer realm="x",error="insufficient_scope"');
  assert.deepEqual(two.map((c) => c.scheme), ['basic', 'bearer']);
  assert.equal(two[1].params.error, 'insufficient_scope');
  assert.deepEqual(parseChallenges(undefined), []);
});

test('X-Registry-Auth: base64url JSON, either spelling of the keys; garbage is a 400', () => {
  const header = Buffer.from(JSON.stringify({ username: 'alice', password: 'p?>>', serveraddress: '127.0.0.1:5000' })).toString('base64url');
  assert.deepEqual(decodeRegistryAuth(header), { username: 'alice', password: 'p?>>', identitytoken: undefined, registrytoken: undefined, serveraddress: '127.0.0.1:5000' });
  assert.equal(decodeRegistryAuth(Buffer.from('{"Username":"bob"}').toString('base64')).username, 'bob');
  assert.deepEqual(decodeRegistryAuth(undefined), {});
  assert.throws(() => decodeRegistryAuth('!!!notbase64json'), /X-Registry-Auth/);
});

test('plain HTTP is allowed for loopback, named hosts and CIDRs only', () => {
  const s = { ...DEFAULT_REGISTRY_SETTINGS, insecureRegistries: ['10.0.0.0/8', 'reg.local:5000'] };
  assert.ok(isInsecureRegistry('127.0.0.1:5000', s));
  assert.ok(isInsecureRegistry('127.8.9.10', s));
  assert.ok(isInsecureRegistry('localhost:5000', s));
  assert.ok(isInsecureRegistry('10.1.2.3:443', s));
  assert.ok(isInsecureRegistry('reg.local:5000', s));
  assert.ok(!isInsecureRegistry('reg.local:5001', s));
  assert.ok(!isInsecureRegistry('11.0.0.1:5000', s));
  assert.ok(!isInsecureRegistry('registry-1.docker.io', s));
  assert.throws(() => validateRegistrySettings({ ...s, registryMirrors: ['ftp://mirror'] }), /unsupported scheme/);
  assert.throws(() => validateRegistrySettings({ ...s, insecureRegistries: ['10.0.0.0/abc'] }), /invalid CIDR/);
});

test('Docker Hub names go to mirrors first, then the default registry; pushes skip mirrors', () => {
  const s = { ...DEFAULT_REGISTRY_SETTINGS, registryMirrors: ['http://127.0.0.1:5002', 'https://mirror.example'], defaultRegistry: 'hub.example' };
  const pull = endpointsFor('docker.io', s, 'pull');
  assert.deepEqual(pull.map((e) => [e.host, e.mirror, e.secure]), [['127.0.0.1:5002', true, false], ['mirror.example', true, true], ['hub.example', false, true]]);
  assert.deepEqual(endpointsFor('docker.io', s, 'push').map((e) => e.host), ['hub.example']);
  assert.deepEqual(endpointsFor('10.0.0.1:5000', s, 'pull').map((e) => e.host), ['10.0.0.1:5000']);
});

test('manifests: kind from the document, descriptors checked, schema 1 refused', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const image = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: MediaType.dockerConfig, digest, size: 10 }, layers: [{ mediaType: MediaType.dockerLayerGzip, digest, size: 5 }] })), undefined);
  assert.equal(image.kind, 'image');
  const index = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, digest, size: 1, platform: { os: 'linux', architecture: 'amd64' } }] })), MediaType.ociIndex);
  assert.equal(index.kind, 'index');
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), undefined), /schema 1/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: 'sha256:zz', size: 1 }, layers: [] })), undefined), /descriptor/);
  assert.throws(() => parseManifest(Buffer.from('not json'), undefined), /not JSON/);
});

test('platform selection from an index: exact variant first, else the first of the architecture', () => {
  const d = (c: string) => `sha256:${c.repeat(64)}`;
  const index = {
    schemaVersion: 2,
    manifests: [
      { mediaType: MediaType.ociManifest, digest: d('1'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
      { mediaType: MediaType.ociManifest, digest: d('2'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
      { mediaType: MediaType.ociManifest, digest: d('3'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaType.ociManifest, digest: d('4'), size: 1, platform: { os: 'windows', architecture: 'amd64' } },
    ],
  };
  assert.equal(selectPlatform(index, parsePlatform('linux/amd64')).digest, d('3'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm/v7')).digest, d('2'));
  assert.equal(selectPlatform(index, parsePlatform('linux/arm')).digest, d('1'));
  assert.throws(() => selectPlatform(index, parsePlatform('linux/s390x')), /no matching manifest for linux\/s390x/);
  assert.throws(() => parsePlatform('linux'), /unknown operating system or architecture/);
});

test('stored gzip is valid gzip (gzip -t and zlib agree) and the same bytes always give the same blob', async () => {
  const data = randomBytes(300_000);
  const one = await collect(Readable.from([data.subarray(0, 1000), data.subarray(1000)]).pipe(createStoredGzip()));
  const two = await collect(Readable.from([data]).pipe(createStoredGzip()));
  assert.ok(one.equals(two), 'chunking must not change the output');
  assert.ok(gunzipSync(one).equals(data));
  const check = spawnSync('gzip', ['-t'], { input: one });
  assert.equal(check.status, 0, check.stderr.toString());
  const empty = await collect(Readable.from([]).pipe(createStoredGzip()));
  assert.equal(gunzipSync(empty).length, 0);
});

test('layers of noise are stored, layers of text are compressed', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-gz-'));
  try {
    const noise = path.join(dir, 'noise');
    const text = path.join(dir, 'text');
    await fsp.writeFile(noise, randomBytes(2 * 1024 * 1024));
    await fsp.writeFile(text, Buffer.from('lorem ipsum dolor sit amet '.repeat(80_000)));
    assert.equal(await looksIncompressible(noise), true);
    assert.equal(await looksIncompressible(text), false);
    const z = await collect((await fsp.open(text)).createReadStream().pipe(await createLayerGzip(text)));
    assert.ok(z.length < 100_000, `text compressed to ${z.length}`);
    const a = await collect((await fsp.open(noise)).createReadStream().pipe(await createLayerGzip(noise)));
    const b = await collect((await fsp.open(noise)).createReadStream().pipe(await createLayerGzip(noise)));
    const h = (x: Buffer) => createHash('sha256').update(x).digest('hex');
    assert.equal(h(a), h(b));
    assert.ok(gunzipSync(a).equals(await fsp.readFile(noise)));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('progress bars as Docker draws them', () => {
  assert.equal(progressBar(0, 100), `[>${' '.repeat(49)}]  0B/100B`);
  assert.equal(progressBar(50, 100), `[${'='.repeat(25)}>${' '.repeat(24)}]  50B/100B`);
  assert.equal(progressBar(2_500_000, 5_000_000), `[${'='.repeat(25)}>${' '.repeat(24)}]  2.5MB/5MB`);
});
