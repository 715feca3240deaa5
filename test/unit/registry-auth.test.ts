import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject, createHmac, sign as rawSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { Access, formatScope, grantOf, parseScope, requiredAccess, wantedAccess } from '../../src/registry/auth/access';
import { allowedActions, globToRegExp, grantedScope, parseAcl } from '../../src/registry/auth/acl';
import { HtpasswdAuthorizer } from '../../src/registry/auth/basic';
import { basicChallenge, bearerChallenge } from '../../src/registry/auth/challenge';
import { basicCredentials, bearerToken } from '../../src/registry/auth/credentials';
import { HtpasswdFile, parseHtpasswd, verifyPassword } from '../../src/registry/auth/htpasswd';
import { algorithmFor, JwtClaims, JwtError, signJwt, verifyJwt } from '../../src/registry/auth/jwt';
import { keyId, loadPublicKeys } from '../../src/registry/auth/keys';
import { TokenAuthorizer } from '../../src/registry/auth/token-verifier';
import { RegistryError } from '../../src/registry/errors';
import { accepts } from '../../src/registry/handlers/manifests';
import { issueToken } from '../../src/registry/token-server';

// Cost 4 keeps the tests fast; the format and the check are the same at any cost.
const hash = (pw: string) => bcrypt.hashSync(pw, 4);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const request = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;

test('htpasswd: parsing keeps bcrypt users, skips others with a warning, refuses garbage', () => {
  const h = hash('secret');
  const parsed = parseHtpasswd(`# comment\r\nalice:${h}\r\n\n  bob:${h.replace('$2b$', '$2y$')}  \ncarol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\ndave:$apr1$x$y\n`);
  assert.deepEqual([...parsed.users.keys()], ['alice', 'bob']);
  assert.equal(parsed.warnings.length, 2);
  assert.match(parsed.warnings[0], /line 5: user carol/);
  assert.throws(() => parseHtpasswd('alice\n'), /line 1/);
  assert.throws(() => parseHtpasswd(`ok:${h}\n:${h}`), /line 2/);
});

test('htpasswd: bcrypt verification for $2a$, $2b$ and $2y$ hashes', async () => {
  const h = hash('pa:ss word');
  for (const prefix of ['$2a$', '$2b$', '$2y$']) {
    const variant = prefix + h.slice(4);
    assert.equal(await verifyPassword('pa:ss word', variant), true, prefix);
    assert.equal(await verifyPassword('pa:ss worD', variant), false, prefix);
  }
  assert.equal(await verifyPassword('x', '{SHA}whatever'), false);
});

test('htpasswd file: verify, unknown users, and reload when the file changes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-htpasswd-'));
  try {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, `alice:${hash('one')}\n`);
    const logs: string[] = [];
    const users = new HtpasswdFile(file, (l) => logs.push(l));
    assert.equal(await users.verify('alice', 'one'), true);
    assert.equal(await users.verify('alice', 'one'), true, 'a remembered check answers the same');
    assert.equal(await users.verify('alice', 'two'), false);
    assert.equal(await users.verify('mallory', 'one'), false);

    // A new password (different length line, so the change is seen even within one mtime tick).
    writeFileSync(file, `alice:${hash('two')}\n# changed\n`);
    assert.equal(await users.verify('alice', 'two'), true);
    assert.equal(await users.verify('alice', 'one'), false, 'the remembered old password no longer works');

    writeFileSync(file, 'broken line without colon and longer than before\n');
    assert.equal(await users.verify('alice', 'two'), true, 'a broken file keeps the previous contents');
    assert.match(logs.join('\n'), /keeping the previous contents/);
    assert.throws(() => new HtpasswdFile(path.join(dir, 'missing')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Authorization header parsing', () => {
  const enc = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  assert.deepEqual(basicCredentials(enc('alice:pa:ss')), { user: 'alice', password: 'pa:ss' });
  assert.deepEqual(basicCredentials(`basic ${Buffer.from('a:').toString('base64')}`), { user: 'a', password: '' });
  assert.equal(basicCredentials(enc('nocolon')), undefined);
  assert.equal(basicCredentials('Bearer abc'), undefined);
  assert.equal(basicCredentials(undefined), undefined);
  assert.equal(bearerToken('Bearer a.b.c'), 'a.b.c');
  assert.equal(bearerToken('bearer  a.b.c '), 'a.b.c');
  assert.equal(bearerToken(enc('a:b')), undefined);
});

test('htpasswd authorizer: 401 with a Basic challenge, any valid user gets everything', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-htpasswd-'));
  try {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(file, `alice:${hash('pw')}\n`);
    const auth = new HtpasswdAuthorizer(new HtpasswdFile(file));
    const needed: Access[] = [{ type: 'repository', name: 'a', action: 'push' }];
    for (const header of [undefined, `Basic ${Buffer.from('alice:nope').toString('base64')}`, 'Bearer x.y.z']) {
      await assert.rejects(auth.authorize(request(header), needed), (e: RegistryError) => {
        assert.equal(e.status, 401);
        assert.equal(e.code, 'UNAUTHORIZED');
        assert.equal(e.headers['WWW-Authenticate'], 'Basic realm="berth-registry"');
        return true;
      });
    }
    const grant = await auth.authorize(request(`Basic ${Buffer.from('alice:pw').toString('base64')}`), needed);
    assert.equal(grant.subject, 'alice');
    assert.ok(grant.allows({ type: 'repository', name: 'anything', action: 'delete' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const NOW = 1_700_000_000;
const claims = (over: JwtClaims = {}): JwtClaims => ({ iss: 'iss', aud: 'svc', sub: 'alice', iat: NOW, nbf: NOW, exp: NOW + 300, ...over });
const opts = { issuer: 'iss', audience: 'svc', now: NOW };

test('jwt: algorithms follow the key', () => {
  assert.equal(algorithmFor(rsa.privateKey), 'RS256');
  assert.equal(algorithmFor(ec.privateKey), 'ES256');
  assert.equal(algorithmFor(ec384.publicKey), 'ES384');
  assert.equal(algorithmFor(generateKeyPairSync('ed25519').privateKey), 'EdDSA');
  assert.throws(() => algorithmFor(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey), /no JWT algorithm/);
});

test('jwt: good tokens verify with RS256, ES256, ES384, ES512 and EdDSA', () => {
  for (const pair of [rsa, ec, ec384, generateKeyPairSync('ec', { namedCurve: 'P-521' }), generateKeyPairSync('ed25519')]) {
    const token = signJwt(claims(), pair.privateKey, { kid: keyId(pair.publicKey) });
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    assert.equal(header.alg, algorithmFor(pair.privateKey));
    assert.equal(header.kid, keyId(pair.publicKey));
    assert.equal(verifyJwt(token, [rsa.publicKey, ec.publicKey, ec384.publicKey, pair.publicKey], opts).sub, 'alice');
  }
  // An audience list, and clock skew within the leeway on both ends.
  assert.ok(verifyJwt(signJwt(claims({ aud: ['other', 'svc'] }), ec.privateKey), [ec.publicKey], opts));
  assert.ok(verifyJwt(signJwt(claims({ exp: NOW - 30 }), ec.privateKey), [ec.publicKey], opts));
  assert.ok(verifyJwt(signJwt(claims({ nbf: NOW + 30, iat: NOW + 30 }), ec.privateKey), [ec.publicKey], opts));
});

test('jwt: refused tokens', () => {
  const keys = [rsa.publicKey, ec.publicKey];
  const refused = (token: string, why: RegExp) => assert.throws(() => verifyJwt(token, keys, opts), (e: Error) => e instanceof JwtError && why.test(e.message));
  refused(signJwt(claims({ exp: NOW - 61 }), rsa.privateKey), /expired/);
  refused(signJwt(claims({ exp: undefined }), rsa.privateKey), /no expiry/);
  refused(signJwt(claims({ nbf: NOW + 120 }), rsa.privateKey), /not valid yet/);
  refused(signJwt(claims({ iat: NOW + 120 }), rsa.privateKey), /future/);
  refused(signJwt(claims({ iss: 'evil' }), rsa.privateKey), /issuer/);
  refused(signJwt(claims({ aud: 'other' }), rsa.privateKey), /not meant for service svc/);
  refused(signJwt(claims({ aud: undefined }), rsa.privateKey), /not meant/);

  // Signed by an untrusted key of the right kind.
  refused(signJwt(claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey), /signature/);
  // A trusted signature over other claims.
  const [h, , s] = signJwt(claims(), ec.privateKey).split('.');
  refused(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`, /signature/);
  // The header says RS256 but the signature is ECDSA: no RSA key will verify it.
  const p = b64(claims());
  const ecSig = rawSign('sha256', Buffer.from(`${b64({ alg: 'RS256' })}.${p}`), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  refused(`${b64({ alg: 'RS256' })}.${p}.${ecSig}`, /signature/);
  // ES384 with only P-256 and RSA keys trusted.
  refused(signJwt(claims(), ec384.privateKey), /no trusted key/);

  // alg none, with and without a signature part.
  refused(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.`, /malformed/);
  refused(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.AAAA`, /algorithm "none"/);
  // HS256 keyed with the public key's PEM, the classic confusion attack.
  const hsInput = `${b64({ alg: 'HS256' })}.${p}`;
  const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  refused(`${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`, /algorithm "HS256"/);
  refused(`${b64({ alg: 'RS256', crit: ['x'] })}.${p}.AAAA`, /critical/);
  refused('a.b', /malformed/);
  refused(`${Buffer.from('not json').toString('base64url')}.${p}.AAAA`, /header/);
});

test('keys: PEM bundles of certificates and keys, and libtrust-style key ids', () => {
  const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
  const keys = loadPublicKeys(`junk\n${pem(rsa.publicKey)}\n${pem(ec.publicKey)}`);
  assert.equal(keys.length, 2);
  assert.ok(keys[1].equals(ec.publicKey));
  assert.throws(() => loadPublicKeys('nothing here'), /no certificate or public key/);
  const id = keyId(ec.publicKey);
  assert.match(id, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  assert.equal(keyId(ec.privateKey), id, 'a private key has the id of its public half');
  assert.notEqual(keyId(rsa.publicKey), id);
  // Worked out independently: openssl pkey -pubout -outform DER | sha256 | first 30 bytes | base32.
  const fixed = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgMxm3kuAq73MDr3di1kj0ig1nCwW\n5W3/H0XSbtMdJ5SqCOAW4XNoTHsgRYSQfMwcRyxFzheO/2B7FJrq2J7DuA==\n-----END PUBLIC KEY-----\n';
  assert.equal(keyId(loadPublicKeys(fixed)[0]), 'S3SP:SLSW:LO3F:M5MY:OSTR:B3LR:GTKY:RSBG:ZPUT:AGTO:GDGZ:P2X7');
});

test('access: what each route needs, and scope text', () => {
  const r = (action: string, name = 'team/app'): Access => ({ type: 'repository', name, action });
  assert.deepEqual(requiredAccess('base', 'GET', ''), []);
  assert.deepEqual(requiredAccess('catalog', 'GET', ''), [{ type: 'registry', name: 'catalog', action: '*' }]);
  for (const res of ['manifest', 'blob', 'tags', 'referrers'] as const) {
    assert.deepEqual(requiredAccess(res, 'GET', 'team/app'), [r('pull')], res);
    assert.deepEqual(requiredAccess(res, 'HEAD', 'team/app'), [r('pull')], res);
  }
  assert.deepEqual(requiredAccess('manifest', 'PUT', 'team/app'), [r('pull'), r('push')]);
  assert.deepEqual(requiredAccess('manifest', 'DELETE', 'team/app'), [r('delete')]);
  assert.deepEqual(requiredAccess('blob', 'DELETE', 'team/app'), [r('delete')]);
  for (const m of ['POST', 'PATCH', 'PUT', 'GET', 'DELETE']) {
    assert.deepEqual(requiredAccess(m === 'POST' ? 'uploads' : 'upload', m, 'team/app'), [r('pull'), r('push')], m);
  }
  const q = (s: string) => new URLSearchParams(s);
  const d = 'sha256:' + 'a'.repeat(64);
  assert.deepEqual(wantedAccess('uploads', 'POST', q(`mount=${d}&from=lib/src`)), [r('pull', 'lib/src')]);
  assert.deepEqual(wantedAccess('uploads', 'POST', q(`mount=${d}&from=Bad`)), []);
  assert.deepEqual(wantedAccess('uploads', 'POST', q('from=lib/src')), []);
  assert.deepEqual(wantedAccess('upload', 'PUT', q(`mount=${d}&from=lib/src`)), []);
  assert.equal(formatScope([r('pull'), r('push'), r('pull', 'other'), r('push')]), 'repository:team/app:pull,push repository:other:pull');
  assert.deepEqual(parseScope('repository:team/app:pull,push'), { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
  assert.deepEqual(parseScope('repository:localhost:5000/app:pull'), { type: 'repository', name: 'localhost:5000/app', actions: ['pull'] });
  assert.deepEqual(parseScope('repository(plugin):x:pull,pull'), { type: 'repository', name: 'x', actions: ['pull'] });
  assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
  for (const bad of ['', 'repository', 'repository:x', ':x:pull', 'repository::pull', 'Repo:x:pull']) assert.equal(parseScope(bad), undefined, bad);

  const g = grantOf('alice', [{ type: 'repository', name: 'team/app', actions: ['pull'] }, { type: 'registry', name: 'catalog', actions: ['*'] }]);
  assert.ok(g.allows(r('pull')));
  assert.ok(!g.allows(r('push')));
  assert.ok(!g.allows(r('pull', 'team/other')));
  assert.ok(g.allows({ type: 'registry', name: 'catalog', action: '*' }));
  assert.ok(!g.allows({ type: 'repository', name: 'catalog', action: 'pull' }), 'types are not interchangeable');
});

test('challenges', () => {
  assert.equal(basicChallenge('berth-registry'), 'Basic realm="berth-registry"');
  const needed: Access[] = [{ type: 'repository', name: 'team/app', action: 'pull' }, { type: 'repository', name: 'team/app', action: 'push' }];
  assert.equal(bearerChallenge('https://auth/token', 'reg', needed), 'Bearer realm="https://auth/token",service="reg",scope="repository:team/app:pull,push"');
  assert.equal(bearerChallenge('r', 's', [], 'invalid_token'), 'Bearer realm="r",service="s",error="invalid_token"');
  assert.equal(bearerChallenge('r"\\', 's', needed.slice(0, 1), 'insufficient_scope'), 'Bearer realm="r\\"\\\\",service="s",scope="repository:team/app:pull",error="insufficient_scope"');
});

test('acl: parsing, globs, and granting the intersection', () => {
  assert.throws(() => parseAcl('{}'), /JSON array/);
  assert.throws(() => parseAcl('[{"account":"a","name":"x"}]'), /rule 0: actions/);
  assert.throws(() => parseAcl('[{"account":"a","name":"x","actions":[]},{"name":"y","actions":[]}]'), /rule 1: account/);
  assert.throws(() => parseAcl('nope'), /not valid JSON/);
  const acl = parseAcl(JSON.stringify([
    { account: 'alice', name: 'team/*', actions: ['pull', 'push'] },
    { account: 'bob', name: 'team/app', actions: ['pull'] },
    { account: '*', name: 'public/*', actions: ['pull'] },
    { account: 'admin', name: '*', actions: ['*'] },
    { account: 'admin', type: 'registry', name: 'catalog', actions: ['*'] },
  ]));
  assert.equal(acl[0].type, 'repository');
  assert.ok(globToRegExp('team/*').test('team/a/b'));
  assert.ok(!globToRegExp('team/*').test('teams/a'));
  assert.ok(globToRegExp('a.b?').test('a.bc') && !globToRegExp('a.b?').test('axbc'));
  const want = (name: string, ...actions: string[]) => ({ type: 'repository', name, actions });
  assert.deepEqual(grantedScope(acl, 'alice', want('team/app', 'pull', 'push', 'delete')).actions, ['pull', 'push']);
  assert.deepEqual(grantedScope(acl, 'alice', want('other/app', 'pull')).actions, []);
  assert.deepEqual(grantedScope(acl, 'bob', want('team/app', 'pull', 'push')).actions, ['pull']);
  assert.deepEqual(grantedScope(acl, 'bob', want('public/x', 'pull')).actions, ['pull'], '"*" rules apply to users too');
  assert.deepEqual(grantedScope(acl, '', want('public/x', 'pull', 'push')).actions, ['pull']);
  assert.deepEqual(grantedScope(acl, '', want('team/app', 'pull')).actions, []);
  assert.deepEqual(grantedScope(acl, 'admin', want('x/y', 'pull', 'push', 'delete')).actions, ['pull', 'push', 'delete']);
  assert.deepEqual(grantedScope(acl, 'admin', { type: 'registry', name: 'catalog', actions: ['*'] }).actions, ['*']);
  assert.deepEqual(grantedScope(acl, 'alice', { type: 'registry', name: 'catalog', actions: ['*'] }).actions, []);
  assert.deepEqual([...allowedActions(acl, 'alice', 'repository', 'team/x')], ['pull', 'push']);
});

test('token authorizer: issued tokens, scopes, and the challenges it answers with', async () => {
  const acl = parseAcl(JSON.stringify([{ account: 'alice', name: 'team/a', actions: ['pull', 'push'] }, { account: 'bob', name: 'team/a', actions: ['pull'] }]));
  const server = { users: undefined as never, acl, key: ec.privateKey, issuer: 'iss' };
  const auth = new TokenAuthorizer({ realm: 'https://auth/token', service: 'svc', issuer: 'iss', keys: [ec.publicKey] });
  const push = (name: string): Access[] => [{ type: 'repository', name, action: 'pull' }, { type: 'repository', name, action: 'push' }];
  const scope = (name: string) => ({ type: 'repository', name, actions: ['pull', 'push'] });
  const tokenFor = (account: string, name: string) => issueToken(server, account, 'svc', [scope(name)]).token;
  const refusal = (error: string | undefined, scopeText: string) => (e: RegistryError) => {
    assert.equal(e.status, 401);
    assert.equal(e.code, 'UNAUTHORIZED');
    const expected = `Bearer realm="https://auth/token",service="svc"${scopeText ? `,scope="${scopeText}"` : ''}${error ? `,error="${error}"` : ''}`;
    assert.equal(e.headers['WWW-Authenticate'], expected);
    return true;
  };

  const alice = tokenFor('alice', 'team/a');
  const mountSource: Access[] = [{ type: 'repository', name: 'lib/src', action: 'pull' }];
  const mountGrant = await auth.authorize(request(`Bearer ${alice}`), push('team/a'), mountSource);
  assert.ok(!mountGrant.allows(mountSource[0]), 'wanted accesses are not required');
  await assert.rejects(auth.authorize(request(), push('team/a'), mountSource), refusal(undefined, 'repository:team/a:pull,push repository:lib/src:pull'));
  const grant = await auth.authorize(request(`Bearer ${alice}`), push('team/a'));
  assert.equal(grant.subject, 'alice');
  assert.ok((await auth.authorize(request(`Bearer ${alice}`), [])).allows(push('team/a')[0]), '/v2/ needs only a valid token');

  await assert.rejects(auth.authorize(request(), push('team/a')), refusal(undefined, 'repository:team/a:pull,push'));
  await assert.rejects(auth.authorize(request(), []), refusal(undefined, ''));
  await assert.rejects(auth.authorize(request(`Bearer ${alice}`), push('team/b')), refusal('insufficient_scope', 'repository:team/b:pull,push'));
  await assert.rejects(auth.authorize(request(`Bearer ${tokenFor('bob', 'team/a')}`), push('team/a')), refusal('insufficient_scope', 'repository:team/a:pull,push'));
  await assert.rejects(auth.authorize(request('Bearer not.a.token'), push('team/a')), refusal('invalid_token', 'repository:team/a:pull,push'));
  const otherService = issueToken(server, 'alice', 'elsewhere', [scope('team/a')]).token;
  await assert.rejects(auth.authorize(request(`Bearer ${otherService}`), []), refusal('invalid_token', ''));
  const badAccess = signJwt(claims({ iss: 'iss', aud: 'svc', iat: undefined, nbf: undefined, exp: Math.floor(Date.now() / 1000) + 60, access: 'all' }), ec.privateKey);
  await assert.rejects(auth.authorize(request(`Bearer ${badAccess}`), []), refusal('invalid_token', ''));

  // What the token server leaves out of a token is simply absent from it.
  const t = issueToken(server, 'bob', 'svc', [scope('team/a'), scope('team/b')]);
  assert.deepEqual(t.access, [{ type: 'repository', name: 'team/a', actions: ['pull'] }]);
  assert.equal(t.expiresIn, 300);
  const c = verifyJwt(t.token, [ec.publicKey], { issuer: 'iss', audience: 'svc' });
  assert.equal(c.sub, 'bob');
  assert.equal((c.exp as number) - (c.iat as number), 300);
});

test('Accept header matching for manifests', () => {
  const INDEX = 'application/vnd.oci.image.index.v1+json';
  assert.ok(accepts(undefined, INDEX));
  assert.ok(accepts('', INDEX));
  assert.ok(accepts('*/*', INDEX));
  assert.ok(accepts('application/*;q=0.5', INDEX));
  assert.ok(accepts(`application/vnd.docker.distribution.manifest.v2+json, ${INDEX.toUpperCase()};q=0.9`, INDEX));
  assert.ok(accepts(['application/json', INDEX], INDEX));
  assert.ok(!accepts('application/vnd.docker.distribution.manifest.v2+json', INDEX));
  assert.ok(!accepts('text/*', INDEX));
});
