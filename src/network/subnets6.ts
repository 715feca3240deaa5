import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { invalid } from '../common/errors';

/** IPv6 arithmetic on CIDRs for IPv6 networks' IPAM choices (subnets.ts does IPv4). */
export interface Cidr6 {
  base: bigint;
  bits: number;
}

const ALL = (1n << 128n) - 1n;

export function parseIPv6(ip: string): bigint | undefined {
  if (!net.isIPv6(ip) || ip.includes('%')) return undefined;
  let text = ip;
  // an embedded IPv4 tail (::ffff:1.2.3.4) as two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The shortest text of an address (RFC 5952: lowercase, the longest run of zero groups as ::). */
export function formatIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

const mask6 = (bits: number) => (bits === 0 ? 0n : (ALL << BigInt(128 - bits)) & ALL);

/** "2001:db8::/64", host bits cleared; Docker's message otherwise. */
export function parseCidr6(text: string): Cidr6 {
  const [ip, bitsText, extra] = text.split('/');
  const addr = parseIPv6(ip ?? '');
  const bits = Number(bitsText);
  if (addr === undefined || extra !== undefined || bitsText === undefined || !/^\d+$/.test(bitsText) || bits > 128) throw invalid(`invalid CIDR address: ${text}`);
  return { base: addr & mask6(bits), bits };
}

export function cidr6String(c: Cidr6): string {
  return `${formatIPv6(c.base)}/${c.bits}`;
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.bits)) === c.base;
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  return contains6(a, b.base) || contains6(b, a.base);
}

/** The first address after the subnet's own: Docker's default gateway. */
export function firstHost6(c: Cidr6): string {
  return formatIPv6(c.base + 1n);
}

/** The last address of a range (host-local's rangeEnd). */
export function lastHost6(c: Cidr6): string {
  return formatIPv6(c.base | (~mask6(c.bits) & ALL));
}

/** A unique local /64 (fd00::/8 with a random global ID) for an IPv6 network given no subnet. */
export function randomUla64(taken: Cidr6[]): Cidr6 {
  for (;;) {
    const id = BigInt(`0x${randomBytes(7).toString('hex')}`); // 40-bit global ID + 16-bit subnet
    const c = { base: ((0xfdn << 120n) | ((id & ((1n << 56n) - 1n)) << 64n)) & ALL, bits: 64 };
    if (!taken.some((t) => overlaps6(t, c))) return c;
  }
}
