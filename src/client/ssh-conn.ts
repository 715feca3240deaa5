/**
 * A connection to a daemon over ssh, as the docker CLI's connection helper makes it: the local
 * `ssh` runs `berth system dial-stdio` on the remote host, which joins its stdin and stdout to
 * the remote daemon's socket, and HTTP goes over that pipe. Every request is one ssh process;
 * the requests of one CLI command share one ssh connection (OpenSSH's ControlMaster, its socket
 * in a private directory of this process, the master gone 2 s after the last request), so only
 * the first pays for the key exchange and authentication, as the docker CLI's kept-alive
 * connection does. The user's own ssh set-up applies (~/.ssh/config, keys, agent, known hosts).
 *
 * A failure of ssh itself (host unreachable, refused key) surfaces as an error carrying what ssh
 * printed, never as a silent hang-up.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duplex } from 'node:stream';

export interface SshTarget {
  user?: string;
  host: string;
  port?: number;
  /** the daemon socket on the remote host; unset: the remote berth's default (its DOCKER_HOST/BERTH_HOST) */
  socketPath?: string;
}

let controlDir: string | undefined;

/** This process's directory for the ssh control socket: private (0700), removed at exit. */
function sshControlDir(): string {
  if (!controlDir) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-ssh-'));
    controlDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return controlDir;
}

/** The ssh command line for a target; `controlPath` shares one connection among the requests. */
export function sshArgs(t: SshTarget, controlPath?: string, remoteProgram = 'berth'): string[] {
  const args = ['-o', 'ConnectTimeout=30', '-T'];
  if (controlPath) args.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${controlPath}`, '-o', 'ControlPersist=2');
  if (t.user) args.push('-l', t.user);
  if (t.port) args.push('-p', String(t.port));
  // `--` keeps a host named like an option from becoming one
  args.push('--', t.host, remoteProgram);
  if (t.socketPath) args.push('--host', `unix://${t.socketPath}`);
  args.push('system', 'dial-stdio');
  return args;
}

export class SshConnectionError extends Error {
  readonly code = 'ESSH';
}

/** A Duplex over `ssh … berth system dial-stdio`; usable where the client takes a socket. */
export class CommandConnection extends Duplex {
  private readonly child;
  private stderr = '';
  private gotData = false;

  constructor(command: string, args: string[]) {
    super({ allowHalfOpen: true });
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString();
    });
    child.stdout!.on('data', (d: Buffer) => {
      this.gotData = true;
      if (!this.push(d)) child.stdout!.pause();
    });
    child.stdin!.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      this.destroy(e.code === 'ENOENT' ? new SshConnectionError(`${command} not found: ssh:// hosts need the ssh client (Debian package "openssh-client")`) : e);
    });
    // the answer ends with ssh's exit: a failing ssh before any data is an error with its words
    child.on('close', (code, signal) => {
      if (this.destroyed) return;
      if (!this.gotData && code !== 0) {
        const said = this.stderr.trim().split('\n').filter(Boolean).join('; ');
        this.destroy(new SshConnectionError(`ssh exited with status ${code ?? signal}${said ? `: ${said}` : ''}`));
        return;
      }
      this.push(null);
    });
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.child.stdin!.writable) return cb();
    this.child.stdin!.write(chunk, () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin!.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    cb(err);
  }

  /** net.Socket's, for code that tunes sockets */
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
}

export function connectSsh(t: SshTarget): CommandConnection {
  return new CommandConnection('ssh', sshArgs(t, path.join(sshControlDir(), '%C')));
}
