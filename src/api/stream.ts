/**
 * Docker's multiplexed stream framing for attach, logs and exec without a TTY:
 * an 8-byte header [stream, 0, 0, 0, size (uint32 big endian)] then the payload.
 * Stream 0 is stdin, 1 stdout, 2 stderr, 3 the system error stream.
 */
export function frame(stream: 0 | 1 | 2 | 3, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

export const STDOUT = 1 as const;
export const STDERR = 2 as const;

/** Frames many payloads into one buffer: one allocation for a whole batch of log records. */
export function frameAll(items: { stream: 1 | 2; payload: Buffer }[]): Buffer {
  let size = 0;
  for (const it of items) size += 8 + it.payload.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const it of items) {
    out[at] = it.stream;
    out[at + 1] = 0;
    out[at + 2] = 0;
    out[at + 3] = 0;
    out.writeUInt32BE(it.payload.length, at + 4);
    it.payload.copy(out, at + 8);
    at += 8 + it.payload.length;
  }
  return out;
}

/**
 * How far a client may fall behind a stream that cannot wait for it (attach and exec output
 * come from conmon's attach socket, which cannot be paused; events and stats are produced
 * whether or not anyone reads). A client this far behind is disconnected, so a client that
 * stops reading costs the daemon at most this much, never what the container writes.
 */
export const MAX_CLIENT_BACKLOG = 8 * 1024 * 1024;

interface WritableOut {
  write(chunk: Buffer | string): boolean;
  destroy(): void;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableLength: number;
}

/**
 * Writes to a client unless it has fallen more than `limit` bytes behind, in which case the
 * connection is destroyed (its buffers freed). Returns false once the client is gone.
 */
export function writeOrDrop(out: WritableOut, chunk: Buffer | string, limit = MAX_CLIENT_BACKLOG): boolean {
  if (out.destroyed || out.writableEnded) return false;
  if (out.writableLength > limit) {
    out.destroy();
    return false;
  }
  out.write(chunk);
  return true;
}

/**
 * Resolves when `out` can take more ('drain') or is gone ('close'), leaving no listener
 * behind, so a long stream that waits often does not pile listeners up.
 */
export function drainedOrClosed(out: NodeJS.EventEmitter & { readonly destroyed: boolean }): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}
