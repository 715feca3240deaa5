import * as net from 'node:net';
import { invalid } from '../common/errors';
import type { EndpointRequest } from './model';

/** EndpointSettings as a client sends them (create's EndpointsConfig, network connect). */
export interface EndpointSettingsBody {
  Aliases?: string[] | null;
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] | null } | null;
  Links?: string[] | null;
  DriverOpts?: Record<string, string> | null;
  MacAddress?: string;
}

const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/**
 * What berth keeps of a client's endpoint settings: the parts a container asks for (the rest,
 * NetworkID, IPAddress and the like, are the daemon's to fill in), checked as Docker checks them.
 */
export function endpointRequest(cfg: EndpointSettingsBody | null | undefined): EndpointRequest {
  const out: EndpointRequest = {};
  if (!cfg) return out;
  if (cfg.Aliases?.length) out.Aliases = [...cfg.Aliases];
  const ipam = cfg.IPAMConfig;
  if (ipam) {
    const kept: NonNullable<EndpointRequest['IPAMConfig']> = {};
    if (ipam.IPv4Address) kept.IPv4Address = ipam.IPv4Address;
    if (ipam.IPv6Address) {
      if (!net.isIPv6(ipam.IPv6Address)) throw invalid(`invalid IPv6 address: ${ipam.IPv6Address}`);
      kept.IPv6Address = ipam.IPv6Address;
    }
    if (ipam.LinkLocalIPs?.length) {
      const bad = ipam.LinkLocalIPs.find((ip) => !net.isIP(ip));
      if (bad !== undefined) throw invalid(`invalid link-local IP address: ${bad}`);
      kept.LinkLocalIPs = [...ipam.LinkLocalIPs];
    }
    if (Object.keys(kept).length) out.IPAMConfig = kept;
  }
  if (cfg.Links?.length) out.Links = [...cfg.Links];
  if (cfg.DriverOpts && Object.keys(cfg.DriverOpts).length) out.DriverOpts = { ...cfg.DriverOpts };
  if (cfg.MacAddress) {
    const mac = cfg.MacAddress.replace(/-/g, ':').toLowerCase();
    if (!MAC.test(mac)) throw invalid(`invalid MAC address ${cfg.MacAddress}`);
    out.MacAddress = mac;
  }
  return out;
}

/** `name:alias` or `name` (the alias is then the name), as in `--link`. */
export function parseLink(link: string): { name: string; alias: string } {
  const [name, alias, extra] = link.split(':');
  const target = (name ?? '').replace(/^\//, '');
  if (!target || extra !== undefined) throw invalid(`invalid link format: ${link}`);
  return { name: target, alias: (alias || target).replace(/^\//, '') };
}
