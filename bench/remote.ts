/**
 * What a remote transport costs a command: the same short commands through the daemon's unix
 * socket, through mutual TLS on TCP (certificates from `berth system certs`) and over ssh (an
 * sshd of the bench's own, key-only, on the namespace's loopback), with the berth CLI and the
 * docker CLI, against a berthd of the bench's own (in a namespace of its own; the clients run
 * inside it). Medians of --runs runs after a warm-up, printed as a table.
 *
 *   node dist/bench/remote.js [--runs 15] [--no-ssh]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, cliPath, median, succeeded, timeCli } from './lib';
import { OwnDaemon } from './own-daemon';

const runs = Number(arg('--runs', '15'));
const TLS_HOST = 'tcp://127.0.0.1:2376';
const SSH_PORT = 2222;

/** An sshd in the namespace that runs `berth`/`docker system dial-stdio` against the daemon; clients find its key through an `ssh` wrapper first on PATH. */
async function startSshd(tmp: string, netns: string, daemonHost: string): Promise<ChildProcess> {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(tmp, 'id')]);
  writeFileSync(path.join(tmp, 'authorized_keys'), readFileSync(path.join(tmp, 'id.pub')));
  writeFileSync(path.join(tmp, 'sshd_config'), [
    `Port ${SSH_PORT}`, 'ListenAddress 127.0.0.1', `HostKey ${tmp}/host_key`, `PidFile ${tmp}/sshd.pid`, `AuthorizedKeysFile ${tmp}/authorized_keys`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
    `SetEnv PATH=${path.dirname(cliPath('berth'))}:/usr/local/bin:/usr/bin:/bin DOCKER_HOST=${daemonHost}`, 'LogLevel ERROR', '',
  ].join('\n'));
  mkdirSync('/run/sshd', { recursive: true });
  mkdirSync(path.join(tmp, 'bin'), { recursive: true });
  writeFileSync(path.join(tmp, 'ssh_config'), ['Host *', `  IdentityFile ${tmp}/id`, '  IdentitiesOnly yes', '  StrictHostKeyChecking no', `  UserKnownHostsFile ${tmp}/known_hosts`, '  BatchMode yes', '  LogLevel ERROR', ''].join('\n'));
  writeFileSync(path.join(tmp, 'bin', 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${tmp}/ssh_config "$@"\n`, { mode: 0o755 });
  const sshd = spawn('nsenter', [`--net=/run/netns/${netns}`, '/usr/sbin/sshd', '-D', '-e', '-f', path.join(tmp, 'sshd_config')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('nsenter', [`--net=/run/netns/${netns}`, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${SSH_PORT}`], { stdio: 'ignore' });
      return sshd;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  sshd.kill();
  throw new Error('sshd did not start');
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-bench-remote-'));
  const certs = path.join(tmp, 'certs');
  execFileSync(cliPath('berth'), ['system', 'certs', '--dir', certs], { stdio: 'ignore' });
  let sshd: ChildProcess | undefined;
  const d = new OwnDaemon({ extraArgs: ['-H', TLS_HOST, '--tlsverify', '--tlscacert', `${certs}/ca.pem`, '--tlscert', `${certs}/server-cert.pem`, '--tlskey', `${certs}/server-key.pem`] });
  try {
    d.setUp();
    await d.start();
    console.log(`daemon: berthd of the bench's own (${d.host}, ${TLS_HOST} --tlsverify, and ssh to 127.0.0.1:${SSH_PORT}; namespace ${d.netns}); clients: berth CLI, docker CLI`);
    const nsenter = ['--net=/run/netns/' + d.netns];
    const transports: Array<{ name: string; host: string; env: NodeJS.ProcessEnv }> = [
      { name: 'unix socket', host: d.host, env: {} },
      { name: 'TCP + mutual TLS', host: TLS_HOST, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs } },
    ];
    if (!process.argv.includes('--no-ssh')) {
      sshd = await startSshd(tmp, d.netns, d.host);
      transports.push({ name: 'ssh', host: `ssh://root@127.0.0.1:${SSH_PORT}`, env: { PATH: `${tmp}/bin:${process.env.PATH}` } });
    }
    const rows: string[][] = [];
    for (const cliName of ['berth', 'docker']) {
      for (const command of [['version', '--format', '{{.Server.Os}}'], ['ps', '-q'], ['run', '--rm', '--network', 'none', 'busybox', 'true']]) {
        const row = [`${cliName} ${command[0]}`];
        for (const t of transports) {
          const once = async () => succeeded(await timeCli('nsenter', [...nsenter, cliPath(cliName), ...command], { host: t.host, env: { ...t.env, DOCKER_CONFIG: path.join(tmp, 'dc') }, stdout: 'ignore' }), `${cliName} ${command[0]} over ${t.name}`).ms;
          await once();
          const times: number[] = [];
          for (let i = 0; i < runs; i++) times.push(await once());
          row.push(`${median(times).toFixed(1)} ms`);
        }
        rows.push(row);
      }
    }
    const header = ['command (median of ' + runs + ')', ...transports.map((t) => t.name)];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
    console.log(line(header));
    console.log('| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |');
    for (const r of rows) console.log(line(r));
  } finally {
    if (sshd && sshd.exitCode === null) {
      const gone = new Promise((r) => sshd!.once('exit', r));
      sshd.kill('SIGTERM');
      await gone;
    }
    await d.tearDown();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
