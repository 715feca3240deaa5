import { invalid } from '../common/errors';

/** IPv4 arithmetic on CIDRs, for IPAM choices the CNI plugins do not make: pools, overlaps, gateways. */
export interface Cidr {
  /** network address as an unsigned 32-bit number */
  base: number;
  bits: number;
}

export function parseIPv4(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const maskOf = (bits: number) => (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);

/** "10.89.0.0/24" (host bits set are cleared, as Docker does); throws Docker's message otherwise. */
export function parseCidr(text: string): Cidr {
  const [ip, bitsText, extra] = text.split('/');
  const addr = parseIPv4(ip ?? '');
  const bits = Number(bitsText);
  if (addr === undefined || extra !== undefined || bitsText === undefined || !/^\d+$/.test(bitsText) || bits > 32) {
    throw invalid(`invalid CIDR address: ${text}`);
  }
  return { base: (addr & maskOf(bits)) >>> 0, bits };
}

export const cidrString = (c: Cidr) => `${formatIPv4(c.base)}/${c.bits}`;
export const cidrSize = (c: Cidr) => 2 ** (32 - c.bits);

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.bits)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & maskOf(bits)) >>> 0) === ((b.base & maskOf(bits)) >>> 0);
}

/** The first usable address, Docker's default gateway. */
export const firstHost = (c: Cidr) => formatIPv4(c.base + 1);

/**
 * Docker's default address pools for bridge networks: 172.17-31.0.0/16, then
 * 192.168.0-240.0/20. The first one that overlaps no network in use is taken.
 */
export function* defaultPools(): Generator<Cidr> {
  for (let b = 17; b <= 31; b++) yield { base: parseIPv4(`172.${b}.0.0`)!, bits: 16 };
  for (let c = 0; c <= 240; c += 16) yield { base: parseIPv4(`192.168.${c}.0`)!, bits: 20 };
}

export function allocateSubnet(inUse: Cidr[]): Cidr {
  for (const pool of defaultPools()) if (!inUse.some((u) => overlaps(u, pool))) return pool;
  throw invalid('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}
