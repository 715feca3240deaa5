/**
 * A berthd of a bench's own: bin/berthd with its own data root, exec root, socket and cgroup
 * parent under temporary names, inside a network namespace made with `ip netns add`, and
 * everything needed to remove all of it again, whatever state it is in.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, openSync, closeSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { endpoint, request } from './lib';
import { removeCgroups, unmountUnder } from '../test/helpers/daemon';

export const BERTHD = path.join(__dirname, '..', '..', 'bin', 'berthd');

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

export interface OwnDaemonOptions {
  /** names the bench in temporary names and the kept log */
  bench: string;
  /** run with --debug, and keep the log after tear-down */
  debug?: boolean;
  /** node writes a CPU profile of each start into this folder */
  profileDir?: string;
}

export class OwnDaemon {
  readonly tag = randomBytes(4).toString('hex');
  readonly netns = `berth-bench-${this.tag}`;
  readonly base: string;
  readonly dataRoot: string;
  // short: the socket's path must fit in sun_path
  readonly execRoot = `/run/bbl-${this.tag}`;
  readonly host = `unix://${this.execRoot}/berth.sock`;
  readonly cgroupParent = `/berth-bench-${this.tag}`;
  readonly logFile: string;
  private proc?: ChildProcess;
  private nsMade = false;
  private starts = 0;

  constructor(private readonly o: OwnDaemonOptions) {
    this.base = path.join(os.tmpdir(), `berth-bench-${o.bench}-${this.tag}`);
    this.dataRoot = path.join(this.base, 'data');
    this.logFile = path.join(this.base, 'berthd.log');
  }

  setUp(): void {
    mkdirSync(this.base, { recursive: true });
    writeFileSync(path.join(this.base, 'daemon.json'), '{}');
    execFileSync('ip', ['netns', 'add', this.netns]);
    this.nsMade = true;
    execFileSync('nsenter', [`--net=/run/netns/${this.netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  }

  /** Spawns berthd; resolves with ms from spawn to /_ping answering. */
  async start(): Promise<number> {
    const profileDir = this.o.profileDir;
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
      ...(this.o.debug ? ['--debug'] : []),
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
      if (up) return ms(t0);
      if (ms(t0) > 60_000) throw new Error(`berthd did not answer within 60 s:\n${this.tail()}`);
      await sleep(5);
    }
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
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

  /** The log so far. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  tail(): string {
    return this.log().split('\n').slice(-20).join('\n');
  }

  /**
   * Removes everything the daemon made, whatever state it is in; every step is tried.
   * `removeContainers` (while the daemon still answers) takes their mounts and cgroups with them.
   */
  async tearDown(removeContainers: () => Promise<void>): Promise<void> {
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        console.error(`clean-up, ${what}: ${(e as Error).message}`);
      }
    };
    if (this.alive) await step('removing containers', removeContainers);
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
    for (const root of ['runtime', 'build-runtime'].map((r) => path.join(this.execRoot, r))) {
      if (!existsSync(root)) continue;
      try {
        const list = JSON.parse(execFileSync('runc', ['--root', root, 'list', '--format', 'json']).toString() || '[]') as { id: string }[] | null;
        for (const c of list ?? []) {
          try {
            execFileSync('runc', ['--root', root, 'delete', '--force', c.id], { stdio: 'ignore' });
          } catch {
            /* already gone */
          }
        }
      } catch {
        /* no runc state */
      }
    }
    await step('unmounting', () => {
      unmountUnder(this.base);
      unmountUnder(this.execRoot);
    });
    await step('removing cgroups', () => removeCgroups(this.cgroupParent));
    if (this.nsMade) await step('removing the namespace', () => execFileSync('ip', ['netns', 'del', this.netns], { stdio: 'ignore' }));
    if (this.o.debug && existsSync(this.logFile)) {
      const kept = path.join(os.tmpdir(), `berth-bench-${this.o.bench}-${this.tag}.log`);
      await step('keeping the log', () => copyFileSync(this.logFile, kept));
      console.log(`berthd's log: ${kept}`);
    }
    await step('removing folders', () => {
      rmSync(this.base, { recursive: true, force: true });
      rmSync(this.execRoot, { recursive: true, force: true });
    });
  }
}
