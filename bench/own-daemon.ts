/**
 * What benches that start a berthd of their own share: the daemon (its own data root, exec
 * root, socket and cgroup parent, in a network namespace of its own, all removed again by
 * tearDown) and a tiny client of its API over the socket.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, openSync, closeSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { deleteRuntimeContainers, removeCgroups, unmountUnder } from '../test/helpers/daemon';

export const BERTHD = path.join(__dirname, '..', '..', 'bin', 'berthd');

export interface OwnDaemonOptions {
  /** keep berthd's --debug log (copied to the temporary folder at tearDown) */
  debug?: boolean;
  /** have node write a CPU profile of each start into this folder */
  profileDir?: string;
  /** more berthd flags (another -H, --tlsverify, `--add-runtime crun=/usr/bin/crun` ...) */
  extraArgs?: string[];
  /**
   * put berthd in a cgroup of its own under the cgroup parent, so `daemonCpuMs()` can say how
   * much CPU it and everything it starts used: conmon, the OCI runtime, and the containers
   * (theirs are under the same parent, and a parent's count keeps what removed children used)
   */
  cpuCgroup?: boolean;
}

// ---------------------------------------------------------------- the API, over the daemon's socket

export interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

export function endpoint(hostUrl: string): Endpoint {
  if (hostUrl.startsWith('unix://')) return { socketPath: hostUrl.slice('unix://'.length) };
  const u = new URL(hostUrl.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375) };
}

export function request(ep: Endpoint, method: string, urlPath: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({ ...ep, method, path: urlPath, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

export async function api<T>(ep: Endpoint, method: string, urlPath: string, body?: unknown): Promise<T> {
  const r = await request(ep, method, urlPath, body);
  if (r.status >= 300) throw new Error(`${method} ${urlPath}: ${r.status} ${r.text.trim()}`);
  return (r.text ? JSON.parse(r.text) : undefined) as T;
}


/** Runs `fn` over `items`, `width` at a time. */
export async function parallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
export const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

// ---------------------------------------------------------------- a berthd of the bench's own

/**
 * A berthd with its own data root, exec root, socket and cgroup parent, in a network
 * namespace of its own, and everything needed to remove all of it again.
 */
export class OwnDaemon {
  readonly tag = randomBytes(4).toString('hex');
  readonly netns = `berth-bench-${this.tag}`;
  readonly base = path.join(os.tmpdir(), `berth-bench-lc-${this.tag}`);
  readonly dataRoot = path.join(this.base, 'data');
  // short: the socket's path must fit in sun_path
  readonly execRoot = `/run/bbl-${this.tag}`;
  readonly host = `unix://${this.execRoot}/berth.sock`;
  readonly cgroupParent = `/berth-bench-${this.tag}`;
  readonly logFile = path.join(this.base, 'berthd.log');
  private proc?: ChildProcess;
  private nsMade = false;
  private starts = 0;

  constructor(private readonly opts: OwnDaemonOptions = {}) {}

  setUp(): void {
    mkdirSync(this.base, { recursive: true });
    writeFileSync(path.join(this.base, 'daemon.json'), '{}');
    execFileSync('ip', ['netns', 'add', this.netns]);
    this.nsMade = true;
    execFileSync('nsenter', [`--net=/run/netns/${this.netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  }

  /** Spawns berthd; resolves with ms from spawn to /_ping answering, and the process. */
  async start(): Promise<number> {
    const profileDir = this.opts.profileDir;
    const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `berthd-start-${++this.starts}.cpuprofile`] : [];
    const args = [
      `--net=/run/netns/${this.netns}`,
      process.execPath,
      ...nodeArgs,
      BERTHD,
      '-H', this.host,
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', `${this.execRoot}/berthd.pid`,
      '--cgroup-parent', this.cgroupParent,
      '--config-file', path.join(this.base, 'daemon.json'),
      // a short name is never looked up on Docker Hub: the bench sends nothing outside
      '--default-registry', '127.0.0.1:1',
      ...(this.opts.debug ? ['--debug'] : []),
      ...(this.opts.extraArgs ?? []),
    ];
    const log = openSync(this.logFile, 'a');
    const t0 = process.hrtime.bigint();
    // a group of its own: a ^C reaches the bench, which removes the containers before stopping it
    const proc = spawn('nsenter', args, { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    this.proc = proc;
    const ep = endpoint(this.host);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`berthd exited (${proc.exitCode ?? proc.signalCode}); see ${this.logFile}:\n${this.tail()}`);
      const up = await request(ep, 'GET', '/_ping').then((r) => r.status === 200, () => false);
      if (up) {
        if (this.opts.cpuCgroup && proc.pid) {
          mkdirSync(this.cpuCgroupDir, { recursive: true });
          writeFileSync(path.join(this.cpuCgroupDir, 'cgroup.procs'), String(proc.pid));
        }
        return ms(t0);
      }
      if (ms(t0) > 60_000) throw new Error(`berthd did not answer within 60 s:\n${this.tail()}`);
      await sleep(5);
    }
  }

  /** berthd's own cgroup (cpuCgroup), beside its containers' under the cgroup parent. */
  get cpuCgroupDir(): string {
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    return path.join('/sys/fs/cgroup', v2 ? '' : 'cpuacct', this.cgroupParent, 'berthd');
  }

  /** CPU time (ms) used so far by berthd, what it started and its containers, with cpuCgroup. */
  daemonCpuMs(): number {
    const dir = path.dirname(this.cpuCgroupDir);
    if (existsSync(path.join(dir, 'cpuacct.usage'))) return Number(readFileSync(path.join(dir, 'cpuacct.usage'), 'utf8')) / 1e6;
    const usec = /usage_usec (\d+)/.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1];
    return Number(usec) / 1e3;
  }

  /** CPU time (ms) berthd's own process has used so far (not conmon's, not the runtime's). */
  berthdCpuMs(): number {
    const stat = readFileSync(`/proc/${this.proc?.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms
    return (Number(f[11]) + Number(f[12])) * 10;
  }

  /** SIGTERM (nsenter execs node: the pid is berthd's), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)])) === false) {
      p.kill('SIGKILL');
      await exited;
    }
  }

  tail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  /** Removes everything the daemon made, whatever state it is in; every step is tried. */
  async tearDown(): Promise<void> {
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        console.error(`clean-up, ${what}: ${(e as Error).message}`);
      }
    };
    const alive = this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
    if (alive) {
      // removing the containers first takes their overlay mounts and cgroups with them
      const ep = endpoint(this.host);
      await step('removing containers', async () => {
        const all = await api<{ Id: string }[]>(ep, 'GET', '/containers/json?all=1');
        await parallel(all, 8, async (c) => void (await request(ep, 'DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined)));
      });
    }
    await step('stopping berthd', () => this.stop());
    // conmons of containers that were not removed (their pids are in the bundles)
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
    await step('deleting runtime containers', () => deleteRuntimeContainers(this.execRoot));
    await step('unmounting', () => {
      unmountUnder(this.base);
      unmountUnder(this.execRoot);
    });
    await step('removing cgroups', () => removeCgroups(this.cgroupParent));
    if (this.nsMade) await step('removing the namespace', () => execFileSync('ip', ['netns', 'del', this.netns], { stdio: 'ignore' }));
    if (this.opts.debug && existsSync(this.logFile)) {
      const kept = path.join(os.tmpdir(), `berth-bench-${this.tag}.log`);
      await step('keeping the log', () => copyFileSync(this.logFile, kept));
      console.log(`berthd's log: ${kept}`);
    }
    await step('removing folders', () => {
      rmSync(this.base, { recursive: true, force: true });
      rmSync(this.execRoot, { recursive: true, force: true });
    });
  }
}
