import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { promises as fsp, readFileSync, existsSync, readdirSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const BERTHD = path.join(REPO, 'bin', 'berthd');
export const BERTH = path.join(REPO, 'bin', 'berth');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A berthd of a test's own: its own data root, exec root, socket and cgroup parent, inside a
 * network namespace the test made, so tests run side by side and never touch the host's
 * network. `cleanup()` removes every container, mount, cgroup, process and the namespace,
 * also when the test failed.
 */
export class TestDaemon {
  readonly tag = randomBytes(4).toString('hex');
  readonly netns = `berth-t-${this.tag}`;
  readonly dataRoot: string;
  /** the folder berthd runs in: nothing of it should land there */
  readonly cwd: string;
  readonly execRoot = `/run/bt-${this.tag}`;
  readonly socket = `${this.execRoot}/berth.sock`;
  readonly host = `unix://${this.socket}`;
  readonly cgroupParent = `/berth-t-${this.tag}`;
  private proc?: ChildProcess;
  private logs = '';
  private readonly base: string;

  constructor(
    private readonly extraArgs: string[] = [],
    /** another build of berthd to run (a test's own copy) */
    private readonly berthd = BERTHD,
  ) {
    this.base = path.join(os.tmpdir(), `berth-t-${this.tag}`);
    this.dataRoot = path.join(this.base, 'data');
    this.cwd = path.join(this.base, 'cwd');
  }

  /** `dataRootSize`: the data root is a tmpfs of that size ("16m"), a small disk (cleanup unmounts it). */
  static async start(extraArgs: string[] = [], o: { berthd?: string; dataRootSize?: string } = {}): Promise<TestDaemon> {
    const d = new TestDaemon(extraArgs, o.berthd);
    try {
      await fsp.mkdir(d.cwd, { recursive: true });
      if (o.dataRootSize) {
        await fsp.mkdir(d.dataRoot, { recursive: true });
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${o.dataRootSize}`, 'tmpfs', d.dataRoot]);
      }
      execFileSync('ip', ['netns', 'add', d.netns]);
      const inNs = (...args: string[]) => execFileSync('nsenter', [`--net=/run/netns/${d.netns}`, ...args]);
      inNs('ip', 'link', 'set', 'lo', 'up');
      // an interface only this namespace has, so tests can tell which namespace a container sees
      inNs('ip', 'link', 'add', 'berthdummy0', 'type', 'veth', 'peer', 'name', 'berthdummy1');
      await d.startProcess();
    } catch (e) {
      await d.cleanup();
      throw e;
    }
    return d;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get output(): string {
    return this.logs;
  }

  async startProcess(): Promise<void> {
    const args = [
      `--net=/run/netns/${this.netns}`,
      process.execPath,
      this.berthd,
      '-H', this.host,
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', `${this.execRoot}/berthd.pid`,
      '--cgroup-parent', this.cgroupParent,
      '--config-file', path.join(this.base, 'daemon.json'),
      '--debug',
      // short names must never be looked up on Docker Hub (no DNS, no outside traffic):
      // they go to a loopback port where nothing listens, unless a test names a registry
      ...(this.extraArgs.includes('--default-registry') ? [] : ['--default-registry', '127.0.0.1:1']),
      ...this.extraArgs,
    ];
    await fsp.writeFile(path.join(this.base, 'daemon.json'), '{}');
    // in a folder of its own: what the daemon or conmon writes by a relative path shows there, not in the checkout
    const proc = spawn('nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.cwd });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.logs += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.logs += d.toString()));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}:\n${this.logs}`);
      if (await this.ping()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`berthd did not answer within 30 s:\n${this.logs}`);
  }

  ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.request({ socketPath: this.socket, path: '/_ping' }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  /** Stops the daemon process: SIGTERM by default, SIGKILL to simulate a crash. */
  async stopProcess(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    // nsenter execs node, so this pid is berthd itself.
    p.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }

  /** Runs the berth CLI against this daemon. */
  berth(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
    return runCommand(BERTH, ['-H', this.host, ...args], opts);
  }

  /** Runs the real docker CLI against this daemon. */
  docker(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<CommandResult> {
    return runCommand('docker', args, { ...opts, env: { ...process.env, DOCKER_HOST: this.host, DOCKER_CONFIG: path.join(this.base, 'docker-config') } });
  }

  /** A raw API request; the body is JSON unless it is a Buffer. */
  api(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string; json: () => any }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const req = http.request(
        { socketPath: this.socket, path: urlPath, method, headers: data ? { 'Content-Type': Buffer.isBuffer(body) ? 'application/x-tar' : 'application/json', 'Content-Length': data.length } : {} },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Removes everything the daemon made, even when the daemon is gone. */
  async cleanup(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null && (await this.ping())) {
      const list = await this.api('GET', '/containers/json?all=1').catch(() => undefined);
      if (list?.status === 200) {
        for (const c of list.json() as { Id: string }[]) await this.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
      }
    }
    await this.stopProcess('SIGKILL');
    // conmon processes this daemon started (their pids are in the bundles)
    const bundles = path.join(this.execRoot, 'bundles');
    if (existsSync(bundles)) {
      for (const id of readdirSync(bundles)) {
        try {
          const pid = Number(readFileSync(path.join(bundles, id, 'conmon.pid'), 'utf8'));
          if (pid) process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    deleteRuntimeContainers(this.execRoot);
    unmountUnder(this.base);
    unmountUnder(this.execRoot);
    removeCgroups(this.cgroupParent);
    try {
      execFileSync('ip', ['netns', 'del', this.netns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    await fsp.rm(this.base, { recursive: true, force: true }).catch(() => undefined);
    await fsp.rm(this.execRoot, { recursive: true, force: true }).catch(() => undefined);
  }
}

export function runCommand(cmd: string, args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input);
  });
}

/**
 * Deletes what the OCI runtimes still hold under an exec root: runc's state in `runtime` and
 * `build-runtime`, crun's in `runtime-crun` (through berth-crun, as the daemon runs it).
 */
export function deleteRuntimeContainers(execRoot: string): void {
  const launcher = path.join(REPO, 'dist', 'native', 'berth-crun');
  const roots: [string, string][] = [
    ['runtime', 'runc'],
    ['build-runtime', 'runc'],
    ['runtime-crun', existsSync(launcher) ? launcher : 'crun'],
  ];
  for (const [dir, runtime] of roots) {
    const root = path.join(execRoot, dir);
    if (!existsSync(root)) continue;
    try {
      const list = JSON.parse(execFileSync(runtime, ['--root', root, 'list', '--format', 'json']).toString() || '[]') as { id: string }[] | null;
      for (const c of list ?? []) {
        try {
          execFileSync(runtime, ['--root', root, 'delete', '--force', c.id], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
    } catch {
      /* no state the runtime can read */
    }
  }
}

/** The ids of the containers an OCI runtime holds under an exec root, whichever runtime. */
export function runtimeContainerIds(execRoot: string): string[] {
  const ids: string[] = [];
  for (const dir of ['runtime', 'runtime-crun']) {
    const root = path.join(execRoot, dir);
    if (!existsSync(root)) continue;
    // one folder per container; crun keeps a cache folder beside them, runc none
    for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) ids.push(e.name);
  }
  return ids;
}

/** Lazily unmounts everything at or below `prefix`, deepest first (also used by the benches). */
export function unmountUnder(prefix: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m) => m && (m === prefix || m.startsWith(`${prefix}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* not mounted any more */
    }
  }
}

export function removeCgroups(parent: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => path.join('/sys/fs/cgroup', c));
  for (const root of roots) {
    const dir = path.join(root, parent);
    if (!existsSync(dir)) continue;
    for (const child of readdirSync(dir, { withFileTypes: true })) {
      if (child.isDirectory()) {
        try {
          execFileSync('rmdir', [path.join(dir, child.name)], { stdio: 'ignore' });
        } catch {
          /* busy or gone */
        }
      }
    }
    try {
      execFileSync('rmdir', [dir], { stdio: 'ignore' });
    } catch {
      /* busy or gone */
    }
  }
}
