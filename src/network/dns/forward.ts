import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import { Deframer, RCODE, frame, questionBytes, readHeader, sameQuestion, withId } from './wire';

/**
 * Forwarding a query the network does not answer to the upstream resolvers, the way Docker's
 * embedded resolver does: one upstream after the other, each with its own timeout; an answer
 * that says SERVFAIL or REFUSED moves on to the next one, any other answer (NXDOMAIN included)
 * is final and relayed byte for byte, with only the client's ID put back.
 *
 * Each exchange uses its own socket (a fresh UDP socket connected to the upstream, or a TCP
 * connection), so concurrent forwards never share state, and the upstream sees a random ID
 * rather than the client's.
 */

export interface Upstream {
  host: string;
  port: number;
}

/** "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353"; undefined if it is none of these. */
export function parseUpstream(text: string): Upstream | undefined {
  const s = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else if (s.split(':').length === 2) {
    [host, portText] = s.split(':');
  } else {
    host = s;
  }
  if (net.isIP(host) === 0) return undefined;
  const port = portText === undefined ? 53 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

export type Transport = 'udp' | 'tcp';

export interface ForwardOptions {
  transport: Transport;
  /** per upstream */
  timeoutMs: number;
  signal: AbortSignal;
  log: (msg: string) => void;
}

/**
 * The upstream answer to relay (with the query's ID), or undefined when no upstream gave a
 * usable one; the caller then answers SERVFAIL.
 */
export async function forward(query: Buffer, upstreams: Upstream[], o: ForwardOptions): Promise<Buffer | undefined> {
  const clientId = query.readUInt16BE(0);
  const question = questionBytes(query);
  if (!question) return undefined;
  for (const up of upstreams) {
    if (o.signal.aborted) return undefined;
    const id = randomInt(0, 0x10000);
    const out = withId(query, id);
    let answer: Buffer;
    try {
      answer = await (o.transport === 'tcp' ? exchangeTcp : exchangeUdp)(up, out, id, question, o.timeoutMs, o.signal);
    } catch (err) {
      o.log(`upstream ${describe(up)} (${o.transport}): ${(err as Error).message}`);
      continue;
    }
    const rcode = readHeader(answer)!.rcode;
    if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
      o.log(`upstream ${describe(up)} answered ${rcode === RCODE.SERVFAIL ? 'SERVFAIL' : 'REFUSED'}, trying the next`);
      continue;
    }
    return withId(answer, clientId);
  }
  return undefined;
}

const describe = (u: Upstream) => (net.isIPv6(u.host) ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`);

/** Is this message the answer to what we sent: a response, same ID, same question. */
function answers(msg: Buffer, id: number, question: Buffer): boolean {
  const h = readHeader(msg);
  if (!h || !h.response || h.id !== id) return false;
  const q = questionBytes(msg);
  return q !== undefined && sameQuestion(q, question);
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * Runs one exchange with a deadline and an abort signal; `start` gets `done` to settle it and
 * returns the cleanup that closes its socket, run exactly once however it ends.
 */
function exchange(
  timeoutMs: number,
  signal: AbortSignal,
  start: (done: (err: Error | undefined, answer?: Buffer) => void) => () => void,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    let cleanup: (() => void) | undefined;
    const done = (err: Error | undefined, answer?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      cleanup?.();
      if (err) reject(err);
      else resolve(answer!);
    };
    const onAbort = () => done(new Error('server closing'));
    const timer = setTimeout(() => done(new TimeoutError(timeoutMs)), timeoutMs);
    signal.addEventListener('abort', onAbort);
    cleanup = start(done);
    if (settled) cleanup();
  });
}

function exchangeUdp(up: Upstream, query: Buffer, id: number, question: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  return exchange(timeoutMs, signal, (done) => {
    const sock = dgram.createSocket(net.isIPv6(up.host) ? 'udp6' : 'udp4');
    sock.on('error', (err) => done(err));
    // Anything that is not our answer (a late reply, a spoof attempt) is ignored; the
    // connected socket already drops datagrams from other addresses.
    sock.on('message', (msg) => {
      if (answers(msg, id, question)) done(undefined, msg);
    });
    // Node calls this with the error when the connect fails (no route to the upstream: an
    // unconnected socket's send would throw, uncaught, and take the daemon down)
    const connected = (err?: Error) => {
      if (err) return done(err);
      try {
        sock.send(query, (e) => {
          if (e) done(e);
        });
      } catch (e) {
        done(e as Error);
      }
    };
    sock.connect(up.port, up.host, connected as () => void);
    return () => {
      try {
        sock.close();
      } catch {
        // already closed
      }
    };
  });
}

function exchangeTcp(up: Upstream, query: Buffer, id: number, question: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer> {
  return exchange(timeoutMs, signal, (done) => {
    const sock = net.connect({ host: up.host, port: up.port });
    const deframer = new Deframer();
    sock.on('connect', () => sock.write(frame(query)));
    sock.on('data', (chunk: Buffer) => {
      for (const msg of deframer.push(chunk)) {
        if (answers(msg, id, question)) return done(undefined, msg);
      }
      if (deframer.bad) done(new Error('bad TCP framing'));
    });
    sock.on('error', (err) => done(err));
    sock.on('close', () => done(new Error('connection closed without an answer')));
    return () => sock.destroy();
  });
}
