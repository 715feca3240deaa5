import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, BERTH, REPO, runCommand, type CommandResult } from '../helpers/daemon';
import { TmuxSession } from '../helpers/tmux';

// berthd listening on TCP with mutual TLS inside the test's namespace, reached by the berth CLI,
// the docker CLI and dockerode (each run inside the namespace); the refusals each end in a clear
// error, never a hang; the streaming commands work over TLS as over the socket.
let d: TestDaemon;
let tmp: string;
let certs: string;
let other: string;
const TLS_HOST = 'tcp://127.0.0.1:2376';

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-remote-tls-'));
  certs = path.join(tmp, 'certs');
  other = path.join(tmp, 'other');
  for (const dir of [certs, other]) {
    const r = await runCommand(BERTH, ['system', 'certs', '--dir', dir, '--host', 'node1.test', '--ip', '10.0.0.1']);
    assert.equal(r.code, 0, r.stderr);
  }
  // a client certificate from the right CA that expired (notAfter before notBefore)
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'expired-key.pem', '-out', 'expired.csr', '-subj', '/CN=old'], { cwd: tmp, stdio: 'ignore' });
  writeFileSync(path.join(tmp, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  execFileSync('openssl', ['x509', '-req', '-in', 'expired.csr', '-CA', 'certs/ca.pem', '-CAkey', 'certs/ca-key.pem', '-set_serial', '7', '-days', '-1', '-extfile', 'client.ext', '-out', 'expired-cert.pem'], { cwd: tmp, stdio: 'ignore' });
  d = await TestDaemon.start(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${certs}/server-cert.pem`, '--tlskey', `${certs}/server-key.pem`]);
});
after(async () => {
  await d?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Runs a command inside the daemon's namespace, where its TCP listener is. */
function inNs(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  return runCommand('nsenter', [`--net=/run/netns/${d.netns}`, cmd, ...args], { env: { ...process.env, ...opts.env }, input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
}
const tlsFlags = (dir = certs) => ['-H', TLS_HOST, '--tlsverify', '--tlscacert', `${dir}/ca.pem`, '--tlscert', `${dir}/cert.pem`, '--tlskey', `${dir}/key.pem`];
const berthTls = (args: string[], input?: string) => inNs(BERTH, [...tlsFlags(), ...args], { input });
const dockerEnv = () => ({ DOCKER_HOST: TLS_HOST, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs, DOCKER_CONFIG: path.join(tmp, 'docker-config') });

test('system certs: ECDSA P-256 keys 0600, SANs asked for plus loopback, serverAuth and clientAuth', () => {
  for (const key of ['ca-key.pem', 'server-key.pem', 'key.pem']) assert.equal(statSync(path.join(certs, key)).mode & 0o777, 0o600, key);
  const server = execFileSync('openssl', ['x509', '-in', path.join(certs, 'server-cert.pem'), '-noout', '-text']).toString();
  assert.match(server, /DNS:localhost, DNS:node1\.test/);
  assert.match(server, /IP Address:127\.0\.0\.1.*IP Address:10\.0\.0\.1/);
  assert.match(server, /TLS Web Server Authentication/);
  assert.match(server, /prime256v1|P-256/);
  const client = execFileSync('openssl', ['x509', '-in', path.join(certs, 'cert.pem'), '-noout', '-text']).toString();
  assert.match(client, /TLS Web Client Authentication/);
  assert.doesNotMatch(client, /Server Authentication/);
  execFileSync('openssl', ['verify', '-CAfile', path.join(certs, 'ca.pem'), path.join(certs, 'server-cert.pem'), path.join(certs, 'cert.pem')]);
});

test('berth CLI over mutual TLS: flags, and DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH', async () => {
  const v = await berthTls(['version', '--format', '{{.Server.Os}}']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), 'linux');
  const env = await inNs(BERTH, ['ps', '-a', '--format', '{{.ID}}'], { env: dockerEnv() });
  assert.equal(env.code, 0, env.stderr);
});

test('docker CLI over mutual TLS with the standard variables: run (attach), exec -i, cp', async () => {
  const docker = (args: string[], input?: string) => inNs('docker', args, { env: dockerEnv(), input });
  const run = await docker(['run', '--rm', 'busybox', 'echo', 'over-tls']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'over-tls');
  const c = await docker(['run', '-d', '--name', 'dk', 'busybox', 'sleep', '300']);
  assert.equal(c.code, 0, c.stderr);
  const ex = await docker(['exec', '-i', 'dk', 'sh', '-c', 'cat; echo done'], 'piped-in\n');
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout, 'piped-in\ndone\n');
  writeFileSync(path.join(tmp, 'dk.txt'), 'from docker cp\n');
  assert.equal((await docker(['cp', path.join(tmp, 'dk.txt'), 'dk:/tmp/dk.txt'])).code, 0);
  const back = await docker(['exec', 'dk', 'cat', '/tmp/dk.txt']);
  assert.equal(back.stdout, 'from docker cp\n');
  assert.equal((await docker(['rm', '-f', 'dk'])).code, 0);
});

test('dockerode over mutual TLS: ping, create, start, wait, logs', async () => {
  const script = `
    const Docker = require(${JSON.stringify(path.join(REPO, 'node_modules', 'dockerode'))});
    const fs = require('fs');
    const dir = ${JSON.stringify(certs)};
    const docker = new Docker({ protocol: 'https', host: '127.0.0.1', port: 2376, ca: fs.readFileSync(dir + '/ca.pem'), cert: fs.readFileSync(dir + '/cert.pem'), key: fs.readFileSync(dir + '/key.pem') });
    (async () => {
      const ping = await docker.ping();
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['echo', 'dockerode-tls'] });
      await c.start();
      const w = await c.wait();
      const logs = await c.logs({ stdout: true });
      await c.remove();
      console.log(JSON.stringify({ ping: ping.toString(), status: w.StatusCode, logs: logs.toString('latin1') }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = await inNs(process.execPath, ['-e', script]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ping: string; status: number; logs: string };
  assert.equal(out.ping, 'OK');
  assert.equal(out.status, 0);
  assert.match(out.logs, /dockerode-tls/);
});

test('docker-py over mutual TLS from the standard variables (docker.from_env)', async (t) => {
  const src = [path.resolve(REPO, '..', 'shared', 'conformance', 'docker-py'), '/work/shared/conformance/docker-py'].find((p) => existsSync(path.join(p, 'docker')));
  if (!src) return t.skip('docker-py sources not found (../shared/conformance/docker-py)');
  const script = "import docker; c = docker.from_env(); print(c.ping(), c.version()['Os'], c.containers.run('busybox', ['echo', 'py-tls'], remove=True).decode().strip())";
  // requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE, where a machine sets them, override the CA
  // docker-py gives it (psf/requests#3829): the system bundle does not know the test's CA
  const r = await inNs('/usr/bin/python3', ['-c', script], { env: { ...dockerEnv(), PYTHONPATH: src, REQUESTS_CA_BUNDLE: '', CURL_CA_BUNDLE: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'True linux py-tls');
});

test('refusals are clear errors, never hangs: no client cert, another CA, expired cert, plain HTTP to the TLS port', async () => {
  const opts = { timeoutMs: 20_000 };
  const noCert = await inNs(BERTH, ['-H', TLS_HOST, '--tlsverify', '--tlscacert', `${certs}/ca.pem`, 'ps'], { ...opts, env: { DOCKER_CERT_PATH: path.join(tmp, 'nowhere') } });
  assert.equal(noCert.code, 1, noCert.stderr);
  assert.match(noCert.stderr, /TLS with tcp:\/\/127\.0\.0\.1:2376 failed: .*client certificate/);
  const otherCa = await inNs(BERTH, ['-H', TLS_HOST, '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${other}/cert.pem`, '--tlskey', `${other}/key.pem`, 'ps'], opts);
  assert.equal(otherCa.code, 1, otherCa.stderr);
  assert.match(otherCa.stderr, /refused the client certificate|client certificate/);
  const wrongCa = await inNs(BERTH, tlsFlags(other).concat('ps'), opts);
  assert.equal(wrongCa.code, 1, wrongCa.stderr);
  assert.match(wrongCa.stderr, /daemon's certificate is not signed by the CA given/);
  const expired = await inNs(BERTH, ['-H', TLS_HOST, '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${tmp}/expired-cert.pem`, '--tlskey', `${tmp}/expired-key.pem`, 'ps'], opts);
  assert.equal(expired.code, 1, expired.stderr);
  assert.match(expired.stderr, /expired|client certificate/);
  const dockerNoCert = await inNs('docker', ['ps'], { ...opts, env: { ...dockerEnv(), DOCKER_CERT_PATH: other } });
  assert.notEqual(dockerNoCert.code, 0);
  // plain HTTP to the TLS port: Go's answer, from the berth CLI and from curl
  const plain = await inNs(BERTH, ['-H', TLS_HOST, 'ps'], opts);
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /Client sent an HTTP request to an HTTPS server/);
  const curl = await inNs('curl', ['-s', '-m', '10', '-w', '%{http_code}', 'http://127.0.0.1:2376/_ping'], opts);
  assert.match(curl.stdout, /Client sent an HTTP request to an HTTPS server\.\n400$/);
});

test('streams over TLS with the berth CLI: start -a, logs -f, exec -i with stdin closed, cp both ways, build, events', async () => {
  const run = await berthTls(['run', '-d', '--name', 'st', 'busybox', 'sleep', '300']);
  assert.equal(run.code, 0, run.stderr);
  const lf = await berthTls(['run', '-d', '--name', 'lf', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']);
  assert.equal(lf.code, 0, lf.stderr);
  // -f follows the lines as they are written and ends when the container does
  const logs = await inNs(BERTH, [...tlsFlags(), 'logs', '-f', 'lf'], { timeoutMs: 20_000 });
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout, 'line1\nline2\nline3\n');
  // attach before start: every line of a short container, and its exit status
  assert.equal((await berthTls(['create', '--name', 'at', 'busybox', 'sh', '-c', 'echo attached-out; exit 3'])).code, 0);
  const at = await berthTls(['start', '-a', 'at']);
  assert.equal(at.stdout, 'attached-out\n');
  assert.equal(at.code, 3, at.stderr);
  const ex = await berthTls(['exec', '-i', 'st', 'sh', '-c', 'cat; echo after-eof'], 'in-tls\n');
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout, 'in-tls\nafter-eof\n');
  writeFileSync(path.join(tmp, 'in.txt'), 'copied in\n');
  assert.equal((await berthTls(['cp', path.join(tmp, 'in.txt'), 'st:/in.txt'])).code, 0);
  const out = await berthTls(['cp', 'st:/in.txt', path.join(tmp, 'out.txt')]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(readFileSync(path.join(tmp, 'out.txt'), 'utf8'), 'copied in\n');
  const ctxDir = path.join(tmp, 'build');
  mkdirSync(ctxDir);
  writeFileSync(path.join(ctxDir, 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n');
  writeFileSync(path.join(ctxDir, 'hello.txt'), 'built over tls\n');
  const build = await berthTls(['build', '-t', 'tls-built', ctxDir]);
  assert.equal(build.code, 0, build.stderr + build.stdout);
  const check = await berthTls(['run', '--rm', 'tls-built', 'cat', '/hello.txt']);
  assert.equal(check.stdout, 'built over tls\n');
  const now = Math.floor(Date.now() / 1000);
  const events = await berthTls(['events', '--since', String(now - 120), '--until', String(now + 1), '--filter', 'container=st', '--format', '{{.Action}}']);
  assert.equal(events.code, 0, events.stderr);
  assert.match(events.stdout, /^start$/m);
});

test('exec -it over TLS in a terminal', { timeout: 60_000 }, async () => {
  await TmuxSession.run(['nsenter', `--net=/run/netns/${d.netns}`, BERTH, ...tlsFlags(), 'exec', '-it', 'st', 'sh'], { width: 90, height: 20 }, async (t) => {
    await t.waitForText(/^\/ # $/m);
    t.type('echo tty-$((6*7)); tty\n');
    await t.waitForText(/^tty-42$/m);
    await t.waitForText(/^\/dev\/pts\/\d+$/m);
    t.type('exit\n');
  });
  assert.equal((await berthTls(['rm', '-f', 'st'])).code, 0);
});

test('a context made by berth with the TLS files is used by docker, and one made by docker by berth', async () => {
  const env = { DOCKER_CONFIG: path.join(tmp, 'ctx-config') };
  const create = await inNs(BERTH, ['context', 'create', 'node1', '--description', 'tls node', '--docker', `host=${TLS_HOST},ca=${certs}/ca.pem,cert=${certs}/cert.pem,key=${certs}/key.pem`], { env });
  assert.equal(create.code, 0, create.stderr);
  const viaDocker = await inNs('docker', ['--context', 'node1', 'version', '--format', '{{.Server.Os}}'], { env });
  assert.equal(viaDocker.code, 0, viaDocker.stderr);
  assert.equal(viaDocker.stdout.trim(), 'linux');
  const made = await inNs('docker', ['context', 'create', 'node1b', '--docker', `host=${TLS_HOST},ca=${certs}/ca.pem,cert=${certs}/cert.pem,key=${certs}/key.pem`], { env });
  assert.equal(made.code, 0, made.stderr);
  const use = await inNs(BERTH, ['context', 'use', 'node1b'], { env });
  assert.equal(use.code, 0, use.stderr);
  const ps = await inNs(BERTH, ['info', '--format', '{{.OSType}}'], { env });
  assert.equal(ps.code, 0, ps.stderr);
  assert.equal(ps.stdout.trim(), 'linux');
  const ls = await inNs('docker', ['context', 'ls', '--format', '{{.Name}}{{if .Current}}*{{end}}'], { env });
  assert.match(ls.stdout, /^node1b\*$/m);
  // export/import between the two CLIs keeps the endpoint and the TLS files
  const tarFile = path.join(tmp, 'node1.dockercontext');
  assert.equal((await inNs(BERTH, ['context', 'export', 'node1', tarFile], { env })).code, 0);
  const imp = await inNs('docker', ['context', 'import', 'node1c', tarFile], { env });
  assert.equal(imp.code, 0, imp.stderr);
  const viaImport = await inNs('docker', ['--context', 'node1c', 'version', '--format', '{{.Server.Os}}'], { env });
  assert.equal(viaImport.stdout.trim(), 'linux', viaImport.stderr);
  assert.equal((await inNs('docker', ['context', 'export', 'node1b', `${tarFile}.docker`], { env })).code, 0);
  assert.equal((await inNs(BERTH, ['context', 'import', 'node1d', `${tarFile}.docker`], { env })).code, 0);
  const viaBerthImport = await inNs(BERTH, ['--context', 'node1d', 'info', '--format', '{{.OSType}}'], { env });
  assert.equal(viaBerthImport.stdout.trim(), 'linux', viaBerthImport.stderr);
  // DOCKER_HOST beats the current context; -H with --context is refused; an unknown context is a clear error
  const hostWins = await inNs(BERTH, ['context', 'show'], { env: { ...env, DOCKER_HOST: d.host } });
  assert.equal(hostWins.stdout.trim(), 'default');
  const both = await inNs(BERTH, ['-H', d.host, '--context', 'node1', 'ps'], { env });
  assert.equal(both.code, 1);
  assert.match(both.stderr, /either specify --host or --context, not both/);
  const bad = await inNs(BERTH, ['--context', 'missing', 'ps'], { env, timeoutMs: 10_000 });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /context "missing": context not found/);
});
