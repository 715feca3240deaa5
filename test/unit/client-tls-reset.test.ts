/**
 * What the client says when a TLS connection goes wrong: a reset (in the handshake or after
 * it) is reported as a reset, in Docker's words; only a real certificate alert from the
 * daemon is reported as a refused client certificate. Local TLS servers on loopback only.
 */
import { test, after, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { EngineClient } from '../../src/client/engine';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-tls-reset-'));
let cert: Buffer;
let key: Buffer;
const servers: net.Server[] = [];

before(() => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'pipe' });
  cert = readFileSync(path.join(dir, 'cert.pem'));
  key = readFileSync(path.join(dir, 'key.pem'));
});

after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function listen(s: net.Server): Promise<number> {
  servers.push(s);
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port)));
}

/** The error a TLS client of the daemon at `port` fails with, on a plain request and on a hijack. */
async function failures(port: number, withCert = false): Promise<string[]> {
  const c = new EngineClient(`tcp://127.0.0.1:${port}`, { tls: { verify: false, ...(withCert ? { cert, key } : {}) } });
  const out: string[] = [];
  for (const attempt of [() => c.call('GET', '/_ping'), () => c.hijack('POST', '/containers/x/attach')]) {
    const e = await attempt().then(
      () => assert.fail('the request succeeded'),
      (err: unknown) => err as Error,
    );
    out.push(e.message);
  }
  return out;
}

test('a reset after the handshake is a reset; with a client certificate presented, a refusal is named as possible', async () => {
  const secure = tls.createServer({ cert, key });
  // the raw socket is kept: only it can be reset (a TLS socket cannot)
  const port = await listen(net.createServer((raw) => {
    secure.once('secureConnection', () => raw.resetAndDestroy());
    secure.emit('connection', raw);
  }));
  for (const m of await failures(port)) {
    assert.match(m, new RegExp(`^error during connect: tcp://127\\.0\\.0\\.1:${port}: read: connection reset by peer$`));
  }
  for (const m of await failures(port, true)) {
    assert.match(m, new RegExp(`^error during connect: tcp://127\\.0\\.0\\.1:${port}: read: connection reset by peer \\(the daemon closed the connection after the TLS handshake without answering: it may not accept the client certificate`));
  }
});

test('a daemon on Node refusing a certificate from another CA: a close after the handshake, with the hint', async () => {
  const other = path.join(dir, 'other');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=other', '-keyout', `${other}-key.pem`, '-out', `${other}.pem`], { stdio: 'pipe' });
  const secure = tls.createServer({ cert, key, ca: readFileSync(`${other}.pem`), requestCert: true, rejectUnauthorized: true });
  secure.on('tlsClientError', () => undefined);
  const port = await listen(secure);
  for (const m of await failures(port, true)) {
    assert.match(m, /^error during connect: .*(connection reset by peer|EOF).*it may not accept the client certificate/);
  }
});

test('a reset during the handshake is a reset', async () => {
  const port = await listen(net.createServer((raw) => raw.once('data', () => raw.resetAndDestroy())));
  for (const m of await failures(port)) {
    assert.match(m, /^error during connect: .*connection reset by peer$/);
    assert.doesNotMatch(m, /certificate/);
  }
});

test('a connection closed during the handshake is an EOF', async () => {
  const port = await listen(net.createServer((raw) => raw.once('data', () => raw.destroy())));
  for (const m of await failures(port)) {
    // (the socket's end may come before the TLS layer's own error: either way an EOF)
    assert.match(m, /^error during connect: .*: EOF \(the connection was closed (during the TLS handshake|before the daemon answered)\)$/);
  }
});

test('a daemon that requires a client certificate still says so', async () => {
  const secure = tls.createServer({ cert, key, ca: cert, requestCert: true, rejectUnauthorized: true });
  secure.on('tlsClientError', () => undefined);
  const port = await listen(secure);
  for (const m of await failures(port)) {
    assert.match(m, /TLS with tcp:\/\/127\.0\.0\.1:\d+ failed: the daemon requires a client certificate/);
  }
});
