import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { setMaxListeners } from 'node:events';
import * as dnsPacket from 'dns-packet';
import { invalid } from '../../common/errors';
import { type NameLookup, localAnswer, normalizeName } from './answer';
import { type Transport, type Upstream, forward, parseUpstream } from './forward';
import { Deframer, RCODE, errorReply, frame, readHeader } from './wire';

export type { NameLookup } from './answer';

/**
 * One embedded DNS server per user-defined network, listening on the network's gateway
 * address (UDP and TCP, same port), like Docker's 127.0.0.11 resolver or Podman's
 * aardvark-dns. Containers on the network ask it for each other by name; it answers those
 * from the network (`NameLookup`) and forwards every other question to the upstream
 * resolvers.
 *
 * What a query gets:
 * - a name the network knows: A records (TTL 600, AA set), and for any other type an empty
 *   NOERROR answer, so AAAA lookups for containers come back at once;
 * - a PTR question for an address the network knows: its name;
 * - anything else: the upstreams' answer, relayed as is (see forward.ts), over the transport
 *   the query came on; a truncated UDP answer goes back truncated so the client retries over
 *   TCP. SERVFAIL when no upstream answers usably or there is none.
 * - on an internal network (`forward: false`) anything else gets SERVFAIL at once, which is
 *   what Docker answers there: container names resolve, outside names fail fast.
 * - opcodes other than QUERY: NOTIMP; messages that are not one well-formed question:
 *   FORMERR when the header can be read, otherwise (and responses) they are dropped.
 */
export interface DnsServerOptions {
  /** IP to listen on */
  address: string;
  /** default 53; 0 = any (tests) */
  port?: number;
  lookup: NameLookup;
  /** "ip" or "ip:port" ("[v6]:port") of resolvers to forward other names to; read per query so it can change */
  upstreams: () => string[];
  /** false for --internal networks: names the network does not know get SERVFAIL. Default true. */
  forward?: boolean;
  /** how long to wait for each upstream before trying the next; default 2000 ms */
  upstreamTimeoutMs?: number;
  log?: (msg: string) => void;
}

const DEFAULT_UPSTREAM_TIMEOUT_MS = 2000;
/** Forwards in flight at once; past this, queries get REFUSED as Docker does (it allows 100). */
const MAX_FORWARDS = 256;
const MAX_TCP_CONNECTIONS = 256;
const TCP_IDLE_MS = 10_000;
/** The same log line at most once in this long, so a dead upstream does not flood the log. */
const LOG_REPEAT_MS = 10_000;

export class DnsServer {
  readonly port: number;
  private readonly forwarding: boolean;
  private readonly timeoutMs: number;
  private readonly closing = new AbortController();
  private readonly connections = new Set<net.Socket>();
  private forwards = 0;
  private closed: Promise<void> | undefined;
  private readonly lastLogged = new Map<string, number>();

  private constructor(
    private readonly o: DnsServerOptions,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    port: number,
  ) {
    this.port = port;
    this.forwarding = o.forward ?? true;
    this.timeoutMs = o.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    // Every forward in flight listens for close(); that many listeners is expected.
    setMaxListeners(MAX_FORWARDS + 16, this.closing.signal);
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    udp.on('error', (err) => this.log(`udp: ${err.message}`));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    tcp.on('connection', (sock) => this.onConnection(sock));
    tcp.on('error', (err) => this.log(`tcp: ${err.message}`));
  }

  /** Binds UDP and TCP on the same address and port; with port 0, a port free for both. */
  static async start(o: DnsServerOptions): Promise<DnsServer> {
    const family = net.isIP(o.address);
    if (family === 0) throw invalid(`dns: invalid listen address: ${o.address}`);
    const wanted = o.port ?? 53;
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ address: o.address, port: wanted, exclusive: true }, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        throw err;
      }
      const port = udp.address().port;
      const tcp = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: o.address, port, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        // The port UDP picked may be taken for TCP; pick another.
        if (wanted === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 10) continue;
        throw err;
      }
      return new DnsServer(o, udp, tcp, port);
    }
  }

  /** Stops listening, drops TCP clients and abandons forwards in flight. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort();
      for (const c of this.connections) c.destroy();
      await Promise.all([
        new Promise<void>((resolve) => this.udp.close(() => resolve())),
        new Promise<void>((resolve) => this.tcp.close(() => resolve())),
      ]);
    })();
    return this.closed;
  }

  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.answer(msg, clientAddress(rinfo.address), 'udp').then((reply) => {
      if (!reply || this.closing.signal.aborted) return;
      this.udp.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) this.log(`udp reply to ${rinfo.address}: ${err.message}`);
      });
    });
  }

  private onConnection(sock: net.Socket): void {
    if (this.closing.signal.aborted) {
      sock.destroy();
      return;
    }
    this.connections.add(sock);
    const client = clientAddress(sock.remoteAddress ?? '');
    const deframer = new Deframer();
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => this.connections.delete(sock));
    sock.on('data', (chunk: Buffer) => {
      for (const msg of deframer.push(chunk)) {
        // Answers may go back out of order (RFC 7766 6.2.1.1); each carries its query's ID.
        this.answer(msg, client, 'tcp').then((reply) => {
          if (reply && !sock.destroyed) sock.write(frame(reply));
        });
      }
      if (deframer.bad) sock.destroy();
    });
  }

  /** The reply to one message, or undefined to stay silent. Never rejects. */
  private async answer(raw: Buffer, clientIp: string, transport: Transport): Promise<Buffer | undefined> {
    try {
      return await this.reply(raw, clientIp, transport);
    } catch (err) {
      this.log(`dns: ${(err as Error).message}`);
      return raw.length >= 12 ? errorReply(raw, RCODE.SERVFAIL) : undefined;
    }
  }

  private async reply(raw: Buffer, clientIp: string, transport: Transport): Promise<Buffer | undefined> {
    const h = readHeader(raw);
    if (!h || h.response) return undefined;
    if (h.opcode !== 0) return errorReply(raw, RCODE.NOTIMP);
    if (h.qdcount !== 1) return errorReply(raw, RCODE.FORMERR);
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(raw);
    } catch {
      return errorReply(raw, RCODE.FORMERR);
    }
    const question = packet.questions?.[0];
    if (!question || typeof question.name !== 'string') return errorReply(raw, RCODE.FORMERR);

    const local = localAnswer({ packet, question, name: normalizeName(question.name) }, this.o.lookup, clientIp, transport);
    if (local) return local;
    if (!this.forwarding) return errorReply(raw, RCODE.SERVFAIL);

    const upstreams = this.upstreams();
    if (upstreams.length === 0) return errorReply(raw, RCODE.SERVFAIL);
    if (this.forwards >= MAX_FORWARDS) {
      this.log(`dns: more than ${MAX_FORWARDS} queries being forwarded, refusing`);
      return errorReply(raw, RCODE.REFUSED);
    }
    this.forwards++;
    try {
      const answer = await forward(raw, upstreams, {
        transport,
        timeoutMs: this.timeoutMs,
        signal: this.closing.signal,
        log: (m) => this.log(`dns: ${m}`),
      });
      return answer ?? errorReply(raw, RCODE.SERVFAIL);
    } finally {
      this.forwards--;
    }
  }

  /** The configured upstreams that parse, without ourselves (a forwarding loop). */
  private upstreams(): Upstream[] {
    const out: Upstream[] = [];
    for (const text of this.o.upstreams()) {
      const u = parseUpstream(text);
      if (!u) {
        this.log(`dns: ignoring invalid upstream ${JSON.stringify(text)}`);
        continue;
      }
      if (u.port === this.port && u.host === this.o.address) continue;
      out.push(u);
    }
    return out;
  }

  private log(msg: string): void {
    if (!this.o.log) return;
    const now = Date.now();
    const last = this.lastLogged.get(msg);
    if (last !== undefined && now - last < LOG_REPEAT_MS) return;
    if (this.lastLogged.size > 1000) this.lastLogged.clear();
    this.lastLogged.set(msg, now);
    this.o.log(msg);
  }
}

/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d. */
function clientAddress(addr: string): string {
  return addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}
