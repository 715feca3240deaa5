import { test, after, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as bcrypt from 'bcryptjs';

// Drives real `bin/berth-registry serve` and `token` processes: htpasswd, the token flow as
// Docker clients run it, TLS with node:https and with skopeo.
const BIN = path.resolve(__dirname, '../../../bin/berth-registry');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-registry-auth-'));
const file = (name: string) => path.join(tmp, name);
const children = new Set<ChildProcess>();

after(() => {
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** Starts `berth-registry <args>` and resolves with host:port from its "listening on" line. */
function start(...args: string[]): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${err}`)), 10000);
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${err}`)));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve(m[1]);
    });
  });
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, HOME: tmp } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
type Json = { errors?: { code: string }[] } & Record<string, unknown>;
const errCode = async (r: Response) => ((await r.json()) as Json).errors?.[0]?.code;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const USERS: Record<string, string> = { alice: 'alice-pw', bob: 'bob-pw', admin: 'admin-pw', dave: 'dave-pw' };

before(() => {
  writeFileSync(file('htpasswd'), Object.entries(USERS).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`).join('\n') + '\n');
  writeFileSync(file('acl.json'), JSON.stringify([
    { account: 'alice', name: 'team/*', actions: ['pull', 'push'] },
    { account: 'alice', name: 'public/*', actions: ['pull', 'push'] },
    { account: 'bob', name: 'team/*', actions: ['pull'] },
    { account: 'dave', name: 'dave/*', actions: ['pull', 'push'] },
    { account: '*', name: 'public/*', actions: ['pull'] },
    { account: 'admin', name: '*', actions: ['*'] },
    { account: 'admin', type: 'registry', name: 'catalog', actions: ['*'] },
  ]));
  // A self-signed server certificate for 127.0.0.1 (its own CA), and an RSA token-signing key
  // with a certificate for the registry to trust.
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', file('tls.key'), '-out', file('tls.crt'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file('token.key')]);
  run('openssl', ['req', '-x509', '-key', file('token.key'), '-days', '1', '-out', file('token.crt'), '-subj', '/CN=berth token signer']);
});

/** A one-layer image: config, layer and manifest bytes with their digests. */
function tinyImage(text: string) {
  const dir = mkdtempSync(path.join(tmp, 'layer-'));
  writeFileSync(path.join(dir, 'hello.txt'), text);
  run('tar', ['-C', dir, '-czf', path.join(dir, 'layer.tgz'), 'hello.txt']);
  const layer = readFileSync(path.join(dir, 'layer.tgz'));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(gunzipSync(layer))] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }));
  return { layer, config, manifest, manifestDigest: sha(manifest) };
}

/** Writes an image as an OCI image layout with one tag. */
function writeLayout(dir: string, img: ReturnType<typeof tinyImage>, tag: string): void {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of [img.layer, img.config, img.manifest]) writeFileSync(path.join(dir, 'blobs', 'sha256', sha(b).slice(7)), b);
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: OCI_MANIFEST, digest: img.manifestDigest, size: img.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
}

/** Pushes an image with whatever Authorization `auth` returns for each request. */
async function pushImage(base: string, repo: string, tag: string, img: ReturnType<typeof tinyImage>, send: Send): Promise<void> {
  for (const blob of [img.layer, img.config]) {
    const r = await send(`${base}/v2/${repo}/blobs/uploads/?digest=${sha(blob)}`, { method: 'POST', body: blob });
    assert.equal(r.status, 201, await r.text());
  }
  const r = await send(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: img.manifest, headers: { 'Content-Type': OCI_MANIFEST } });
  assert.equal(r.status, 201, await r.text());
}

type Send = (url: string, init?: RequestInit) => Promise<Response>;

const withAuth = (authorization: string): Send => (url, init = {}) =>
  fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), Authorization: authorization } });

test('htpasswd: Basic challenge, wrong and right passwords, push and pull', async () => {
  const addr = await start('serve', '--root', file('root-htpasswd'), '--htpasswd', file('htpasswd'));
  const base = `http://${addr}`;

  const anon = await fetch(`${base}/v2/`);
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
  assert.equal(anon.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.equal(await errCode(anon), 'UNAUTHORIZED');

  const wrong = await withAuth(basic('alice', 'nope'))(`${base}/v2/`);
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
  await wrong.text();
  const unknownUser = await withAuth(basic('eve', 'alice-pw'))(`${base}/v2/`);
  assert.equal(unknownUser.status, 401);
  await unknownUser.text();

  const ok = await withAuth(basic('alice', 'alice-pw'))(`${base}/v2/`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), {});

  // Every route is guarded, HEAD and uploads included.
  const head = await fetch(`${base}/v2/team/app/manifests/v1`, { method: 'HEAD' });
  assert.equal(head.status, 401);
  assert.equal(head.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
  const upload = await fetch(`${base}/v2/team/app/blobs/uploads/`, { method: 'POST', body: 'x' });
  assert.equal(upload.status, 401);
  await upload.text();

  // With htpasswd every user may push and pull anything, as in Distribution.
  const img = tinyImage('hello from htpasswd\n');
  await pushImage(base, 'team/app', 'v1', img, withAuth(basic('bob', 'bob-pw')));
  const pulled = await withAuth(basic('alice', 'alice-pw'))(`${base}/v2/team/app/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
  assert.equal(pulled.status, 200);
  assert.equal(pulled.headers.get('docker-content-digest'), img.manifestDigest);
  assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), img.manifest);
  const blob = await withAuth(basic('alice', 'alice-pw'))(`${base}/v2/team/app/blobs/${sha(img.layer)}`);
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), img.layer);
  const anonBlob = await fetch(`${base}/v2/team/app/blobs/${sha(img.layer)}`);
  assert.equal(anonBlob.status, 401);
  await anonBlob.text();

  // Content negotiation: an index is refused to a client that does not list index types.
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: img.manifestDigest, size: img.manifest.length }] }));
  const alice = withAuth(basic('alice', 'alice-pw'));
  const putIndex = await alice(`${base}/v2/team/app/manifests/multi`, { method: 'PUT', body: index, headers: { 'Content-Type': OCI_INDEX } });
  assert.equal(putIndex.status, 201);
  const refused = await alice(`${base}/v2/team/app/manifests/multi`, { headers: { Accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` } });
  assert.equal(refused.status, 404);
  const refusedBody = (await refused.json()) as { errors: { code: string; message: string }[] };
  assert.equal(refusedBody.errors[0].code, 'MANIFEST_UNKNOWN');
  assert.match(refusedBody.errors[0].message, /acceptable/);
  const refusedHead = await alice(`${base}/v2/team/app/manifests/multi`, { method: 'HEAD', headers: { Accept: OCI_MANIFEST } });
  assert.equal(refusedHead.status, 404);
  for (const accept of [undefined, '*/*', `${OCI_MANIFEST}, ${OCI_INDEX}`]) {
    const g = await alice(`${base}/v2/team/app/manifests/multi`, { headers: accept ? { Accept: accept } : {} });
    assert.equal(g.status, 200, String(accept));
    assert.equal(g.headers.get('content-type'), OCI_INDEX);
    assert.deepEqual(Buffer.from(await g.arrayBuffer()), index);
  }
  const single = await alice(`${base}/v2/team/app/manifests/v1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(single.status, 200, 'a single manifest is served as stored whatever the Accept header');
  await single.arrayBuffer();

  // Read-only mode still applies, after authentication.
  const ro = `http://${await start('serve', '--root', file('root-htpasswd'), '--htpasswd', file('htpasswd'), '--read-only')}`;
  const roAnon = await fetch(`${ro}/v2/team/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(roAnon.status, 401);
  await roAnon.text();
  const roPush = await alice(`${ro}/v2/team/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(roPush.status, 405);
  assert.equal(await errCode(roPush), 'UNSUPPORTED');
  assert.equal((await alice(`${ro}/v2/team/app/manifests/v1`, { method: 'HEAD' })).status, 200);
});

/** The token flow as Docker clients run it: try, read the challenge, get a token, retry. */
function tokenClient(creds?: [string, string]): Send {
  return async (url, init = {}) => {
    const first = await fetch(url, init);
    if (first.status !== 401) return first;
    await first.arrayBuffer();
    const challenge = first.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer /);
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const q = new URLSearchParams({ service: params.service });
    for (const s of (params.scope ?? '').split(' ').filter(Boolean)) q.append('scope', s);
    const t = await fetch(`${params.realm}?${q}`, { headers: creds ? { Authorization: basic(...creds) } : {} });
    assert.equal(t.status, 200, await t.clone().text());
    const { token } = (await t.json()) as { token: string };
    return withAuth(`Bearer ${token}`)(url, init);
  };
}

async function getToken(realm: string, creds: [string, string] | undefined, ...scopes: string[]): Promise<string> {
  const q = new URLSearchParams({ service: 'berth-test' });
  for (const s of scopes) q.append('scope', s);
  const r = await fetch(`${realm}?${q}`, { headers: creds ? { Authorization: basic(...creds) } : {} });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
  assert.equal(body.access_token, body.token);
  assert.equal(body.expires_in, 300);
  assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
  return body.token;
}

test('token auth: challenges, scopes, ACL, anonymous pulls, mounts and deletes', async () => {
  const tokenAddr = await start('token', '--htpasswd', file('htpasswd'), '--acl', file('acl.json'), '--key', file('token.key'), '--issuer', 'berth-test-issuer', '--service', 'berth-test');
  const realm = `http://${tokenAddr}/token`;
  const addr = await start('serve', '--root', file('root-token'), '--token-realm', realm, '--token-service', 'berth-test',
    '--token-issuer', 'berth-test-issuer', '--token-cert', file('token.crt'));
  const base = `http://${addr}`;

  const v2 = await fetch(`${base}/v2/`);
  assert.equal(v2.status, 401);
  assert.equal(v2.headers.get('www-authenticate'), `Bearer realm="${realm}",service="berth-test"`);
  assert.equal(await errCode(v2), 'UNAUTHORIZED');
  const put = await fetch(`${base}/v2/team/app/manifests/v1`, { method: 'PUT', body: '{}' });
  assert.equal(put.headers.get('www-authenticate'), `Bearer realm="${realm}",service="berth-test",scope="repository:team/app:pull,push"`);
  await put.text();
  const cat = await fetch(`${base}/v2/_catalog`);
  assert.equal(cat.headers.get('www-authenticate'), `Bearer realm="${realm}",service="berth-test",scope="registry:catalog:*"`);
  await cat.text();
  const garbage = await withAuth('Bearer abc.def.ghi')(`${base}/v2/`);
  assert.match(garbage.headers.get('www-authenticate')!, /error="invalid_token"/);
  await garbage.text();
  assert.equal((await tokenClient(['bob', 'bob-pw'])(`${base}/v2/`)).status, 200);

  // alice pushes through the challenge-driven flow.
  const alice = tokenClient(['alice', 'alice-pw']);
  const img = tinyImage('hello from token auth\n');
  await pushImage(base, 'team/app', 'v1', img, alice);
  await pushImage(base, 'public/app', 'v1', img, alice);

  // A token for team/app does not open team/other.
  const teamApp = await getToken(realm, ['alice', 'alice-pw'], 'repository:team/app:pull,push');
  const other = await withAuth(`Bearer ${teamApp}`)(`${base}/v2/team/other/blobs/uploads/`, { method: 'POST' });
  assert.equal(other.status, 401);
  assert.equal(other.headers.get('www-authenticate'), `Bearer realm="${realm}",service="berth-test",scope="repository:team/other:pull,push",error="insufficient_scope"`);
  assert.equal(await errCode(other), 'UNAUTHORIZED');
  assert.equal((await withAuth(`Bearer ${teamApp}`)(`${base}/v2/team/app/manifests/v1`, { method: 'HEAD' })).status, 200);

  // bob may pull team/* but not push: his token only carries pull.
  const bob = tokenClient(['bob', 'bob-pw']);
  const pulled = await bob(`${base}/v2/team/app/manifests/v1`);
  assert.equal(pulled.status, 200);
  assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), img.manifest);
  const bobPush = await bob(`${base}/v2/team/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(bobPush.status, 401);
  assert.match(bobPush.headers.get('www-authenticate')!, /error="insufficient_scope"/);
  await bobPush.text();
  const bobToken = JSON.parse(Buffer.from((await getToken(realm, ['bob', 'bob-pw'], 'repository:team/app:pull,push,delete')).split('.')[1], 'base64url').toString());
  assert.deepEqual(bobToken.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
  assert.equal(bobToken.sub, 'bob');
  assert.equal(bobToken.aud, 'berth-test');

  // Anonymous clients get what "*" is granted: pulls of public/*, nothing else.
  const anon = tokenClient();
  const pub = await anon(`${base}/v2/public/app/manifests/v1`);
  assert.equal(pub.status, 200);
  await pub.arrayBuffer();
  const anonTeam = await anon(`${base}/v2/team/app/manifests/v1`);
  assert.equal(anonTeam.status, 401);
  await anonTeam.text();
  const anonPush = await anon(`${base}/v2/public/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(anonPush.status, 401);
  await anonPush.text();

  // The token server refuses wrong passwords rather than issuing an anonymous token.
  const badLogin = await fetch(`${realm}?service=berth-test&scope=repository:public/app:pull`, { headers: { Authorization: basic('alice', 'wrong') } });
  assert.equal(badLogin.status, 401);
  assert.match(badLogin.headers.get('www-authenticate')!, /^Basic /);
  assert.equal(await errCode(badLogin), 'UNAUTHORIZED');
  const wrongService = await fetch(`${realm}?service=elsewhere`);
  assert.equal(wrongService.status, 400);
  await wrongService.text();
  // OAuth2 password grant.
  const form = (o: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(o).toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const oauth = await fetch(realm, form({ grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'berth-test', scope: 'repository:team/app:pull repository:nope/x:pull', client_id: 'test' }));
  assert.equal(oauth.status, 200);
  const oauthBody = (await oauth.json()) as { access_token: string; scope: string };
  assert.equal(oauthBody.scope, 'repository:team/app:pull');
  assert.equal((await withAuth(`Bearer ${oauthBody.access_token}`)(`${base}/v2/team/app/tags/list`)).status, 200);
  const oauthBad = await fetch(realm, form({ grant_type: 'password', username: 'alice', password: 'nope', service: 'berth-test' }));
  assert.equal(oauthBad.status, 400);
  assert.equal(((await oauthBad.json()) as { error: string }).error, 'invalid_grant');

  // Mount needs pull on the source; without it the client gets an ordinary upload session.
  const layer = sha(img.layer);
  const challenge = await fetch(`${base}/v2/team/copy/blobs/uploads/?mount=${layer}&from=team/app`, { method: 'POST' });
  assert.equal(challenge.headers.get('www-authenticate'), `Bearer realm="${realm}",service="berth-test",scope="repository:team/copy:pull,push repository:team/app:pull"`);
  await challenge.text();
  const mountOk = await alice(`${base}/v2/team/copy/blobs/uploads/?mount=${layer}&from=team/app`, { method: 'POST' });
  assert.equal(mountOk.status, 201);
  const dave = await getToken(realm, ['dave', 'dave-pw'], 'repository:dave/app:pull,push', 'repository:team/app:pull');
  const mountDenied = await withAuth(`Bearer ${dave}`)(`${base}/v2/dave/app/blobs/uploads/?mount=${layer}&from=team/app`, { method: 'POST' });
  assert.equal(mountDenied.status, 202);
  assert.ok(mountDenied.headers.get('location'));
  const daveHead = await withAuth(`Bearer ${dave}`)(`${base}/v2/dave/app/blobs/${layer}`, { method: 'HEAD' });
  assert.equal(daveHead.status, 404, 'the layer was not mounted');

  // Deleting needs "delete" ("*" covers it); the catalog needs registry:catalog:*.
  const aliceDelete = await alice(`${base}/v2/team/app/manifests/${img.manifestDigest}`, { method: 'DELETE' });
  assert.equal(aliceDelete.status, 401);
  assert.match(aliceDelete.headers.get('www-authenticate')!, /scope="repository:team\/app:delete",error="insufficient_scope"/);
  await aliceDelete.text();
  const admin = tokenClient(['admin', 'admin-pw']);
  const catalog = await admin(`${base}/v2/_catalog`);
  assert.deepEqual(await catalog.json(), { repositories: ['public/app', 'team/app', 'team/copy'] });
  const aliceCatalog = await alice(`${base}/v2/_catalog`);
  assert.equal(aliceCatalog.status, 401);
  await aliceCatalog.text();
  assert.equal((await admin(`${base}/v2/team/app/manifests/${img.manifestDigest}`, { method: 'DELETE' })).status, 202);
});

/** GET over https trusting only `ca`. */
function httpsGet(url: string, ca: Buffer | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}

test('TLS: https registry and token server, and skopeo copying in and out', async () => {
  const ca = readFileSync(file('tls.crt'));
  const addr = await start('serve', '--root', file('root-tls'), '--htpasswd', file('htpasswd'), '--tls-cert', file('tls.crt'), '--tls-key', file('tls.key'));
  const tokenAddr = await start('token', '--htpasswd', file('htpasswd'), '--acl', file('acl.json'), '--key', file('token.key'),
    '--issuer', 'berth-test-issuer', '--tls-cert', file('tls.crt'), '--tls-key', file('tls.key'));

  assert.equal((await httpsGet(`https://${addr}/v2/`, ca)).status, 401);
  assert.equal((await httpsGet(`https://${addr}/v2/`, ca, { Authorization: basic('alice', 'alice-pw') })).status, 200);
  await assert.rejects(httpsGet(`https://${addr}/v2/`, undefined), /self[- ]signed|unable to verify/i, 'the certificate is not publicly trusted');
  const t = await httpsGet(`https://${tokenAddr}/token?service=any&scope=repository:public/x:pull`, ca);
  assert.equal(t.status, 200);
  assert.ok((JSON.parse(t.body) as { token: string }).token.split('.').length === 3);

  // skopeo pushes an OCI layout with credentials, trusting our CA from a cert dir...
  const img = tinyImage('hello from skopeo\n');
  writeLayout(file('layout-in'), img, 'v1');
  const certDir = file('certs');
  mkdirSync(certDir);
  writeFileSync(path.join(certDir, 'ca.crt'), ca);
  const skopeo = (...args: string[]) => spawnSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', env: { ...process.env, HOME: tmp }, timeout: 15000 });
  const denied = skopeo('copy', '--dest-creds', 'alice:wrong', '--dest-cert-dir', certDir, `oci:${file('layout-in')}:v1`, `docker://${addr}/team/skopeo:v1`);
  assert.notEqual(denied.status, 0, 'wrong credentials are refused');
  assert.match(denied.stderr, /unauthorized|authentication required|401/i);
  const push = skopeo('copy', '--dest-creds', 'alice:alice-pw', '--dest-cert-dir', certDir, `oci:${file('layout-in')}:v1`, `docker://${addr}/team/skopeo:v1`);
  assert.equal(push.status, 0, push.stderr);
  const m = await httpsGet(`https://${addr}/v2/team/skopeo/manifests/v1`, ca, { Authorization: basic('bob', 'bob-pw'), Accept: OCI_MANIFEST });
  assert.equal(m.status, 200);
  assert.equal(m.body, img.manifest.toString(), 'an OCI image goes in unchanged');

  // ... and pulls it back without verifying TLS.
  const pull = skopeo('copy', '--src-creds', 'alice:alice-pw', '--src-tls-verify=false', `docker://${addr}/team/skopeo:v1`, `oci:${file('layout-out')}:v1`);
  assert.equal(pull.status, 0, pull.stderr);
  const index = JSON.parse(readFileSync(path.join(file('layout-out'), 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  assert.equal(index.manifests[0].digest, img.manifestDigest);
  assert.deepEqual(readFileSync(path.join(file('layout-out'), 'blobs', 'sha256', sha(img.layer).slice(7))), img.layer);
  const inspect = skopeo('inspect', '--creds', 'alice:alice-pw', '--tls-verify=false', `docker://${addr}/team/skopeo:v1`);
  assert.equal(inspect.status, 0, inspect.stderr);
  assert.equal((JSON.parse(inspect.stdout) as { Digest: string }).Digest, img.manifestDigest);
});

test('skopeo through the token flow', async () => {
  const tokenAddr = await start('token', '--htpasswd', file('htpasswd'), '--acl', file('acl.json'), '--key', file('token.key'), '--issuer', 'berth-test-issuer');
  const addr = await start('serve', '--root', file('root-skopeo-token'), '--token-realm', `http://${tokenAddr}/token`, '--token-service', 'berth-test',
    '--token-issuer', 'berth-test-issuer', '--token-cert', file('token.crt'), '--tls-cert', file('tls.crt'), '--tls-key', file('tls.key'));
  const skopeo = (...args: string[]) => spawnSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', env: { ...process.env, HOME: tmp }, timeout: 15000 });
  const img = tinyImage('hello from skopeo with tokens\n');
  writeLayout(file('layout-token'), img, 'v1');
  const push = skopeo('copy', '--dest-creds', 'alice:alice-pw', '--dest-tls-verify=false', `oci:${file('layout-token')}:v1`, `docker://${addr}/team/tok:v1`);
  assert.equal(push.status, 0, push.stderr);
  const bobPush = skopeo('copy', '--dest-creds', 'bob:bob-pw', '--dest-tls-verify=false', `oci:${file('layout-token')}:v1`, `docker://${addr}/team/tok:v2`);
  assert.notEqual(bobPush.status, 0, 'bob may only pull');
  const bobPull = skopeo('inspect', '--creds', 'bob:bob-pw', '--tls-verify=false', '--raw', `docker://${addr}/team/tok:v1`);
  assert.equal(bobPull.status, 0, bobPull.stderr);
  assert.equal(bobPull.stdout, img.manifest.toString());
});
