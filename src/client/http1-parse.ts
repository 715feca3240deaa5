/**
 * Parsing of HTTP/1.1 answers, apart from the client in http1.ts so that a caller that does not
 * use node streams (bun-request.ts) does not load them.
 */

/** The longest answer head a client reads: a daemon sending more without its blank line is refused. */
export const MAX_HEAD = 64 * 1024;

/** The longest chunk-size line (with extensions) a chunked body may have. */
const MAX_CHUNK_LINE = 4096;

/** Parses a response head (without the blank line). */
export function parseHead(head: string): { status: number; statusMessage: string; headers: Record<string, string> } {
  const [statusLine, ...lines] = head.split('\r\n');
  const m = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`malformed HTTP status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    const name = l.slice(0, i).trim().toLowerCase();
    const value = l.slice(i + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(m[1]), statusMessage: m[2] ?? '', headers };
}

/**
 * Decodes a chunked body as it arrives: feed() takes raw bytes and returns the data in them;
 * `done` once the last chunk and its trailers have passed.
 */
export class ChunkedDecoder {
  done = false;
  private pending: Buffer = Buffer.alloc(0);
  /** bytes of data left in the current chunk, -1 between chunks */
  private left = -1;
  private inTrailers = false;

  feed(input: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, input]) : input;
    this.pending = Buffer.alloc(0);
    while (buf.length && !this.done) {
      if (this.inTrailers) {
        const nl = buf.indexOf('\r\n');
        if (nl < 0) break;
        if (nl === 0) this.done = true;
        buf = buf.subarray(nl + 2);
        continue;
      }
      if (this.left > 0) {
        const take = Math.min(this.left, buf.length);
        out.push(buf.subarray(0, take));
        this.left -= take;
        buf = buf.subarray(take);
        if (this.left === 0) this.left = -2; // the CRLF after the data
        continue;
      }
      if (this.left === -2) {
        if (buf.length < 2) break;
        buf = buf.subarray(2);
        this.left = -1;
        continue;
      }
      const nl = buf.indexOf('\r\n');
      if (nl < 0) break;
      const size = parseInt(buf.subarray(0, nl).toString('latin1').split(';')[0].trim(), 16);
      if (Number.isNaN(size)) throw new Error('malformed chunked encoding');
      buf = buf.subarray(nl + 2);
      if (size === 0) this.inTrailers = true;
      else this.left = size;
    }
    if (buf.length && !this.done) {
      if (buf.length > MAX_CHUNK_LINE && this.left < 0) throw new Error('malformed chunked encoding: a chunk-size line without its end');
      this.pending = Buffer.from(buf);
    }
    return out;
  }
}
