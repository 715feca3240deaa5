import { EventEmitter } from 'node:events';
import { system } from '../common/errors';
// node-unix-socket names optional per-platform packages that the registry lacks; package.json's
// `overrides` alias those to one it has (never installed on a platform it does not fit), so the
// lock file satisfies `npm ci`. It is loaded when first needed.
interface SeqpacketSocket extends EventEmitter {
  connect(path: string, cb?: () => void): void;
  write(buf: Buffer, offset?: number, length?: number, cb?: () => void): void;
  end(): void;
  destroy(): void;
}

let seqpacketCtor: (new () => SeqpacketSocket) | undefined;

/**
 * Throws Docker-style (a 500 with the reason) when attaching cannot work in this build, so
 * that a route can refuse before it upgrades the connection: a client told only after the
 * upgrade waits on a stream that never comes.
 */
export function requireAttachSockets(): void {
  if (seqpacketCtor) return;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    seqpacketCtor = (require('node-unix-socket') as { SeqpacketSocket: new () => SeqpacketSocket }).SeqpacketSocket;
  } catch (e) {
    throw system('attaching to a container needs the npm package node-unix-socket, which this build of berthd lacks: run `npm ci` (it is a dependency in package.json)', e);
  }
}

function newSeqpacketSocket(): SeqpacketSocket {
  requireAttachSockets();
  return new seqpacketCtor!();
}

/**
 * A connection to conmon's attach socket (SOCK_SEQPACKET, which Node's `net` lacks).
 * Each packet conmon sends starts with a byte naming the stream (2 stdout, 3 stderr);
 * bytes written to the socket go to the container's stdin; half-closing the socket
 * closes the container's stdin when conmon was told to (stdin once).
 *
 * stdin goes through a second connection of its own, made at the first write. conmon gives
 * every connection the output and takes stdin from any, and node-unix-socket closes a
 * connection whose write fails: a keystroke that reaches conmon after the process ended
 * (`exec -it c echo hi` typed into at once) would otherwise close the connection the
 * process's last output still waits in.
 *
 * Events: 'stdout' (Buffer), 'stderr' (Buffer), 'close', and 'drain' once stdin that had
 * backed up has been taken by the kernel.
 *
 * The socket cannot be paused (node-unix-socket reads whatever arrives), so output has no
 * backpressure here: the reader of these events decides how far a client may fall behind.
 */
const STDIN_PACKET = 8192;
/** stdin bytes handed to the socket but not yet to the kernel, above which writeStdin says stop */
const STDIN_HIGH_WATER = 1024 * 1024;
/** how node-unix-socket words a write the peer no longer reads */
const WRITE_ERROR = /Broken pipe|EPIPE|EPERM/;

export class AttachSocket extends EventEmitter {
  private closed = false;
  private stdinPending = 0;
  private stdinFull = false;
  /** conmon no longer takes stdin */
  private stdinDead = false;
  /** the connection stdin goes through, once something was written */
  private stdin?: { sock: SeqpacketSocket; connected: boolean; queue: Buffer[]; ending: boolean };

  private constructor(
    private readonly sock: SeqpacketSocket,
    private readonly path: string,
  ) {
    super();
    sock.on('data', (packet: Buffer) => {
      if (packet.length < 1 || this.closed) return;
      const stream = packet[0] === 3 ? 'stderr' : packet[0] === 2 ? 'stdout' : undefined;
      if (stream) this.emit(stream, packet.subarray(1));
    });
    const done = () => {
      if (this.closed) return;
      this.closed = true;
      this.emit('close');
      this.removeAllListeners();
    };
    sock.on('end', done);
    sock.on('close', done);
    // node-unix-socket destroys the socket on any error; the output connection writes
    // nothing but its half-close, so an error here ends it
    sock.removeAllListeners('_error');
    sock.on('_error', (err: Error) => {
      if (WRITE_ERROR.test(err.message)) {
        this.stdinDead = true;
        return;
      }
      done();
      setImmediate(() => sock.destroy());
    });
  }

  static connect(path: string): Promise<AttachSocket> {
    return new Promise((resolve, reject) => {
      const sock = newSeqpacketSocket();
      sock.once('error', reject);
      try {
        sock.connect(path, () => {
          sock.off('error', reject);
          resolve(new AttachSocket(sock, path));
        });
      } catch (e) {
        reject(e);
      }
    });
  }

  /**
   * conmon reads the attach socket in packets of at most 32 KiB and drops the rest of a
   * longer one, so input is cut into packets it reads whole.
   */
  writeStdin(data: Buffer): boolean {
    if (this.closed || this.stdinDead) return false;
    const stdin = this.stdin ?? this.openStdin();
    for (let at = 0; at < data.length; at += STDIN_PACKET) {
      const packet = data.subarray(at, at + STDIN_PACKET);
      this.stdinPending += packet.length;
      if (stdin.connected) this.sendStdin(stdin.sock, packet);
      else stdin.queue.push(packet);
    }
    if (this.stdinPending > STDIN_HIGH_WATER) this.stdinFull = true;
    return !this.stdinFull;
  }

  private openStdin(): NonNullable<AttachSocket['stdin']> {
    const sock = newSeqpacketSocket();
    const stdin = { sock, connected: false, queue: [] as Buffer[], ending: false };
    this.stdin = stdin;
    // whatever ends this connection (conmon gone, stdin closed) ends stdin only
    const dead = () => {
      this.stdinDead = true;
      stdin.queue = [];
    };
    sock.on('data', () => undefined);
    sock.on('error', dead);
    sock.on('end', dead);
    sock.on('close', dead);
    sock.removeAllListeners('_error');
    sock.on('_error', dead);
    try {
      sock.connect(this.path, () => {
        stdin.connected = true;
        for (const packet of stdin.queue) this.sendStdin(sock, packet);
        stdin.queue = [];
        if (stdin.ending) sock.end();
      });
    } catch {
      dead();
    }
    return stdin;
  }

  private sendStdin(sock: SeqpacketSocket, packet: Buffer): void {
    try {
      sock.write(packet, 0, packet.length, () => this.stdinWritten(packet.length));
    } catch {
      this.stdinDead = true;
    }
  }

  private stdinWritten(n: number): void {
    this.stdinPending -= n;
    if (this.stdinFull && this.stdinPending <= STDIN_HIGH_WATER / 2) {
      this.stdinFull = false;
      this.emit('drain');
    }
  }

  /** Sends EOF to the container's stdin, keeping the output coming. */
  closeStdin(): void {
    if (this.closed) return;
    if (!this.stdin) this.sock.end();
    else if (this.stdin.connected) this.stdin.sock.end();
    else this.stdin.ending = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // node-unix-socket aborts the process when a socket is destroyed inside its own 'data'
    // callback (a reader dropping a slow client does just that): destroy it on the next turn
    const stdin = this.stdin?.sock;
    setImmediate(() => {
      this.sock.destroy();
      stdin?.destroy();
    });
    this.emit('close');
    // whatever a route hung on this connection goes with it
    this.removeAllListeners();
  }
}
