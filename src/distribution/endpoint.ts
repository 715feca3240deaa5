import * as net from 'node:net';
import { invalid } from '../common/errors';
import { DEFAULT_DOMAIN } from '../image/reference';

/** The daemon's registry settings (dockerd's names in daemon.json). */
export interface RegistrySettings {
  /** `host[:port]` or CIDRs that may be spoken to over plain HTTP or unverified TLS */
  insecureRegistries: string[];
  /** base URLs tried, in order, before the default registry for Docker Hub names */
  registryMirrors: string[];
  /** where Docker Hub names (`alpine`, `user/app`) are pulled from and pushed to */
  defaultRegistry: string;
}

export const DEFAULT_REGISTRY_SETTINGS: RegistrySettings = {
  insecureRegistries: [],
  registryMirrors: [],
  defaultRegistry: 'registry-1.docker.io',
};

/** One place a repository can be reached. */
export interface Endpoint {
  /** `host[:port]`, as in the URL */
  host: string;
  /** tried first; `http` is only ever a fallback for insecure registries */
  secure: boolean;
  /** plain HTTP and unverified TLS allowed */
  insecure: boolean;
  /** a mirror serves pulls only, and its failure moves on to the next endpoint */
  mirror: boolean;
}

function hostOnly(hostPort: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (bracket) return bracket[1];
  const parts = hostPort.split(':');
  return parts.length === 2 ? parts[0] : hostPort;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsRaw] = cidr.split('/');
  const bits = Number(bitsRaw);
  if (!net.isIPv4(ip) || !net.isIPv4(base) || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(base) & mask);
}

/** Docker's rule: loopback registries and the configured ones may skip TLS. */
export function isInsecureRegistry(hostPort: string, settings: RegistrySettings): boolean {
  const host = hostOnly(hostPort);
  if (host === 'localhost' || host === '::1' || inCidr(host, '127.0.0.0/8')) return true;
  for (const entry of settings.insecureRegistries) {
    const e = entry.replace(/^\w+:\/\//, '').replace(/\/+$/, '');
    if (e.includes('/') ? inCidr(host, e) : e === hostPort || e === host) return true;
  }
  return false;
}

export function validateRegistrySettings(s: RegistrySettings): void {
  for (const m of s.registryMirrors) {
    let u: URL;
    try {
      u = new URL(m);
    } catch {
      throw invalid(`invalid mirror: "${m}" is not a valid URI`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`invalid mirror: unsupported scheme "${u.protocol.slice(0, -1)}" in "${m}"`);
  }
  for (const r of s.insecureRegistries) {
    if (r.includes('/') && !/^[\d.]+\/\d+$/.test(r.replace(/^\w+:\/\//, ''))) throw invalid(`insecure registry ${r} is not valid: invalid CIDR`);
  }
}

/** The endpoints to try for a repository's domain, in order. Pushes never go to mirrors. */
export function endpointsFor(domain: string, settings: RegistrySettings, purpose: 'pull' | 'push'): Endpoint[] {
  const one = (host: string, mirror: boolean, forceSecure?: boolean): Endpoint => {
    const insecure = isInsecureRegistry(host, settings);
    return { host, secure: forceSecure ?? true, insecure, mirror };
  };
  if (domain !== DEFAULT_DOMAIN) return [one(domain, false)];
  const out: Endpoint[] = [];
  if (purpose === 'pull') {
    for (const m of settings.registryMirrors) {
      const u = new URL(m);
      const e = one(u.host, true, u.protocol === 'https:');
      // a mirror written as http:// is spoken to over HTTP as written
      out.push(u.protocol === 'http:' ? { ...e, secure: false, insecure: true } : e);
    }
  }
  out.push(one(settings.defaultRegistry, false));
  return out;
}
