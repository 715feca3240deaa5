/**
 * `berth system certs`: a CA, a server certificate and a client certificate for a daemon that
 * listens on TCP with --tlsverify, in one command (Docker documents an openssl recipe instead).
 * The files are named as Docker's docs name them (ca.pem, server-cert.pem, server-key.pem,
 * cert.pem, key.pem), so the client's three are a DOCKER_CERT_PATH as they are.
 *
 * The certificates are made by the openssl command (Debian's `openssl`, installed by setup.sh):
 * Node can sign with a key but cannot write an X.509 certificate, and openssl is the tool every
 * TLS set-up already trusts, so berth carries no certificate-building code of its own.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { isIP } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandSpec } from '../command';
import { dockerConfigDir } from '../../client/context-store';
import { StatusError, UsageError } from '../errors';

type KeyType = 'ecdsa' | 'rsa';

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new StatusError(missing ? 'berth system certs needs the openssl command (Debian package "openssl")' : `openssl ${args[0]} failed: ${stderr.trim() || err.message}`, 1));
    });
  });
}

function newKeyArgs(type: KeyType): string[] {
  return type === 'rsa' ? ['-newkey', 'rsa:3072'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
}

/** a positive 128-bit serial, random as RFC 5280 asks */
function serial(): string {
  return '0x' + randomBytes(16).toString('hex').replace(/^[89a-f]/, '7');
}

/** The subjectAltName line for the hosts and addresses asked for, always with the loopback names. */
export function subjectAltNames(hosts: readonly string[], ips: readonly string[]): string {
  const dns = new Set(['localhost', ...hosts]);
  const addrs = new Set(['127.0.0.1', '::1', ...ips]);
  return [...[...dns].map((d) => `DNS:${d}`), ...[...addrs].map((a) => `IP:${a}`)].join(',');
}

/** Signs a new key's request with the CA: a leaf certificate with the given extensions. */
async function leaf(dir: string, type: KeyType, days: number, name: string, keyFile: string, certFile: string, extensions: string[]): Promise<void> {
  const csr = `${certFile}.csr`;
  const ext = `${certFile}.ext`;
  try {
    await openssl(['req', '-new', ...newKeyArgs(type), '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`], dir);
    await fsp.writeFile(path.join(dir, ext), extensions.join('\n') + '\n');
    await openssl(['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', serial(), '-days', String(days), '-sha256', '-extfile', ext, '-out', certFile], dir);
  } finally {
    await fsp.rm(path.join(dir, csr), { force: true });
    await fsp.rm(path.join(dir, ext), { force: true });
  }
}

const OUTPUTS = ['ca.pem', 'ca-key.pem', 'server-cert.pem', 'server-key.pem', 'cert.pem', 'key.pem'];

export const certs: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'Create a CA, a server and a client certificate for TLS',
  args: { max: 0 },
  flags: [
    { name: 'dir', type: 'string', help: 'Directory to write the certificates and keys to', default: '', defaultText: '"~/.docker"' },
    { name: 'host', type: 'list', help: "DNS name of the daemon's host, for the server certificate (repeatable)" },
    { name: 'ip', type: 'list', help: "IP address of the daemon's host, for the server certificate (repeatable)" },
    { name: 'key-type', type: 'string', help: 'Key algorithm: "ecdsa" (P-256) or "rsa" (3072 bits)', default: 'ecdsa' },
    { name: 'days', type: 'int', help: 'Validity of the server and client certificates in days (the CA: 10 years)', default: 825, parse: (v) => Number(v) },
    { name: 'client-name', type: 'string', help: "Common name of the client certificate", default: 'client' },
    { name: 'force', type: 'bool', help: 'Overwrite certificates and keys that exist' },
  ],
  async run(ctx, p) {
    const keyType = p.values['key-type'] as string;
    if (keyType !== 'ecdsa' && keyType !== 'rsa') throw new UsageError(`invalid argument "${keyType}" for "--key-type" flag: ecdsa or rsa`);
    const days = p.values.days as number;
    if (!Number.isInteger(days) || days < 1) throw new UsageError(`invalid argument "${String(p.values.days)}" for "--days" flag: a whole number of days, at least 1`);
    const hosts = p.values.host as string[];
    const ips = p.values.ip as string[];
    for (const ip of ips) if (!isIP(ip)) throw new UsageError(`invalid argument "${ip}" for "--ip" flag: not an IP address`);
    for (const h of hosts) if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h)) throw new UsageError(`invalid argument "${h}" for "--host" flag: not a DNS name`);
    // where the client looks for them by default (connection.ts): DOCKER_CERT_PATH, else the docker config folder
    const dir = path.resolve((p.values.dir as string) || ctx.env.DOCKER_CERT_PATH || dockerConfigDir(ctx.env));
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    if (!p.values.force) {
      const present = [];
      for (const f of OUTPUTS) if (await fsp.stat(path.join(dir, f)).then(() => true, () => false)) present.push(f);
      if (present.length) throw new StatusError(`${dir} already holds ${present.join(', ')}: use --force to replace them`, 1);
    }
    // keys are written 0600 from the start (openssl honours the umask)
    const umask = process.umask(0o077);
    try {
      await openssl(
        ['req', '-x509', '-new', ...newKeyArgs(keyType), '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '3650', '-sha256', '-subj', '/CN=berth CA',
          '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash'],
        dir,
      );
      const usage = keyType === 'rsa' ? 'digitalSignature,keyEncipherment' : 'digitalSignature';
      const serverName = hosts[0] ?? ips[0] ?? 'localhost';
      await leaf(dir, keyType, days, serverName, 'server-key.pem', 'server-cert.pem', [
        'basicConstraints=critical,CA:FALSE', `keyUsage=critical,${usage}`, 'extendedKeyUsage=serverAuth', `subjectAltName=${subjectAltNames(hosts, ips)}`,
      ]);
      await leaf(dir, keyType, days, p.values['client-name'] as string, 'key.pem', 'cert.pem', [
        'basicConstraints=critical,CA:FALSE', `keyUsage=critical,${usage}`, 'extendedKeyUsage=clientAuth',
      ]);
    } finally {
      process.umask(umask);
    }
    for (const f of ['ca-key.pem', 'server-key.pem', 'key.pem']) await fsp.chmod(path.join(dir, f), 0o600);
    for (const f of ['ca.pem', 'server-cert.pem', 'cert.pem']) await fsp.chmod(path.join(dir, f), 0o644);
    ctx.out(
      `Wrote to ${dir}:\n` +
        '  ca.pem, ca-key.pem               the CA (keep ca-key.pem offline; it signs new certificates)\n' +
        '  server-cert.pem, server-key.pem  for berthd --tlsverify --tlscacert ca.pem --tlscert server-cert.pem --tlskey server-key.pem\n' +
        '  ca.pem, cert.pem, key.pem        for clients: DOCKER_CERT_PATH, or --tlscacert/--tlscert/--tlskey\n',
    );
    return 0;
  },
};
