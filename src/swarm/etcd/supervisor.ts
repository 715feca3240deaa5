/**
 * The etcd member a manager runs: started with its TLS material, restarted with a backoff
 * when it dies, stopped with the daemon or when the node leaves. Its pid is kept beside
 * its data, so a berthd that crashed finds and stops the member it left running before
 * starting a new one. etcd's own output goes to etcd.log in its data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { EtcdClient, type EtcdTls } from './client';

export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdMemberOptions {
  name: string;
  dataDir: string;
  advertiseAddress: string;
  /** 2379 unless told */
  clientPort?: number;
  /** 2380 unless told */
  peerPort?: number;
  /** mutual TLS for clients and peers; plain HTTP without (tests only) */
  tls?: EtcdTls;
  /** what the readiness check shows etcd, if not `tls` (an unnamed certificate: see pki.ts) */
  clientTls?: EtcdTls;
  /** 'n1=https://10.0.0.1:2380,...' for a first start; ignored once the data dir holds a member */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  log: (msg: string) => void;
  /**
   * A command that runs etcd, put before it: a test's `['nsenter', '--net=/run/netns/X']`
   * (the command must exec etcd in the end, so the pid is etcd's). The daemon needs none.
   */
  wrap?: string[];
}

/** A run that lasts this long counts as a good start: the restart backoff starts afresh. */
const STABLE_MS = 30_000;

export class EtcdMember {
  private child?: ChildProcess;
  private o?: EtcdMemberOptions;
  private stopping = false;
  private restarts = 0;
  /** why etcd last ended when it should not have */
  private lastFailure?: string;
  private restartTimer?: NodeJS.Timeout;

  private get pidFile(): string {
    return `${this.o!.dataDir}.pid`;
  }

  /** etcd's output, appended to across restarts. */
  get logFile(): string {
    return path.join(this.o!.dataDir, 'etcd.log');
  }

  /** The pid of the running etcd, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get clientURL(): string {
    const o = this.o!;
    return `${o.tls ? 'https' : 'http'}://${o.advertiseAddress}:${o.clientPort ?? 2379}`;
  }

  async start(o: EtcdMemberOptions): Promise<void> {
    this.o = o;
    this.stopping = false;
    this.restarts = 0;
    this.lastFailure = undefined;
    await fsp.mkdir(path.dirname(o.dataDir), { recursive: true });
    // etcd wants its data dir private
    await fsp.mkdir(o.dataDir, { recursive: true, mode: 0o700 });
    await fsp.chmod(o.dataDir, 0o700);
    await this.killStale();
    this.spawn();
  }

  private args(): string[] {
    const o = this.o!;
    const scheme = o.tls ? 'https' : 'http';
    const clientPort = o.clientPort ?? 2379;
    const client = `${scheme}://${o.advertiseAddress}:${clientPort}`;
    const peer = `${scheme}://${o.advertiseAddress}:${o.peerPort ?? 2380}`;
    const listenClient = o.advertiseAddress === '127.0.0.1' ? client : `${client},${scheme}://127.0.0.1:${clientPort}`;
    const args = [
      '--name', o.name,
      '--data-dir', o.dataDir,
      '--listen-client-urls', listenClient,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      // a join may come right after init: etcd's own check wants a leader up for 5 s first
      '--strict-reconfig-check=false',
      // quick to notice a lost leader: the swarm's fail-over rests on it
      '--heartbeat-interval', '100',
      '--election-timeout', '1000',
      '--auto-compaction-mode', 'periodic',
      '--auto-compaction-retention', '1h',
      '--quota-backend-bytes', String(512 * 1024 * 1024),
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    if (o.tls) {
      args.push(
        '--client-cert-auth', '--trusted-ca-file', o.tls.caFile, '--cert-file', o.tls.certFile, '--key-file', o.tls.keyFile,
        '--peer-client-cert-auth', '--peer-trusted-ca-file', o.tls.caFile, '--peer-cert-file', o.tls.certFile, '--peer-key-file', o.tls.keyFile,
      );
    }
    // a data dir that holds a member knows its cluster already
    if (!existsSync(path.join(o.dataDir, 'member')) && o.initialCluster) {
      args.push('--initial-cluster', o.initialCluster, '--initial-cluster-state', o.initialClusterState, '--initial-cluster-token', 'berth-swarm');
    }
    return args;
  }

  private spawn(): void {
    const o = this.o!;
    this.restartTimer = undefined;
    let logFd: number;
    let logStart: number;
    try {
      // the data dir may have gone since the last start
      mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
      logFd = openSync(this.logFile, 'a');
      logStart = fstatSync(logFd).size;
    } catch (e) {
      return this.again(`cannot write ${this.logFile}: ${(e as Error).message}`, 0);
    }
    const [cmd, ...args] = [...(o.wrap ?? []), ETCD_BINARY, ...this.args()];
    const child = spawn(cmd, args, { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.child = child;
    const started = Date.now();
    if (child.pid) void fsp.writeFile(this.pidFile, String(child.pid)).catch(() => undefined);
    const ended = (how: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      const why = lastError(this.logFile, logStart);
      this.again(`${how}${why ? `: ${why}` : ''}`, Date.now() - started);
    };
    // a process that could not start (no binary) has an 'error' and no 'exit'
    child.on('error', (e) => {
      if (child.pid === undefined) ended(`could not start: ${e.message}`);
      else o.log(`swarm: etcd: ${e.message}`);
    });
    child.on('exit', (code, signal) => ended(`exited (${signal ?? `code ${code}`})`));
  }

  /** After an unexpected end: tells why, and starts etcd again after a pause that grows. */
  private again(why: string, ranMs: number): void {
    this.lastFailure = why;
    const o = this.o!;
    if (this.stopping) return;
    if (ranMs > STABLE_MS) this.restarts = 0;
    const wait = Math.min(100 * 2 ** this.restarts++, 10_000);
    o.log(`swarm: etcd ${why}; starting it again in ${wait} ms (see ${this.logFile})`);
    this.restartTimer = setTimeout(() => this.spawn(), wait);
  }

  /** Resolves once the member answers; rejects after `timeoutMs`. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const o = this.o!;
    const client = new EtcdClient({ endpoints: [this.clientURL], tls: o.clientTls ?? o.tls, timeoutMs: 1000 });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        try {
          const s = await client.status(this.clientURL);
          if (s.leader && s.leader !== '0') {
            this.restarts = 0;
            return;
          }
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`etcd did not start: ${(e as Error).message} (see ${this.logFile})`);
        }
        // one that keeps failing at once will not start in the time left either: say why now
        if (this.restarts >= 3 && this.lastFailure) throw new Error(`etcd did not start: ${this.lastFailure} (see ${this.logFile})`);
        if (Date.now() > deadline) throw new Error(`etcd has no leader (see ${this.logFile})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (child && child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    if (this.o) await fsp.rm(this.pidFile, { force: true });
  }

  /** A member left running by a berthd that crashed: only an etcd with our data dir is killed. */
  private async killStale(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!pid) return;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.endsWith('etcd') || !argv.includes(this.o!.dataDir)) return;
    } catch {
      return;
    }
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The message of the last error etcd logged (its zap JSON lines) after `from`, if any. */
function lastError(logFile: string, from: number): string | undefined {
  let tail: string;
  try {
    const fd = openSync(logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, Math.min(size - from, 16 * 1024)));
      readSync(fd, buf, 0, buf.length, size - buf.length);
      tail = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  for (const line of tail.split('\n').reverse()) {
    if (!/"level":"(error|fatal|panic)"/.test(line)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; error?: string };
      return [entry.msg, entry.error].filter(Boolean).join(': ');
    } catch {
      return line.slice(0, 300);
    }
  }
  return undefined;
}
