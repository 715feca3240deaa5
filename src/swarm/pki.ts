/**
 * The swarm's certificate authority and join tokens. Certificates are made with the
 * `openssl` command (ECDSA P-256); node:crypto checks them. A node's certificate names
 * the node (CN), its role (OU) and the cluster (O), with the node's addresses as SANs,
 * and serves both as server and as client: etcd and the swarm port use mutual TLS.
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { promises as fsp } from 'node:fs';
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

/** A new key and a certificate for it, signed by the CA. */
export async function issueCertificate(
  ca: CA,
  o: { commonName: string; organizationalUnit: string; organization: string; ipAddresses: string[]; dnsNames?: string[]; days?: number },
): Promise<IssuedCert> {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-pki-'));
  try {
    await fsp.chmod(work, 0o700);
    const f = (n: string) => path.join(work, n);
    await fsp.writeFile(f('ca.crt'), ca.certPem);
    await fsp.writeFile(f('ca.key'), ca.keyPem, { mode: 0o600 });
    await run('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('node.key')]);
    const subject = `/O=${safe(o.organization)}/OU=${safe(o.organizationalUnit)}/CN=${safe(o.commonName)}`;
    await run('openssl', ['req', '-new', '-key', f('node.key'), '-subj', subject, '-out', f('node.csr')]);
    const ips = [...new Set([...o.ipAddresses, '127.0.0.1'])].map((ip) => `IP:${ip}`);
    const dns = [...new Set([...(o.dnsNames ?? []), 'localhost'])].map((n) => `DNS:${n}`);
    await fsp.writeFile(
      f('ext.cnf'),
      [`subjectAltName=${[...ips, ...dns].join(',')}`, 'extendedKeyUsage=serverAuth,clientAuth', 'keyUsage=critical,digitalSignature,keyEncipherment', 'basicConstraints=critical,CA:FALSE', ''].join('\n'),
    );
    await run('openssl', ['x509', '-req', '-in', f('node.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(o.days ?? 90), '-sha256', '-extfile', f('ext.cnf'), '-out', f('node.crt')]);
    // openssl writes an EC key in SEC1 form; PKCS#8 is what every TLS stack reads
    const { stdout: pkcs8 } = await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', f('node.key')]);
    return { certPem: await fsp.readFile(f('node.crt'), 'utf8'), keyPem: pkcs8 };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

function safe(s: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(s)) throw invalid(`invalid certificate name: ${s}`);
  return s;
}

export function verifyIssuedBy(certPem: string, caCertPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caCertPem).publicKey);
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
  return { caDigest: n.toString(16).padStart(64, '0'), secret: m[2] };
}

/** Compares tokens in constant time. */
export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
