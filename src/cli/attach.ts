/**
 * Moves bytes between the terminal and a hijacked attach connection: output is
 * demultiplexed into stdout/stderr (or copied raw for a TTY), stdin is forwarded
 * and, when it ends, the connection's write side is closed (the daemon reads
 * that as EOF on the container's stdin). With a TTY, the detach key sequence
 * (ctrl-p,ctrl-q by default) is caught here, as docker's client does.
 */
import type { Socket } from 'node:net';
import { FrameDemuxer } from '../client/frames';
import { KeySequenceDetector } from '../common/detach-keys';

export interface Sink {
  write(chunk: Buffer | string): unknown;
}

export interface PumpOptions {
  tty: boolean;
  stdout: Sink;
  stderr: Sink;
  /** Forwarded into the connection when given. */
  stdin?: NodeJS.ReadableStream;
  /** Bytes that detach (TTY only). */
  detachKeys?: Buffer;
}

export interface PumpResult {
  /** true when the user typed the detach keys. */
  detached: boolean;
}

/**
 * Watches a byte stream for a key sequence, across chunk boundaries. Bytes that
 * could begin the sequence are held back until it is clear they do not.
 */
/** The terminal's detach keys are watched with the daemon's detector. */
export { KeySequenceDetector as EscapeDetector } from '../common/detach-keys';

export const DEFAULT_DETACH_KEYS = Buffer.from([16, 17]); // ctrl-p, ctrl-q

export function pumpStreams(socket: Socket, opts: PumpOptions): { done: Promise<PumpResult>; stop(): void } {
  let finish!: (r: PumpResult) => void;
  const done = new Promise<PumpResult>((resolve) => (finish = resolve));
  let finished = false;
  const stdin = opts.stdin;

  const onStdinData = (chunk: Buffer | string) => {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (detector) {
      const r = detector.feed(buf);
      buf = r.pass;
      if (r.escaped) {
        if (buf.length) socket.write(buf);
        end(true);
        return;
      }
    }
    if (buf.length && socket.writable) socket.write(buf);
  };
  const onStdinEnd = () => {
    if (socket.writable) socket.end();
  };
  const detector = opts.tty && stdin ? new KeySequenceDetector(opts.detachKeys ?? DEFAULT_DETACH_KEYS) : undefined;

  const end = (detached: boolean) => {
    if (finished) return;
    finished = true;
    if (stdin) {
      stdin.removeListener('data', onStdinData);
      stdin.removeListener('end', onStdinEnd);
      stdin.pause();
    }
    socket.destroy();
    finish({ detached });
  };

  const demux = opts.tty
    ? undefined
    : new FrameDemuxer((stream, payload) => {
        if (stream === 2 || stream === 3) opts.stderr.write(payload);
        else opts.stdout.write(payload);
      });
  socket.on('data', (chunk: Buffer) => {
    if (demux) demux.push(chunk);
    else opts.stdout.write(chunk);
  });
  socket.on('end', () => end(false));
  socket.on('close', () => end(false));
  socket.on('error', () => end(false));
  socket.resume();

  if (stdin) {
    stdin.on('data', onStdinData);
    stdin.on('end', onStdinEnd);
    stdin.resume();
  }
  return { done, stop: () => end(false) };
}
