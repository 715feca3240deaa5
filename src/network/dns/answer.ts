import * as net from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Question } from 'dns-packet';
import { MAX_MESSAGE, UDP_DEFAULT_SIZE } from './wire';

/**
 * The answers the network gives itself, as Docker's embedded resolver does for user-defined
 * networks: A records for the names of its containers, an empty NOERROR answer for other
 * types of those names (AAAA first of all, so a client asking A and AAAA does not wait for
 * the upstreams to say NXDOMAIN), and PTR for its addresses. Anything else is not ours and
 * goes to the upstreams.
 */

export interface NameLookup {
  /** A records for a name asked by a client at `clientIp` (the network decides who sees whom). Names arrive lowercased, without the trailing dot. Return [] for "not ours". */
  resolve(name: string, clientIp: string): string[];
  /** PTR: the name for an address in the network, or undefined */
  reverse(ip: string, clientIp: string): string | undefined;
}

/** Docker's TTL for the names it answers. */
export const LOCAL_TTL = 600;
/** What we advertise in our own EDNS record (the DNS flag day 2020 size). */
const OUR_UDP_SIZE = 1232;

export interface ParsedQuery {
  packet: DecodedPacket;
  question: Question;
  /** lowercased, no trailing dot */
  name: string;
}

/**
 * Names we answer ourselves are plain host names: letters, digits, '-' and '_', dot-separated.
 * Anything else (escapes, binary labels) is left to the upstreams, which also guarantees the
 * question re-encodes to the bytes the client sent.
 */
const HOST_NAME = /^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/;
const IN_ADDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/;

export function normalizeName(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

/** The IPv4 address a d.c.b.a.in-addr.arpa name stands for. */
export function ptrAddress(name: string): string | undefined {
  const m = IN_ADDR.exec(name);
  if (!m) return undefined;
  const ip = [m[4], m[3], m[2], m[1]].map(Number).join('.');
  return net.isIPv4(ip) ? ip : undefined;
}

/**
 * The encoded reply when the network knows the answer, undefined when the query is not ours.
 * `maxSize` is what the client can take: answers that do not fit are dropped, with TC set
 * for UDP (Docker truncates the same way; the client retries over TCP).
 */
export function localAnswer(
  q: ParsedQuery,
  lookup: NameLookup,
  clientIp: string,
  transport: 'udp' | 'tcp',
): Buffer | undefined {
  if ((q.question.class ?? 'IN') !== 'IN') return undefined;
  let records: Answer[];
  if (q.question.type === 'PTR') {
    const ip = ptrAddress(q.name);
    const host = ip === undefined ? undefined : lookup.reverse(ip, clientIp);
    const target = host?.endsWith('.') ? host.slice(0, -1) : host;
    if (!target || !HOST_NAME.test(target.toLowerCase())) return undefined;
    records = [{ type: 'PTR', name: q.question.name, ttl: LOCAL_TTL, class: 'IN', data: target }];
  } else {
    if (!HOST_NAME.test(q.name)) return undefined;
    const ips = lookup.resolve(q.name, clientIp).filter((ip) => net.isIPv4(ip));
    if (ips.length === 0) return undefined;
    records =
      q.question.type === 'A'
        ? shuffle(ips).map((ip) => ({ type: 'A', name: q.question.name, ttl: LOCAL_TTL, class: 'IN', data: ip }))
        : []; // the name exists but has nothing of this type: NOERROR, no data
  }
  return transport === 'tcp' ? encodeReply(q, records, MAX_MESSAGE, false) : encodeReply(q, records, udpLimit(q.packet), true);
}

function udpLimit(p: DecodedPacket): number {
  const opt = (p.additionals ?? []).find((a) => a.type === 'OPT');
  const size = opt && 'udpPayloadSize' in opt ? opt.udpPayloadSize : 0;
  return Math.min(Math.max(size, UDP_DEFAULT_SIZE), MAX_MESSAGE);
}

function encodeReply(q: ParsedQuery, records: Answer[], maxSize: number, markTruncated: boolean): Buffer {
  const p = q.packet;
  const hasOpt = (p.additionals ?? []).some((a) => a.type === 'OPT');
  let flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE;
  if (p.flag_rd) flags |= dnsPacket.RECURSION_DESIRED;
  if (p.flag_cd) flags |= dnsPacket.CHECKING_DISABLED;
  const additionals: Answer[] = hasOpt
    ? [{ type: 'OPT', name: '.', udpPayloadSize: OUR_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    : [];
  const answers = [...records];
  for (;;) {
    const msg = dnsPacket.encode({ type: 'response', id: p.id, flags, questions: [q.question], answers, additionals });
    if (msg.length <= maxSize || answers.length === 0) return msg;
    answers.pop();
    if (markTruncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  }
}

/** Several addresses for one name come in random order, Docker's poor man's load balancing. */
function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
