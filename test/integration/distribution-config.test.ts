import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { TestDaemon, runCommand } from '../helpers/daemon';
import { NetnsRegistry } from '../helpers/registry';

// The daemon's registry settings (default registry, mirrors, insecure registries), logins
// against a registry with htpasswd auth, and registries that misbehave. Every registry runs
// inside the daemon's own network namespace.
let d: TestDaemon;
let hub: NetnsRegistry; // stands in for Docker Hub: --default-registry 127.0.0.1:5000
let mirror: NetnsRegistry; // --registry-mirror http://127.0.0.1:5002
let locked: NetnsRegistry; // CNCF Distribution with htpasswd, 127.0.0.1:5001
let insecure: NetnsRegistry; // 10.99.0.1:5003, named in --insecure-registry
let unlisted: NetnsRegistry; // 10.99.0.2:5004, not named: TLS is required
let work: string;
const cli = () => ({ env: { ...process.env, BERTH_CONFIG: path.join(work, 'cfg') } });

before(async () => {
  d = await TestDaemon.start(['--default-registry', '127.0.0.1:5000', '--registry-mirror', 'http://127.0.0.1:5002', '--insecure-registry', '10.99.0.1:5003']);
  const inNs = (...args: string[]) => execFileSync('nsenter', [`--net=/run/netns/${d.netns}`, ...args]);
  inNs('ip', 'addr', 'add', '10.99.0.1/24', 'dev', 'berthdummy0');
  inNs('ip', 'addr', 'add', '10.99.0.2/24', 'dev', 'berthdummy0');
  inNs('ip', 'link', 'set', 'berthdummy0', 'up');
  inNs('ip', 'link', 'set', 'berthdummy1', 'up');
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-distcfg-'));
  await fsp.writeFile(path.join(work, 'htpasswd'), `alice:${bcrypt.hashSync('s3cret', 5)}\n`);
  [hub, mirror, locked, insecure, unlisted] = await Promise.all([
    NetnsRegistry.berth(d.netns, 5000),
    NetnsRegistry.berth(d.netns, 5002),
    NetnsRegistry.distribution(d.netns, 5001, { htpasswd: path.join(work, 'htpasswd') }),
    NetnsRegistry.berth(d.netns, 5003, [], '10.99.0.1'),
    NetnsRegistry.berth(d.netns, 5004, [], '10.99.0.2'),
  ]);
});

after(async () => {
  await Promise.all([hub, mirror, locked, insecure, unlisted].map((r) => r?.stop()));
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

test('short names are pulled from the configured default registry, mirrors first', async () => {
  assert.equal((await d.berth(['tag', 'busybox', '127.0.0.1:5000/library/tiny:1'])).code, 0);
  const push = await d.berth(['push', '127.0.0.1:5000/library/tiny:1']);
  assert.equal(push.code, 0, push.stderr);
  await d.berth(['rmi', '127.0.0.1:5000/library/tiny:1']);
  // the mirror lacks it: the default registry answers
  const pull = await d.berth(['pull', 'tiny:1']);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /Pulling from library\/tiny/);
  assert.match(pull.stdout, /Status: (Downloaded newer image|Image is up to date) for tiny:1/);
  assert.deepEqual(JSON.parse((await d.berth(['image', 'inspect', '-f', '{{json .RepoDigests}}', 'tiny:1'])).stdout), [
    `tiny@${/digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)![1]}`,
  ]);

  // only the mirror has this one
  assert.equal((await d.berth(['tag', 'busybox', '127.0.0.1:5002/library/mirrored:2'])).code, 0);
  assert.equal((await d.berth(['push', '127.0.0.1:5002/library/mirrored:2'])).code, 0);
  const fromMirror = await d.berth(['pull', 'mirrored:2']);
  assert.equal(fromMirror.code, 0, fromMirror.stderr);
  const run = await d.berth(['run', '--rm', 'mirrored:2', 'echo', 'via mirror']);
  assert.equal(run.stdout, 'via mirror\n');

  // pushes of short names never go to a mirror
  assert.equal((await d.berth(['tag', 'busybox', 'pushed:3'])).code, 0);
  const pushShort = await d.berth(['push', 'pushed:3']);
  assert.equal(pushShort.code, 0, pushShort.stderr);
  assert.match(pushShort.stdout, /The push refers to repository \[docker\.io\/library\/pushed\]/);
  assert.match((await hub.curl([`http://${hub.addr}/v2/library/pushed/tags/list`])).stdout, /"3"/);
  assert.doesNotMatch((await mirror.curl([`http://${mirror.addr}/v2/_catalog`])).stdout, /pushed/);
});

test('plain HTTP only to loopback and to registries named insecure', async () => {
  await d.berth(['tag', 'busybox', '10.99.0.1:5003/x/y:1']);
  const ok = await d.berth(['push', '10.99.0.1:5003/x/y:1']);
  assert.equal(ok.code, 0, ok.stderr);
  await d.berth(['tag', 'busybox', '10.99.0.2:5004/x/y:1']);
  const refused = await d.berth(['push', '10.99.0.2:5004/x/y:1']);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stderr, /https:\/\/10\.99\.0\.2:5004\/v2\//);
  assert.doesNotMatch((await unlisted.curl([`http://${unlisted.addr}/v2/_catalog`])).stdout, /x\/y/);
});

test('login checks credentials with the registry and stores them 0600; push and pull use them', async () => {
  const ref = '127.0.0.1:5001/private/app:1';
  await d.berth(['tag', 'busybox', ref]);
  const anonymous = await d.berth(['push', ref], cli());
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /unauthorized|authentication required|denied/i);

  const wrong = await d.berth(['login', '-u', 'alice', '--password-stdin', '127.0.0.1:5001'], { ...cli(), input: 'nope\n' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /Error response from daemon: .*401/);

  const right = await d.berth(['login', '-u', 'alice', '--password-stdin', '127.0.0.1:5001'], { ...cli(), input: 's3cret\n' });
  assert.equal(right.code, 0, right.stderr);
  assert.match(right.stdout, /Login Succeeded/);
  const file = path.join(work, 'cfg', 'config.json');
  assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
  const saved = JSON.parse(await fsp.readFile(file, 'utf8'));
  assert.equal(Buffer.from(saved.auths['127.0.0.1:5001'].auth, 'base64').toString(), 'alice:s3cret');

  const push = await d.berth(['push', ref], cli());
  assert.equal(push.code, 0, push.stderr);
  await d.berth(['rmi', ref]);
  const pull = await d.berth(['pull', ref], cli());
  assert.equal(pull.code, 0, pull.stderr);

  const out = await d.berth(['logout', '127.0.0.1:5001'], cli());
  assert.match(out.stdout, /Removing login credentials for 127\.0\.0\.1:5001/);
  await d.berth(['rmi', ref]);
  const denied = await d.berth(['pull', ref], cli());
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /pull access denied|unauthorized/i);
});

test('the docker CLI logs in through berthd and pushes with the credentials it stored', async () => {
  const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_CONFIG: path.join(work, 'docker-cfg') };
  const docker = (args: string[], input?: string) => runCommand('docker', args, { env, input, timeoutMs: 8000 });
  const bad = await docker(['login', '-u', 'alice', '--password-stdin', '127.0.0.1:5001'], 'wrong\n');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Error response from daemon/);
  const login = await docker(['login', '-u', 'alice', '--password-stdin', '127.0.0.1:5001'], 's3cret\n');
  assert.equal(login.code, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);
  assert.equal((await docker(['tag', 'busybox', '127.0.0.1:5001/docker/login:1'])).code, 0);
  const push = await docker(['push', '127.0.0.1:5001/docker/login:1']);
  assert.equal(push.code, 0, push.stderr);
  assert.equal((await docker(['logout', '127.0.0.1:5001'])).code, 0);
  await docker(['rmi', '127.0.0.1:5001/docker/login:1']);
  const denied = await docker(['pull', '127.0.0.1:5001/docker/login:1']);
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /pull access denied for 127\.0\.0\.1:5001\/docker\/login/);
});

test('a registry that dies mid-pull fails the pull cleanly; the retry resumes; huge manifests are refused', async () => {
  await fsp.writeFile(path.join(work, 'Dockerfile'), 'FROM busybox\nRUN head -c 300000 /dev/urandom > /r1\nRUN head -c 300000 /dev/urandom > /r2\n');
  const build = await d.berth(['build', '-q', '-t', '127.0.0.1:5000/team/flaky:1', work]);
  assert.equal(build.code, 0, build.stderr);
  const push = await d.berth(['push', '127.0.0.1:5000/team/flaky:1']);
  assert.equal(push.code, 0, push.stderr);
  const manifest = JSON.parse(
    (await hub.curl(['-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', `http://${hub.addr}/v2/team/flaky/manifests/1`])).stdout,
  );
  const flaky = await NetnsRegistry.flaky(d.netns, 5005, hub.addr, manifest.layers[2].digest);
  try {
    await d.berth(['tag', '127.0.0.1:5000/team/flaky:1', '127.0.0.1:5005/team/flaky:1']);
    await d.berth(['rmi', '127.0.0.1:5000/team/flaky:1']);
    await d.berth(['rmi', '127.0.0.1:5005/team/flaky:1']);
    const cut = await d.berth(['pull', '127.0.0.1:5005/team/flaky:1']);
    assert.equal(cut.code, 1, cut.stdout);
    assert.match(cut.stderr, /failed to download layer|verification failed|aborted|socket hang up/);
    assert.notEqual((await d.berth(['image', 'inspect', '127.0.0.1:5005/team/flaky:1'])).code, 0);

    const retry = await d.berth(['pull', '127.0.0.1:5005/team/flaky:1']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal(retry.stdout.split('Already exists').length - 1, 2, retry.stdout);
    const run = await d.berth(['run', '--rm', '127.0.0.1:5005/team/flaky:1', 'wc', '-c', '/r2']);
    assert.match(run.stdout, /300000/);

    const huge = await d.api('POST', '/images/create?fromImage=127.0.0.1:5005/team/flaky&tag=huge');
    assert.equal(huge.status, 400);
    assert.match(huge.json().message, /manifest too big/);
  } finally {
    await flaky.stop();
  }
});

test('the bearer-token flow: berthd logs in, pushes and pulls over TLS within what the ACL grants', async () => {
  const dir = path.join(work, 'token');
  await fsp.mkdir(dir);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'token.key');
  ossl('req', '-x509', '-key', 'token.key', '-days', '2', '-subj', '/CN=berth-token', '-out', 'token.crt');
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls.key', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-out', 'tls.crt');
  await fsp.writeFile(path.join(dir, 'htpasswd'), `alice:${bcrypt.hashSync('s3cret', 5)}\nbob:${bcrypt.hashSync('b0b', 5)}\n`);
  await fsp.writeFile(
    path.join(dir, 'acl.json'),
    JSON.stringify([
      { account: 'alice', name: '*', actions: ['pull', 'push'] },
      { account: 'bob', name: 'team/app', actions: ['pull'] },
      { account: '*', name: 'public/*', actions: ['pull'] },
    ]),
  );
  const f = (n: string) => path.join(dir, n);
  const tokens = await NetnsRegistry.tokenServer(d.netns, 5011, ['--htpasswd', f('htpasswd'), '--acl', f('acl.json'), '--key', f('token.key'), '--issuer', 'berth-test', '--service', 'berth-reg']);
  const secure = await NetnsRegistry.berth(d.netns, 5010, [
    '--token-realm', 'http://127.0.0.1:5011/token', '--token-service', 'berth-reg', '--token-issuer', 'berth-test', '--token-cert', f('token.crt'),
    '--tls-cert', f('tls.crt'), '--tls-key', f('tls.key'),
  ]);
  const login = (user: string, pass: string) => d.berth(['login', '-u', user, '--password-stdin', '127.0.0.1:5010'], { ...cli(), input: `${pass}\n` });
  try {
    assert.equal((await login('alice', 'wrong')).code, 1);
    const ok = await login('alice', 's3cret');
    assert.equal(ok.code, 0, ok.stderr);
    for (const ref of ['127.0.0.1:5010/team/app:1', '127.0.0.1:5010/public/tool:1']) {
      await d.berth(['tag', 'busybox', ref]);
      const push = await d.berth(['push', ref], cli());
      assert.equal(push.code, 0, `${ref}: ${push.stderr}`);
    }
    // the registry speaks only TLS: a plain HTTP request gets no registry answer
    assert.notEqual((await secure.curl(['-o', '/dev/null', '-w', '%{http_code}', `http://${secure.addr}/v2/`])).stdout, '401');

    assert.equal((await login('bob', 'b0b')).code, 0);
    await d.berth(['tag', 'busybox', '127.0.0.1:5010/team/app:2']);
    const bobPush = await d.berth(['push', '127.0.0.1:5010/team/app:2'], cli());
    assert.equal(bobPush.code, 1, bobPush.stdout);
    assert.match(bobPush.stderr, /denied|unauthorized|insufficient_scope/i);
    await d.berth(['rmi', '127.0.0.1:5010/team/app:1']);
    const bobPull = await d.berth(['pull', '127.0.0.1:5010/team/app:1'], cli());
    assert.equal(bobPull.code, 0, bobPull.stderr);

    assert.equal((await d.berth(['logout', '127.0.0.1:5010'], cli())).code, 0);
    await d.berth(['rmi', '127.0.0.1:5010/public/tool:1']);
    const anonPublic = await d.berth(['pull', '127.0.0.1:5010/public/tool:1'], cli());
    assert.equal(anonPublic.code, 0, anonPublic.stderr);
    await d.berth(['rmi', '127.0.0.1:5010/team/app:1']);
    const anonPrivate = await d.berth(['pull', '127.0.0.1:5010/team/app:1'], cli());
    assert.equal(anonPrivate.code, 1);
    assert.match(anonPrivate.stderr, /pull access denied for 127\.0\.0\.1:5010\/team\/app/);
  } finally {
    await Promise.all([tokens.stop(), secure.stop()]);
  }
});
