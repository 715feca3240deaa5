/**
 * IP addresses and CIDR prefixes, read and written the way Go's net package
 * does it for the docker CLI's ip/ipSlice/ipNetSlice flags: dotted IPv4 without
 * leading zeros, IPv6 with at most one "::" and an optional dotted tail, no
 * zones; IPv6 written in its shortest form; an IPv4-mapped address written as
 * IPv4. An address is its bytes: 4 for IPv4, 16 for IPv6.
 */

export type IpBytes = number[];

/** A network: its address with the host bits cleared, and the prefix length. */
export interface IpNet {
  ip: IpBytes;
  bits: number;
}

function parseIPv4(s: string): IpBytes | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0'))) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseIPv6(s: string): IpBytes | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (text: string): number[] | undefined => {
    if (text === '') return [];
    const words: number[] = [];
    const parts = text.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (!v4) return undefined;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      words.push(parseInt(p, 16));
    }
    return words;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  let words: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    words = head;
  }
  const out: number[] = [];
  for (const w of words) out.push(w >> 8, w & 0xff);
  return out;
}

/** Go's net.ParseIP; undefined where it returns nil. */
export function parseIp(s: string): IpBytes | undefined {
  if (s.includes(':')) return parseIPv6(s);
  return parseIPv4(s);
}

/** The IPv4 form of an address: itself, or the tail of an IPv4-mapped IPv6 one. */
function to4(ip: IpBytes): IpBytes | undefined {
  if (ip.length === 4) return ip;
  if (ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12);
  return undefined;
}

/** Go's net.IP.String. */
export function ipString(ip: IpBytes): string {
  const v4 = to4(ip);
  if (v4) return v4.join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((ip[i] << 8) | ip[i + 1]);
  // The longest run of two or more zero words (the first of equals) becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestLen < 2) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}

/** Go's net.ParseCIDR: the network (host bits cleared), or undefined. */
export function parseCidr(s: string): IpNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const ip = parseIp(addr);
  if (!ip || !/^[0-9]{1,3}$/.test(len)) return undefined;
  const bits = Number(len);
  if (bits > ip.length * 8) return undefined;
  return { ip: maskIp(ip, bits), bits };
}

function maskIp(ip: IpBytes, bits: number): IpBytes {
  return ip.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
}

/** Go's net.IPNet.String: "10.0.0.0/8". */
export function ipNetString(n: IpNet): string {
  return `${ipString(n.ip)}/${n.bits}`;
}

/** Go's net.IPNet.Contains: IPv4 and IPv4-mapped addresses compare as IPv4. */
export function ipNetContains(n: IpNet, ip: IpBytes): boolean {
  let net = n.ip;
  let bits = n.bits;
  const net4 = to4(net);
  if (net4 && net.length === 16) {
    net = net4;
    bits = Math.max(0, bits - 96);
  }
  const addr = net.length === 4 ? to4(ip) : ip;
  if (!addr || addr.length !== net.length) return false;
  const masked = maskIp(addr, bits);
  return masked.every((b, i) => b === net[i]);
}
