import * as zlib from 'node:zlib';
import { promises as fsp } from 'node:fs';
import { Transform } from 'node:stream';

/**
 * Gzip that does not spend effort on what will not shrink. Layers often hold data that is
 * already compressed (archives, media, random bytes): deflate costs ~17 ms a megabyte on it
 * and saves nothing. A layer whose sampled byte entropy says "incompressible" is written as
 * gzip with stored deflate blocks (a valid gzip stream every client reads, at the cost of a
 * CRC), anything else goes through zlib at its fastest level. The choice depends only on the
 * layer's bytes and the blocks have a fixed size, so a layer always compresses to the same
 * blob and the same digest.
 */
const SAMPLE_COUNT = 16;
const SAMPLE_BYTES = 64 * 1024;
const SAMPLE_STRIDE = 2;
const INCOMPRESSIBLE_BITS = 7.9;

/** Shannon entropy, in bits per byte, of every SAMPLE_STRIDE-th byte. */
export function sampledEntropy(chunk: Buffer): number {
  const counts = new Uint32Array(256);
  let n = 0;
  for (let i = 0; i < chunk.length; i += SAMPLE_STRIDE) {
    counts[chunk[i]]++;
    n++;
  }
  if (n < 1024) return 0; // too little to judge: compress it
  let h = 0;
  for (let b = 0; b < 256; b++) {
    if (counts[b] === 0) continue;
    const p = counts[b] / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Reads samples spread over the file; true when every one of them looks like noise. */
export async function looksIncompressible(file: string): Promise<boolean> {
  const fh = await fsp.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size < SAMPLE_BYTES * 4) return false;
    const buf = Buffer.allocUnsafe(SAMPLE_BYTES);
    for (let i = 0; i < SAMPLE_COUNT; i++) {
      const at = Math.floor(((size - SAMPLE_BYTES) * i) / (SAMPLE_COUNT - 1));
      const { bytesRead } = await fh.read(buf, 0, SAMPLE_BYTES, at);
      if (sampledEntropy(buf.subarray(0, bytesRead)) < INCOMPRESSIBLE_BITS) return false;
    }
    return true;
  } finally {
    await fh.close();
  }
}

const STORED_BLOCK = 65535;
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);

/** RFC 1951 stored block: BFINAL/BTYPE=00 byte, LEN, ~LEN, then the bytes as they are. */
function storedBlock(data: Buffer, final: boolean): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = final ? 1 : 0;
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  return Buffer.concat([head, data]);
}

/** RFC 1952 gzip made of stored deflate blocks of a fixed size. */
export function createStoredGzip(): Transform {
  let crc = 0;
  let size = 0;
  let pending: Buffer = Buffer.alloc(0);
  let headerSent = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!headerSent) {
        this.push(GZIP_HEADER);
        headerSent = true;
      }
      crc = zlib.crc32(chunk, crc);
      size = (size + chunk.length) >>> 0;
      let data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const blocks: Buffer[] = [];
      while (data.length >= STORED_BLOCK) {
        blocks.push(storedBlock(data.subarray(0, STORED_BLOCK), false));
        data = data.subarray(STORED_BLOCK);
      }
      pending = Buffer.from(data);
      cb(null, blocks.length ? Buffer.concat(blocks) : undefined);
    },
    flush(cb) {
      if (!headerSent) this.push(GZIP_HEADER);
      const trailer = Buffer.allocUnsafe(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size, 4);
      cb(null, Buffer.concat([storedBlock(pending, true), trailer]));
    },
  });
}

export async function createLayerGzip(file: string): Promise<Transform> {
  if (await looksIncompressible(file)) return createStoredGzip();
  return zlib.createGzip({ level: 1, chunkSize: 256 * 1024 });
}
