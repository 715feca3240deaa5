import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, BERTH, BERTHD, runCommand, type CommandResult } from '../helpers/daemon';
import { TmuxSession } from '../helpers/tmux';

// berthd on plain TCP (allowed only with --tls=false, and then loudly), and reached over ssh: a
// real OpenSSH server started by the test in the daemon's namespace runs `berth system
// dial-stdio` (and the docker CLI's `docker system dial-stdio`) for the berth and docker CLIs.
// The clients' ssh options come from a wrapper named `ssh` first on PATH (ssh reads its config
// from the passwd home directory, not $HOME).
let d: TestDaemon;
let tmp: string;
let sshd: ChildProcess | undefined;
const SSH_PORT = 2222;
const PLAIN_HOST = 'tcp://127.0.0.1:2375';

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-remote-ssh-'));
  d = await TestDaemon.start(['-H', 'tcp://0.0.0.0:2375', '--tls=false']);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id')]);
  writeFileSync(path.join(tmp, 'authorized_keys'), readFileSync(path.join(tmp, 'id.pub')));
  writeFileSync(
    path.join(tmp, 'sshd_config'),
    [
      `Port ${SSH_PORT}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${tmp}/host_key`,
      `PidFile ${tmp}/sshd.pid`,
      `AuthorizedKeysFile ${tmp}/authorized_keys`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      // the remote side's `berth` and `docker` find the test's daemon
      `SetEnv PATH=${path.dirname(BERTH)}:/usr/local/bin:/usr/bin:/bin DOCKER_HOST=${d.host}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  mkdirSync(path.join(tmp, 'bin'));
  writeFileSync(
    path.join(tmp, 'ssh_config'),
    ['Host *', `  IdentityFile ${tmp}/id`, '  IdentitiesOnly yes', '  StrictHostKeyChecking no', `  UserKnownHostsFile ${tmp}/known_hosts`, '  BatchMode yes', '  LogLevel ERROR', ''].join('\n'),
  );
  writeFileSync(path.join(tmp, 'bin', 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${tmp}/ssh_config "$@"\n`, { mode: 0o755 });
  sshd = spawn('nsenter', [`--net=/run/netns/${d.netns}`, '/usr/sbin/sshd', '-D', '-e', '-f', path.join(tmp, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let sshdLog = '';
  sshd.stderr!.on('data', (b: Buffer) => (sshdLog += b.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = await inNs('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${SSH_PORT}`], { timeoutMs: 2000 });
    if (probe.code === 0) break;
    if (Date.now() > deadline || sshd.exitCode !== null) throw new Error(`sshd did not start: ${sshdLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});
after(async () => {
  if (sshd && sshd.exitCode === null) {
    const gone = new Promise((r) => sshd!.once('exit', r));
    sshd.kill('SIGTERM');
    await gone;
  }
  await d?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function inNs(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${tmp}/bin:${process.env.PATH}`, DOCKER_CONFIG: path.join(tmp, 'docker-config'), ...opts.env };
  delete env.DOCKER_HOST;
  delete env.BERTH_HOST;
  return runCommand('nsenter', [`--net=/run/netns/${d.netns}`, cmd, ...args], { env, input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
}
const SSH_HOST = `ssh://root@127.0.0.1:${SSH_PORT}`;

test('plain TCP on a non-loopback address: refused without --tls=false, warned about with it', async () => {
  writeFileSync(path.join(tmp, 'daemon.json'), '{}');
  const r = await runCommand(process.execPath, [BERTHD, '-H', 'tcp://0.0.0.0:2375', '--config-file', path.join(tmp, 'daemon.json'), '--data-root', path.join(tmp, 'never')], { timeoutMs: 20_000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /refusing to serve the API without TLS on tcp:\/\/0\.0\.0\.0:2375.*--tls=false/);
  assert.match(d.output, /WARNING: API is accessible on http:\/\/0\.0\.0\.0:2375 without encryption/);
  // plain TCP still serves, and a TLS client gets a clear error instead of a hang
  const ok = await inNs(BERTH, ['-H', PLAIN_HOST, 'version', '--format', '{{.Server.Os}}']);
  assert.equal(ok.stdout.trim(), 'linux', ok.stderr);
  const tls = await inNs(BERTH, ['-H', PLAIN_HOST, '--tls', 'ps'], { timeoutMs: 20_000 });
  assert.equal(tls.code, 1);
  assert.match(tls.stderr, /does not speak TLS/);
});

test('berth -H ssh://: ps, run with attach, exec -i with stdin closed', async () => {
  const ps = await inNs(BERTH, ['-H', SSH_HOST, 'ps', '-a']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^CONTAINER ID/);
  const run = await inNs(BERTH, ['-H', SSH_HOST, 'run', '--name', 'over-ssh', 'busybox', 'echo', 'via-ssh']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'via-ssh\n');
  const ex = await inNs(BERTH, ['-H', SSH_HOST, 'run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo eof'], { input: 'typed\n' });
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout, 'typed\neof\n');
  // the container exists on the daemon behind ssh
  const local = await d.berth(['inspect', '-f', '{{.State.Status}}', 'over-ssh']);
  assert.equal(local.stdout.trim(), 'exited');
});

test('berth -H ssh:// run -it: a terminal through ssh', { timeout: 60_000 }, async () => {
  const env = { PATH: `${tmp}/bin:${process.env.PATH}`, DOCKER_CONFIG: path.join(tmp, 'docker-config') };
  await TmuxSession.run(['nsenter', `--net=/run/netns/${d.netns}`, BERTH, '-H', SSH_HOST, 'run', '-it', '--rm', 'busybox', 'sh'], { width: 90, height: 20, env }, async (t) => {
    await t.waitForText(/^\/ # $/m, 30_000);
    t.type('echo ssh-tty-$((6*7)); stty size\n');
    await t.waitForText(/^ssh-tty-42$/m);
    await t.waitForText(/^20 90$/m);
    t.type('exit\n');
  });
});

test('docker -H ssh:// reaches berthd through docker system dial-stdio', async () => {
  const r = await inNs('docker', ['-H', SSH_HOST, 'ps', '-a', '--format', '{{.Names}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^over-ssh$/m);
});

test('an ssh context made by berth, used by berth and docker', async () => {
  const c = await inNs(BERTH, ['context', 'create', 'node2', '--docker', `host=${SSH_HOST}`]);
  assert.equal(c.code, 0, c.stderr);
  const run = await inNs(BERTH, ['--context', 'node2', 'run', '--rm', '--hostname', 'remote-box', 'busybox', 'hostname']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'remote-box');
  const dk = await inNs('docker', ['--context', 'node2', 'inspect', '-f', '{{.Name}}', 'over-ssh']);
  assert.equal(dk.stdout.trim(), '/over-ssh', dk.stderr);
  const show = await inNs(BERTH, ['context', 'show'], { env: { DOCKER_CONTEXT: 'node2' } });
  assert.equal(show.stdout.trim(), 'node2');
});

test('an unreachable ssh host is a clear error, quickly', async () => {
  const started = Date.now();
  const r = await inNs(BERTH, ['-H', `ssh://root@127.0.0.1:${SSH_PORT + 1}`, 'ps'], { timeoutMs: 30_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error during connect: ssh:\/\/root@127\.0\.0\.1:2223: ssh exited with status 255: .*Connection refused/);
  assert.ok(Date.now() - started < 25_000);
});
