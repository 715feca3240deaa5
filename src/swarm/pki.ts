/**
 * The swarm's certificate authority and join tokens. Certificates are made with the
 * `openssl` command (ECDSA P-256); node:crypto checks them. A node's certificate names
 * the node (CN), its role (OU) and the cluster (O), with the node's addresses as SANs,
 * and serves both as server and as client: etcd and the swarm port use mutual TLS.
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { isIP } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalid } from '../common/errors';
import { run } from '../common/exec';

export interface CA {
  certPem: string;
  keyPem: string;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

/** Makes a CA (key 0600, certificate) in `dir`: 20 years, CN "swarm-ca". */
export async function createRootCA(dir: string): Promise<CA> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const key = path.join(dir, 'ca.key');
  const crt = path.join(dir, 'ca.crt');
  await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await fsp.chmod(key, 0o600);
  await run('openssl', ['req', '-x509', '-new', '-key', key, '-subj', '/CN=swarm-ca', '-days', '7300', '-sha256', '-out', crt, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return loadCA(dir);
}

export async function loadCA(dir: string): Promise<CA> {
  return { certPem: await fsp.readFile(path.join(dir, 'ca.crt'), 'utf8'), keyPem: await fsp.readFile(path.join(dir, 'ca.key'), 'utf8') };
}

export interface CertSubject {
  /** the node's ID; '' for a certificate that names nobody (an etcd client's) */
  commonName: string;
  /** 'swarm-manager' or 'swarm-worker' */
  organizationalUnit: string;
  /** the cluster's ID */
  organization: string;
  /** always joined by 127.0.0.1 */
  ipAddresses: string[];
  /** always joined by "localhost" */
  dnsNames?: string[];
  /** 90 unless told */
  days?: number;
}

/** A new key and a certificate for it, signed by the CA. */
export async function issueCertificate(ca: CA, o: CertSubject): Promise<IssuedCert> {
  return inWorkDir(async (f) => {
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('node.key')]);
    await run('openssl', ['req', '-new', '-key', f('node.key'), '-subj', subjectOf(o), '-out', f('node.csr')]);
    const certPem = await sign(ca, f, o);
    // openssl writes an EC key in SEC1 form; PKCS#8 is what every TLS stack reads
    const { stdout: pkcs8 } = await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', f('node.key')]);
    return { certPem, keyPem: pkcs8 };
  });
}

/**
 * A certificate for the key of a certificate request (the key never leaves the node that
 * made it). Only the request's key and signature count: the subject and the names are
 * the CA's choice, from `o`, whatever the request asked for.
 */
export async function issueFromCSR(ca: CA, csrPem: string, o: CertSubject): Promise<string> {
  return inWorkDir(async (f) => {
    await fsp.writeFile(f('node.csr'), csrPem);
    try {
      await run('openssl', ['req', '-verify', '-noout', '-in', f('node.csr')]);
    } catch {
      throw invalid('invalid certificate signing request');
    }
    return sign(ca, f, o);
  });
}

/** A scratch directory (0700) for openssl's files, removed afterwards. */
async function inWorkDir<T>(fn: (f: (name: string) => string) => Promise<T>): Promise<T> {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-pki-'));
  try {
    await fsp.chmod(work, 0o700);
    return await fn((n) => path.join(work, n));
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

function subjectOf(o: CertSubject): string {
  // no common name: etcd refuses a named client certificate on its JSON gateway once access control is on
  return `/O=${safe(o.organization)}/OU=${safe(o.organizationalUnit)}${o.commonName ? `/CN=${safe(o.commonName)}` : ''}`;
}

/** Signs f('node.csr') with the CA, with the subject and names of `o`; the certificate's PEM. */
async function sign(ca: CA, f: (name: string) => string, o: CertSubject): Promise<string> {
  await fsp.writeFile(f('ca.crt'), ca.certPem);
  await fsp.writeFile(f('ca.key'), ca.keyPem, { mode: 0o600 });
  const ips = [...new Set([...o.ipAddresses, '127.0.0.1'])].map((ip) => `IP:${ip}`);
  const dns = [...new Set([...(o.dnsNames ?? []), 'localhost'])].map((n) => `DNS:${n}`);
  for (const n of o.dnsNames ?? []) safe(n);
  for (const ip of o.ipAddresses) if (!isIP(ip)) throw invalid(`invalid IP address: ${ip}`);
  await fsp.writeFile(
    f('ext.cnf'),
    [`subjectAltName=${[...ips, ...dns].join(',')}`, 'extendedKeyUsage=serverAuth,clientAuth', 'keyUsage=critical,digitalSignature,keyEncipherment', 'basicConstraints=critical,CA:FALSE', ''].join('\n'),
  );
  await run('openssl', ['x509', '-req', '-in', f('node.csr'), '-subj', subjectOf(o), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(o.days ?? 90), '-sha256', '-extfile', f('ext.cnf'), '-out', f('node.crt')]);
  return fsp.readFile(f('node.crt'), 'utf8');
}

function safe(s: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(s)) throw invalid(`invalid certificate name: ${s}`);
  return s;
}

/** Whether the CA signed the certificate (its issuer names the CA, and the signature checks). */
export function verifyIssuedBy(certPem: string, caCertPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caCertPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The CA's fingerprint: sha256 of its DER, in hex. */
export function caDigest(caCertPem: string): string {
  return createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex');
}

const TOKEN = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/;

/** Docker's join token: SWMTKN-1-<CA digest in base 36>-<random secret>. */
export function makeJoinToken(digestHex: string): string {
  const digest = BigInt(`0x${digestHex}`).toString(36).padStart(50, '0');
  let secret = '';
  while (secret.length < 25) secret += BigInt(`0x${randomBytes(16).toString('hex')}`).toString(36);
  return `SWMTKN-1-${digest}-${secret.slice(0, 25)}`;
}

export function parseJoinToken(token: string): { caDigest: string; secret: string } {
  const m = TOKEN.exec((token ?? '').trim());
  if (!m) throw invalid('invalid join token');
  let n = 0n;
  for (const ch of m[1]) n = n * 36n + BigInt(parseInt(ch, 36));
  // 50 base-36 digits hold a little more than a sha256
  if (n >= 1n << 256n) throw invalid('invalid join token');
  return { caDigest: n.toString(16).padStart(64, '0'), secret: m[2] };
}

/** Compares tokens in constant time (both are hashed first, so not even their lengths tell). */
export function tokensEqual(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(String(s)).digest();
  return timingSafeEqual(h(a), h(b)) && a === b;
}
