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
