/**
 * The dashboard's listener on its own (no daemon behind it): under TLS the session cookie is
 * Secure and HSTS is sent; berthd refuses to start on a non-loopback address without TLS; a
 * loopback listener answers only to loopback host names (no DNS rebinding onto it).
 */
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as https from 'node:https';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { DashboardServer } from '../../src/dashboard/server';
import { BERTHD } from '../helpers/daemon';

const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-dash-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function get(
  mod: typeof http | typeof https,
  port: number,
  pathAndQuery: string,
  host = `127.0.0.1:${port}`,
  client: { cert?: Buffer; key?: Buffer } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: '127.0.0.1', port, path: pathAndQuery, headers: { host }, rejectUnauthorized: false, agent: false, ...client }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('under TLS the session cookie is Secure and the answers carry HSTS', async () => {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  const server = new DashboardServer({ settings: { host: '127.0.0.1', port: 0, tlsCert: cert, tlsKey: key }, engineSocket: path.join(dir, 'no-engine.sock'), log: () => undefined, assetsDir: path.join(dir, 'no-assets') });
  await server.listen();
  try {
    const { token } = server.tokens.issue();
    assert.match(server.loginUrl(token), new RegExp(`^https://127\\.0\\.0\\.1:${server.port}/\\?token=`));
    const r = await get(https, server.port, `/?token=${token}`);
    assert.equal(r.status, 303);
    assert.match(String(r.headers['set-cookie']), /HttpOnly; SameSite=Strict; Max-Age=\d+; Secure/);
    assert.match(String(r.headers['strict-transport-security']), /max-age=/);
  } finally {
    await server.close();
  }
});

test('with --dashboard-tls-cacert, a browser with a client certificate the CA signed needs no link', async () => {
  const f = (name: string) => path.join(dir, name);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ecKey, '-days', '1', '-subj', '/CN=berth test CA', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'));
  ossl('req', '-x509', ...ecKey, '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', f('server-key.pem'), '-out', f('server.pem'));
  ossl('req', ...ecKey, '-subj', '/CN=admin', '-keyout', f('client-key.pem'), '-out', f('client.csr'));
  ossl('x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '1', '-out', f('client.pem'));
  // a certificate from someone else's CA
  ossl('req', '-x509', ...ecKey, '-days', '1', '-subj', '/CN=stranger', '-keyout', f('other-key.pem'), '-out', f('other.pem'));
  const server = new DashboardServer({
    settings: { host: '127.0.0.1', port: 0, tlsCert: f('server.pem'), tlsKey: f('server-key.pem'), tlsCa: f('ca.pem') },
    engineSocket: f('no-engine.sock'),
    log: () => undefined,
    assetsDir: f('no-assets'),
  });
  await server.listen();
  try {
    const host = `127.0.0.1:${server.port}`;
    assert.equal((await get(https, server.port, '/session')).status, 401, 'no certificate, no session');
    assert.equal((await get(https, server.port, '/session', host, { cert: readFileSync(f('other.pem')), key: readFileSync(f('other-key.pem')) })).status, 401, 'a stranger\'s certificate');
    const r = await get(https, server.port, '/session', host, { cert: readFileSync(f('client.pem')), key: readFileSync(f('client-key.pem')) });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['set-cookie']), /^berth_dashboard=[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Strict; .*Secure/);
  } finally {
    await server.close();
  }
});

test('a loopback dashboard answers only to loopback host names', async () => {
  const server = new DashboardServer({ settings: { host: '127.0.0.1', port: 0 }, engineSocket: path.join(dir, 'no-engine.sock'), log: () => undefined, assetsDir: path.join(dir, 'no-assets') });
  await server.listen();
  try {
    assert.equal((await get(http, server.port, '/session')).status, 401);
    assert.equal((await get(http, server.port, '/session', `localhost:${server.port}`)).status, 401);
    assert.equal((await get(http, server.port, '/session', `rebound.example:${server.port}`)).status, 421);
  } finally {
    await server.close();
  }
});

test('berthd refuses a dashboard off loopback without TLS, before it starts anything', () => {
  const r = spawnSync(process.execPath, [BERTHD, '--dashboard', '0.0.0.0:9880', '--data-root', path.join(dir, 'never')], { encoding: 'utf8' });
  assert.equal(r.status, 125);
  assert.match(r.stderr, /refusing to serve the dashboard on 0\.0\.0\.0:9880 without TLS/);
});
