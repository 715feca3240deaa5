/**
 * The etcd member a manager runs: started with its TLS material, restarted with a backoff
 * when it dies, stopped with the daemon or when the node leaves. Its pid is kept beside
 * its data, so a berthd that crashed finds and stops the member it left running before
 * starting a new one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { EtcdClient, type EtcdTls } from './client';

export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdMemberOptions {
  name: string;
  dataDir: string;
  advertiseAddress: string;
  clientPort: number;
  peerPort: number;
  tls?: EtcdTls;
  /** 'n1=https://10.0.0.1:2380,...' for a first start; ignored once the data dir holds a member */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  log: (msg: string) => void;
}

export class EtcdMember {
  private child?: ChildProcess;
  private o?: EtcdMemberOptions;
  private stopping = false;
  private restarts = 0;
  private restartTimer?: NodeJS.Timeout;

  private get pidFile(): string {
    return `${this.o!.dataDir}.pid`;
  }

  get clientURL(): string {
    const o = this.o!;
    return `${o.tls ? 'https' : 'http'}://${o.advertiseAddress}:${o.clientPort}`;
  }

  async start(o: EtcdMemberOptions): Promise<void> {
    this.o = o;
    this.stopping = false;
    await fsp.mkdir(path.dirname(o.dataDir), { recursive: true });
    await this.killStale();
    this.spawn();
  }

  private args(): string[] {
    const o = this.o!;
    const scheme = o.tls ? 'https' : 'http';
    const client = `${scheme}://${o.advertiseAddress}:${o.clientPort}`;
    const peer = `${scheme}://${o.advertiseAddress}:${o.peerPort}`;
    const listenClient = o.advertiseAddress === '127.0.0.1' ? client : `${client},${scheme}://127.0.0.1:${o.clientPort}`;
    const args = [
      '--name', o.name,
      '--data-dir', o.dataDir,
      '--listen-client-urls', listenClient,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      // quick to notice a lost leader: the swarm's fail-over rests on it
      // a join may come right after init: etcd's own check wants a leader up for 5 s first
      '--strict-reconfig-check=false',
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
    const logFd = openSync(`${o.dataDir}.log`, 'a');
    const child = spawn(ETCD_BINARY, this.args(), { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    this.child = child;
    void fsp.writeFile(this.pidFile, String(child.pid)).catch(() => undefined);
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) return;
      const wait = Math.min(100 * 2 ** this.restarts++, 10_000);
      o.log(`swarm: etcd exited (${signal ?? code}); starting it again in ${wait} ms (see ${o.dataDir}.log)`);
      this.restartTimer = setTimeout(() => this.spawn(), wait);
    });
  }

  /** Resolves once the member answers; rejects after `timeoutMs`. */
  async ready(timeoutMs = 30_000): Promise<void> {
    const o = this.o!;
    const client = new EtcdClient({ endpoints: [this.clientURL], tls: o.tls, timeoutMs: 1000 });
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
          if (Date.now() > deadline) throw new Error(`etcd did not start: ${(e as Error).message} (see ${o.dataDir}.log)`);
        }
        if (Date.now() > deadline) throw new Error(`etcd has no leader (see ${o.dataDir}.log)`);
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
    if (child && child.exitCode === null && child.signalCode === null) {
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
