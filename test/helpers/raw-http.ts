/**
 * Talking raw HTTP/1.1 to a server in tests: bytes written as given (malformed on purpose),
 * the answer read back as text. Also the ways to reach berth's three servers from the test
 * process: berthd's unix socket, a berth-registry on the host's loopback, and a node's swarm
 * port inside the daemon's network namespace through a unix-socket relay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { REPO } from './daemon';

export type Connect = () => Duplex;

export const unixConnect = (socketPath: string): Connect => () => net.connect(socketPath);
export const tcpConnect = (host: string, port: number): Connect => () => net.connect(port, host);
/** TLS without a client certificate and without checking the server's: any peer can do this. */
export const tlsOverUnixConnect = (socketPath: string): Connect => () => tls.connect({ path: socketPath, rejectUnauthorized: false });

export interface RawAnswer {
  /** the status of the first answer, 0 when none came */
  status: number;
  /** the status of every answer, in order (a connection may carry several) */
  statuses: number[];
  /** everything the server sent */
  text: string;
  /** the server closed the connection (rather than the wait ending) */
  closed: boolean;
}

/**
 * Writes `data` (all at once, or as the chunks given), then reads until the server closes the
 * connection or `waitMs` passes. Requests meant to be answered say `Connection: close`, so a
 * well-behaved server closes after answering.
 */
export function rawExchange(connect: Connect, data: string | Buffer | (string | Buffer)[], waitMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const sock = connect();
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((x) => Number(x[1]));
      resolve({ status: m ? Number(m[1]) : 0, statuses, text, closed });
    };
    const timer = setTimeout(finish, waitMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    for (const part of Array.isArray(data) ? data : [data]) sock.write(part);
  });
}

/** The body of a raw answer (after the header block), de-chunked when it was chunked. */
export function rawBody(a: RawAnswer): string {
  const at = a.text.indexOf('\r\n\r\n');
  if (at < 0) return '';
  const head = a.text.slice(0, at);
  let body = a.text.slice(at + 4);
  if (/^transfer-encoding:\s*chunked/im.test(head)) {
    let out = '';
    while (body.length) {
      const eol = body.indexOf('\r\n');
      const size = parseInt(body.slice(0, eol), 16);
      if (!size) break;
      out += body.slice(eol + 2, eol + 2 + size);
      body = body.slice(eol + 2 + size + 2);
    }
    body = out;
  }
  return body;
}

/** A berth-registry on the host's loopback, port chosen by the kernel; stop() kills it by pid and removes its storage. */
export class LoopbackRegistry {
  private constructor(readonly port: number, readonly proc: ChildProcess, private readonly root: string, private readonly logs: { text: string }) {}

  get output(): string {
    return this.logs.text;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  static async start(): Promise<LoopbackRegistry> {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-rawreg-'));
    const proc = spawn(process.execPath, [path.join(REPO, 'bin', 'berth-registry'), 'serve', '--addr', '127.0.0.1:0', '--root', path.join(root, 'data')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const logs = { text: '' };
    proc.stderr!.on('data', (d: Buffer) => (logs.text += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => {
        logs.text += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(logs.text);
        if (m) resolve(Number(m[1]));
      });
      proc.once('exit', (code) => reject(new Error(`berth-registry exited with ${code}:\n${logs.text}`)));
    }).catch(async (e) => {
      await fsp.rm(root, { recursive: true, force: true });
      throw e;
    });
    return new LoopbackRegistry(port, proc, root, logs);
  }

  connect(): Duplex {
    return net.connect(this.port, '127.0.0.1');
  }

  async stop(): Promise<void> {
    if (this.alive && this.proc.pid) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      process.kill(this.proc.pid, 'SIGKILL');
      await exited;
    }
    await fsp.rm(this.root, { recursive: true, force: true });
  }
}

/**
 * A unix socket on the shared filesystem whose connections are forwarded to HOST:PORT inside a
 * network namespace (path-bound unix sockets are not per namespace): how the test process
 * reaches a port that only exists in a daemon's namespace.
 */
export class NetnsRelay {
  private constructor(readonly socketPath: string, private readonly proc: ChildProcess) {}

  static async start(netns: string, host: string, port: number): Promise<NetnsRelay> {
    const socketPath = path.join(os.tmpdir(), `berth-relay-${process.pid}-${Date.now()}.sock`);
    const proc = spawn('nsenter', [`--net=/run/netns/${netns}`, process.execPath, path.join(__dirname, 'netns-relay.js'), socketPath, host, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.once('data', () => resolve());
      proc.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    });
    return new NetnsRelay(socketPath, proc);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null && this.proc.pid) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      process.kill(this.proc.pid, 'SIGKILL');
      await exited;
    }
    await fsp.rm(this.socketPath, { force: true });
  }
}

/** VmRSS of a process in bytes, from /proc. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}
