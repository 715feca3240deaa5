import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { HostConfig } from '../api/types';

/**
 * The three files Docker bind-mounts into every container: /etc/hostname, /etc/hosts and
 * /etc/resolv.conf. They live in the container's folder so they survive a restart and can
 * be rewritten when the container joins a network.
 */
export interface EtcFiles {
  hostnamePath: string;
  hostsPath: string;
  resolvConfPath: string;
}

const LOCALHOST_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

// Docker's fallback when the host's resolv.conf has only local resolvers a container cannot reach.
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

export async function writeEtcFiles(
  dir: string,
  opts: {
    hostname: string;
    domainname?: string;
    hostConfig: HostConfig;
    hostNetwork: boolean;
    addresses?: string[];
    /** a user-defined network's DNS server: the container's only nameserver */
    embeddedDns?: string;
    /** what `--add-host name:host-gateway` resolves to */
    gateway?: string;
    /** legacy links: the linked containers' addresses and names */
    links?: { ip: string; names: string[] }[];
  },
): Promise<EtcFiles> {
  const files: EtcFiles = {
    hostnamePath: path.join(dir, 'hostname'),
    hostsPath: path.join(dir, 'hosts'),
    resolvConfPath: path.join(dir, 'resolv.conf'),
  };
  const hc = opts.hostConfig;
  const hostResolvRead = fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => '');

  let hosts: string[];
  if (opts.hostNetwork) {
    hosts = (await fsp.readFile('/etc/hosts', 'utf8').catch(() => LOCALHOST_HOSTS.join('\n'))).split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);
  } else {
    hosts = [...LOCALHOST_HOSTS];
    const fqdn = opts.domainname ? `${opts.hostname}.${opts.domainname} ${opts.hostname}` : opts.hostname;
    for (const addr of opts.addresses ?? []) hosts.push(`${addr}\t${fqdn}`);
  }
  for (const extra of hc.ExtraHosts ?? []) {
    const i = extra.indexOf(':');
    if (i <= 0) continue;
    const target = extra.slice(i + 1);
    hosts.push(`${target === 'host-gateway' ? (opts.gateway ?? '') : target}\t${extra.slice(0, i)}`);
  }
  for (const link of opts.links ?? []) hosts.push(`${link.ip}\t${link.names.join(' ')}`);
  const hostResolv = await hostResolvRead;
  const resolv = opts.embeddedDns && !hc.Dns?.length ? embeddedResolvConf(hostResolv, hc, opts.embeddedDns) : resolvConf(hostResolv, hc, opts.hostNetwork);
  // written afresh at every start, before the container runs: a crash loses nothing a
  // restart would not write again, so no fsync and no temporary file
  await Promise.all([
    fsp.writeFile(files.hostnamePath, `${opts.hostname}\n`, { mode: 0o644 }),
    fsp.writeFile(files.hostsPath, `${hosts.join('\n')}\n`, { mode: 0o644 }),
    fsp.writeFile(files.resolvConfPath, resolv, { mode: 0o644 }),
  ]);
  return files;
}

export function resolvConf(hostResolv: string, hc: HostConfig, hostNetwork: boolean): string {
  const lines = hostResolv.split('\n').map((l) => l.trim());
  let nameservers = lines.filter((l) => /^nameserver\s/.test(l)).map((l) => l.split(/\s+/)[1]);
  let search = lines.filter((l) => /^(search|domain)\s/.test(l)).flatMap((l) => l.split(/\s+/).slice(1));
  let options = lines.filter((l) => /^options\s/.test(l)).flatMap((l) => l.split(/\s+/).slice(1));
  if (!hostNetwork) {
    // A loopback resolver of the host is not reachable from the container's own network namespace.
    nameservers = nameservers.filter((ns) => !/^127\./.test(ns) && ns !== '::1');
    if (nameservers.length === 0) nameservers = [...FALLBACK_NAMESERVERS];
  }
  if (hc.Dns?.length) nameservers = hc.Dns;
  if (hc.DnsSearch?.length) search = hc.DnsSearch.filter((s) => s !== '.');
  if (hc.DnsOptions?.length) options = hc.DnsOptions;
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(' ')}`);
  for (const ns of nameservers) out.push(`nameserver ${ns}`);
  if (options.length) out.push(`options ${options.join(' ')}`);
  return `${out.join('\n')}\n`;
}

/** On user-defined networks the network's DNS server is the one resolver (Docker's 127.0.0.11). */
export function embeddedResolvConf(hostResolv: string, hc: HostConfig, server: string): string {
  const lines = hostResolv.split('\n').map((l) => l.trim());
  let search = lines.filter((l) => /^(search|domain)\s/.test(l)).flatMap((l) => l.split(/\s+/).slice(1));
  if (hc.DnsSearch?.length) search = hc.DnsSearch.filter((s) => s !== '.');
  const options = hc.DnsOptions?.length ? hc.DnsOptions : ['ndots:0'];
  const out: string[] = [];
  if (search.length) out.push(`search ${search.join(' ')}`);
  out.push(`nameserver ${server}`);
  out.push(`options ${options.join(' ')}`);
  return `${out.join('\n')}\n`;
}
