/**
 * The few byte-level operations the embedded DNS server does on messages it does not build
 * itself: reading a header, echoing a question into an error reply, rewriting a message ID,
 * and TCP's 2-byte length framing (RFC 1035 4.2.2). Everything else goes through dns-packet.
 *
 * Working on raw bytes here is deliberate: a forwarded query or answer is relayed exactly as
 * received (only its ID changes), and an error reply can echo a question of any type or class,
 * including ones a decoder does not know.
 */

export const HEADER_SIZE = 12;
/** Largest DNS message: TCP's length prefix is 16 bits. */
export const MAX_MESSAGE = 65535;
/** What a UDP client without EDNS can receive (RFC 1035 2.3.4). */
export const UDP_DEFAULT_SIZE = 512;

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const FLAG_QR = 0x8000;
const OPCODE_MASK = 0x7800;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_CD = 0x0010;

export interface Header {
  id: number;
  response: boolean;
  opcode: number;
  truncated: boolean;
  rcode: number;
  qdcount: number;
}

export function readHeader(msg: Buffer): Header | undefined {
  if (msg.length < HEADER_SIZE) return undefined;
  const flags = msg.readUInt16BE(2);
  return {
    id: msg.readUInt16BE(0),
    response: (flags & FLAG_QR) !== 0,
    opcode: (flags & OPCODE_MASK) >> 11,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0x000f,
    qdcount: msg.readUInt16BE(4),
  };
}

/**
 * Where the first question ends, when the message has exactly one question written without
 * compression (a query's question has nothing before it to point at). undefined otherwise.
 */
export function questionEnd(msg: Buffer): number | undefined {
  if (msg.length < HEADER_SIZE || msg.readUInt16BE(4) !== 1) return undefined;
  let at = HEADER_SIZE;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at];
    if (len === 0) break;
    if (len > 63) return undefined;
    at += 1 + len;
  }
  at += 1 + 4; // root label, QTYPE, QCLASS
  return at <= msg.length ? at : undefined;
}

/** The question bytes of a one-question message, for comparing a query with its answer. */
export function questionBytes(msg: Buffer): Buffer | undefined {
  const end = questionEnd(msg);
  return end === undefined ? undefined : msg.subarray(HEADER_SIZE, end);
}

/** Same question, ASCII letters compared without case (RFC 4343). */
export function sameQuestion(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a[i];
    let y = b[i];
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/**
 * A reply carrying only an rcode, built from the query's bytes: same ID, opcode, RD and CD,
 * and the question echoed when it can be found (an unparsable question is left out).
 */
export function errorReply(query: Buffer, rcode: number): Buffer {
  const end = questionEnd(query);
  const out = Buffer.alloc(end ?? HEADER_SIZE);
  if (query.length >= 2) query.copy(out, 0, 0, 2);
  const qflags = query.length >= 4 ? query.readUInt16BE(2) : 0;
  out.writeUInt16BE(FLAG_QR | (qflags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | FLAG_RA | (rcode & 0xf), 2);
  if (end !== undefined) {
    out.writeUInt16BE(1, 4);
    query.copy(out, HEADER_SIZE, HEADER_SIZE, end);
  }
  return out;
}

/** A copy of the message with another ID. */
export function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(id & 0xffff, 0);
  return out;
}

/** A message with its TCP length prefix. */
export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}

/**
 * Splits a TCP byte stream into messages. `push` returns the messages completed by a chunk;
 * a zero-length message is a protocol error, reported as `bad` so the caller drops the stream.
 */
export class Deframer {
  private buf: Buffer = Buffer.alloc(0);
  bad = false;

  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 2) {
      const len = this.buf.readUInt16BE(0);
      if (len === 0) {
        this.bad = true;
        this.buf = Buffer.alloc(0);
        break;
      }
      if (this.buf.length < 2 + len) break;
      out.push(Buffer.from(this.buf.subarray(2, 2 + len)));
      this.buf = this.buf.subarray(2 + len);
    }
    return out;
  }
}
