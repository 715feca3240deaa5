/**
 * Docker's multiplexed stream framing: each frame is an 8-byte header
 * [stream, 0, 0, 0, size as uint32 big-endian] then `size` bytes of payload.
 * Stream 0 is stdin, 1 stdout, 2 stderr, 3 an error from the daemon (systemerr).
 * Used on attach, logs and exec output when the container has no TTY.
 */
import { frame } from '../api/stream';

export type FrameHandler = (stream: number, payload: Buffer) => void;

/**
 * Splits a byte stream into frames whatever the chunk boundaries: headers split
 * across chunks are buffered, and payload is passed on as soon as it arrives
 * (a frame may reach the handler in several pieces).
 */
export class FrameDemuxer {
  private header = Buffer.alloc(8);
  private headerLen = 0;
  private remaining = 0;
  private stream = 0;

  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(8 - this.headerLen, chunk.length - off);
        chunk.copy(this.header, this.headerLen, off, off + take);
        this.headerLen += take;
        off += take;
        if (this.headerLen < 8) return;
        this.headerLen = 0;
        this.stream = this.header[0];
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - off);
      this.onFrame(this.stream, chunk.subarray(off, off + take));
      this.remaining -= take;
      off += take;
    }
  }

  /** True when the stream ended between frames, not inside one. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerLen === 0;
  }
}

/** Builds one frame: what a daemon (or a fake one in tests) writes; the daemon's own framing. */
export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  return frame(stream as 0 | 1 | 2 | 3, typeof payload === 'string' ? Buffer.from(payload) : payload);
}

/** Collects a whole multiplexed buffer into stdout and stderr (for tests and small outputs). */
export function demuxBuffer(data: Buffer): { stdout: Buffer; stderr: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  new FrameDemuxer((s, p) => (s === 2 || s === 3 ? err : out).push(Buffer.from(p))).push(data);
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
}
