/**
 * The swarm CA (src/swarm/pki.ts): certificates it issues verify against it and against
 * no other CA, carry the node's names, role and addresses; join tokens round-trip and
 * malformed ones are refused with Docker's words.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../../src/common/exec';
import {
  caDigest,
  createRootCA,
  issueCertificate,
  issueFromCSR,
  loadCA,
  makeJoinToken,
  parseJoinToken,
  tokensEqual,
  verifyIssuedBy,
  type CA,
} from '../../src/swarm/pki';

let dir: string;
let ca: CA;
let other: CA;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'berth-pki-test-'));
  [ca, other] = await Promise.all([createRootCA(path.join(dir, 'a')), createRootCA(path.join(dir, 'b'))]);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the CA: a private key file, a self-signed P-256 certificate named swarm-ca for 20 years', async () => {
  assert.equal(statSync(path.join(dir, 'a', 'ca.key')).mode & 0o777, 0o600);
  const cert = new X509Certificate(ca.certPem);
  assert.match(cert.subject, /CN=swarm-ca/);
  assert.ok(cert.ca);
  assert.ok(verifyIssuedBy(ca.certPem, ca.certPem));
  assert.equal(createPublicKey(ca.certPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const years = (Date.parse(cert.validTo) - Date.now()) / (365.25 * 86400_000);
  assert.ok(years > 19.9 && years < 20.1, `valid for ${years} years`);
  assert.deepEqual(await loadCA(path.join(dir, 'a')), ca);
});

test('a certificate issued by the CA verifies against it and not against another CA', async () => {
  const issued = await issueCertificate(ca, { commonName: 'node1', organizationalUnit: 'swarm-manager', organization: 'cluster1', ipAddresses: ['10.0.0.1'] });
  assert.ok(verifyIssuedBy(issued.certPem, ca.certPem));
  assert.equal(verifyIssuedBy(issued.certPem, other.certPem), false);
  assert.equal(verifyIssuedBy('not a certificate', ca.certPem), false);
  // the key is the certificate's
  const key = createPrivateKey(issued.keyPem);
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(
    createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('hex'),
    new X509Certificate(issued.certPem).publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
  );
});

test('the names, role, cluster, addresses and uses are in the certificate', async () => {
  const issued = await issueCertificate(ca, {
    commonName: 'nodeabc',
    organizationalUnit: 'swarm-worker',
    organization: 'clusterxyz',
    ipAddresses: ['10.1.2.3', 'fd00::5'],
    dnsNames: ['worker1.example'],
    days: 10,
  });
  const cert = new X509Certificate(issued.certPem);
  assert.match(cert.subject, /CN=nodeabc/);
  assert.match(cert.subject, /OU=swarm-worker/);
  assert.match(cert.subject, /O=clusterxyz/);
  assert.match(cert.issuer, /CN=swarm-ca/);
  const sans = cert.subjectAltName ?? '';
  for (const want of ['IP Address:10.1.2.3', 'IP Address:127.0.0.1', 'DNS:localhost', 'DNS:worker1.example']) assert.ok(sans.includes(want), `${want} in ${sans}`);
  assert.match(sans, /IP Address:FD00:0:0:0:0:0:0:5/i);
  assert.ok(cert.checkIP('10.1.2.3'));
  assert.ok(cert.checkHost('localhost'));
  assert.equal(cert.ca, false);
  const { stdout } = await run('openssl', ['x509', '-noout', '-ext', 'extendedKeyUsage'], { input: issued.certPem });
  assert.match(stdout, /TLS Web Server Authentication, TLS Web Client Authentication/);
  const days = (Date.parse(cert.validTo) - Date.now()) / 86400_000;
  assert.ok(days > 9.9 && days < 10.1, `valid for ${days} days`);
});

test('names that could change the subject are refused', async () => {
  await assert.rejects(issueCertificate(ca, { commonName: 'a/CN=b', organizationalUnit: 'swarm-worker', organization: 'c', ipAddresses: [] }), /invalid certificate name/);
  await assert.rejects(issueCertificate(ca, { commonName: 'a', organizationalUnit: 'swarm-worker', organization: 'c', ipAddresses: ['10.0.0.1,DNS:evil'] }), /invalid IP address/);
});

test('a certificate for a request: the CA chooses the subject, the key stays the requester\'s', async () => {
  const work = mkdtempSync(path.join(dir, 'csr-'));
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(work, 'k.pem')]);
  const { stdout: csr } = await run('openssl', ['req', '-new', '-key', path.join(work, 'k.pem'), '-subj', '/CN=root/OU=swarm-manager']);
  const certPem = await issueFromCSR(ca, csr, { commonName: 'node9', organizationalUnit: 'swarm-worker', organization: 'cluster1', ipAddresses: ['10.0.0.9'] });
  const cert = new X509Certificate(certPem);
  assert.ok(verifyIssuedBy(certPem, ca.certPem));
  assert.match(cert.subject, /CN=node9/);
  assert.match(cert.subject, /OU=swarm-worker/);
  assert.doesNotMatch(cert.subject, /root|swarm-manager/);
  assert.ok(cert.checkIP('10.0.0.9'));
  const { stdout: pub } = await run('openssl', ['ec', '-pubout', '-in', path.join(work, 'k.pem')]);
  assert.equal(cert.publicKey.export({ format: 'pem', type: 'spki' }), pub);
  await assert.rejects(issueFromCSR(ca, 'garbage', { commonName: 'n', organizationalUnit: 'swarm-worker', organization: 'c', ipAddresses: [] }), /invalid certificate signing request/);
});

test('join tokens: Docker\'s shape, the CA digest round-trips, secrets differ', () => {
  const digest = caDigest(ca.certPem);
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.notEqual(digest, caDigest(other.certPem));
  const t1 = makeJoinToken(digest);
  const t2 = makeJoinToken(digest);
  assert.match(t1, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  assert.equal(parseJoinToken(t1).caDigest, digest);
  assert.equal(parseJoinToken(` ${t1}\n`).caDigest, digest);
  assert.notEqual(parseJoinToken(t1).secret, parseJoinToken(t2).secret);
  assert.equal(t1.slice(0, 60), t2.slice(0, 60));
  // a digest with leading zeros keeps them
  const small = '00000000000000000000000000000000000000000000000000000000000000ff';
  assert.equal(parseJoinToken(makeJoinToken(small)).caDigest, small);
  assert.ok(tokensEqual(t1, t1));
  assert.equal(tokensEqual(t1, t2), false);
  assert.equal(tokensEqual(t1, t1.slice(0, -1)), false);
});

test('malformed join tokens are refused as invalid', () => {
  const good = makeJoinToken(caDigest(ca.certPem));
  const bad = [
    '',
    'SWMTKN-1',
    good.replace('SWMTKN-1', 'SWMTKN-2'),
    good.replace('SWMTKN', 'XWMTKN'),
    good.slice(0, -1),
    `${good}a`,
    good.toUpperCase(),
    good.replace(/-([0-9a-z])/, '-!'),
    `SWMTKN-1-${'z'.repeat(50)}-${'a'.repeat(25)}`, // more than 256 bits
  ];
  for (const t of bad) {
    assert.throws(() => parseJoinToken(t), (e: Error & { statusCode?: number }) => /invalid join token/.test(e.message), `refused: ${JSON.stringify(t)}`);
  }
  assert.throws(() => parseJoinToken(undefined as unknown as string), /invalid join token/);
});
