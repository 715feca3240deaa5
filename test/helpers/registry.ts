import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, runCommand, type CommandResult, type TestDaemon } from './daemon';

/**
 * A registry server run inside a test's network namespace (where its berthd runs), so that
 * pulls and pushes go over that namespace's loopback and nothing else: berth's own
 * `berth-registry`, or the CNCF Distribution registry from Debian's `docker-registry`.
 * `stop()` kills the process by the pid this helper started and removes its storage.
 */
export class NetnsRegistry {
  private constructor(
    readonly netns: string,
    readonly addr: string,
    readonly root: string,
    private readonly proc: ChildProcess,
    private logs: { text: string },
  ) {}

  get output(): string {
    return this.logs.text;
  }

  static async berth(netns: string, port: number, extraArgs: string[] = [], host = '127.0.0.1'): Promise<NetnsRegistry> {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-reg-'));
    const addr = `${host}:${port}`;
    const args = [`--net=/run/netns/${netns}`, process.execPath, path.join(REPO, 'bin', 'berth-registry'), 'serve', '--addr', addr, '--root', path.join(root, 'data'), ...extraArgs];
    return NetnsRegistry.launch(netns, addr, root, args, extraArgs.includes('--tls-cert') ? 'https' : 'http');
  }

  /** The CNCF Distribution registry (Debian's docker-registry), with htpasswd auth when given. */
  static async distribution(netns: string, port: number, opts: { htpasswd?: string } = {}): Promise<NetnsRegistry> {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-dreg-'));
    const addr = `127.0.0.1:${port}`;
    const auth = opts.htpasswd ? `auth:\n  htpasswd:\n    realm: basic-realm\n    path: ${opts.htpasswd}\n` : '';
    const config = `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(root, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${addr}\n${auth}`;
    await fsp.writeFile(path.join(root, 'config.yml'), config);
    return NetnsRegistry.launch(netns, addr, root, [`--net=/run/netns/${netns}`, '/usr/bin/docker-registry', 'serve', path.join(root, 'config.yml')], 'http');
  }

  private static async launch(netns: string, addr: string, root: string, args: string[], scheme: string, probe = '/v2/'): Promise<NetnsRegistry> {
    // nsenter without --fork execs the server in place, so this pid is the server's own.
    const proc = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const logs = { text: '' };
    proc.stdout!.on('data', (d: Buffer) => (logs.text += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (logs.text += d.toString()));
    const reg = new NetnsRegistry(netns, addr, root, proc, logs);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) break;
      const r = await reg.curl(['-k', '-o', '/dev/null', '-w', '%{http_code}', `${scheme}://${addr}${probe}`]);
      if (/^[2-4]\d\d$/.test(r.stdout)) return reg;
      await new Promise((res) => setTimeout(res, 100));
    }
    await reg.stop();
    throw new Error(`registry at ${addr} did not start:\n${logs.text}`);
  }

  /** berth-registry's token server (`berth-registry token`), plain HTTP. */
  static async tokenServer(netns: string, port: number, args: string[]): Promise<NetnsRegistry> {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-token-'));
    const addr = `127.0.0.1:${port}`;
    const argv = [`--net=/run/netns/${netns}`, process.execPath, path.join(REPO, 'bin', 'berth-registry'), 'token', '--addr', addr, ...args];
    return NetnsRegistry.launch(netns, addr, root, argv, 'http', '/token');
  }

  /** The misbehaving proxy of flaky-registry.ts in front of `upstream`. */
  static async flaky(netns: string, port: number, upstream: string, cutDigest: string): Promise<NetnsRegistry> {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-flaky-'));
    const args = [`--net=/run/netns/${netns}`, process.execPath, path.join(__dirname, 'flaky-registry.js'), String(port), upstream, cutDigest];
    return NetnsRegistry.launch(netns, `127.0.0.1:${port}`, root, args, 'http');
  }

  /** curl inside the namespace. */
  curl(args: string[]) {
    return runCommand('nsenter', [`--net=/run/netns/${this.netns}`, 'curl', '-s', ...args], { timeoutMs: 20_000 });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.pid) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      process.kill(this.proc.pid, 'SIGKILL');
      await exited;
    }
    await fsp.rm(this.root, { recursive: true, force: true });
  }
}

/**
 * Builds `dockerfile` (its context holds nothing else) as `ref`, pushes it, removes it and
 * pulls it back through the berth CLI: the pull's result, each earlier step asserted to succeed.
 */
export async function pushedAndPulledBack(d: TestDaemon, ref: string, dockerfile: string): Promise<CommandResult> {
  const ctx = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-round-trip-'));
  try {
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), dockerfile);
    for (const step of [['build', '-q', '-t', ref, ctx], ['push', ref], ['rmi', ref]]) {
      const r = await d.berth(step);
      if (r.code !== 0) throw new Error(`berth ${step[0]} ${ref} exited with ${r.code}: ${r.stderr}`);
    }
    return await d.berth(['pull', ref]);
  } finally {
    await fsp.rm(ctx, { recursive: true, force: true });
  }
}
