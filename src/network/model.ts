import type { CniResult } from './cni';

/** A network as berthd keeps it; its JSON is close to the API's, which present.ts completes. */
export interface NetworkRecord {
  Id: string;
  Name: string;
  Created: string;
  Driver: 'bridge' | 'host' | 'null' | 'overlay';
  /** swarm: an overlay network, defined by the cluster, here while tasks of this node use it */
  Scope: 'local' | 'swarm';
  Internal: boolean;
  Attachable: boolean;
  /** the swarm's ingress network (a cluster overlay as the API lists it) */
  Ingress?: boolean;
  EnableIPv6: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  IPAM: {
    Driver: string;
    Options: Record<string, string> | null;
    Config: { Subnet: string; Gateway: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }[];
  };
  /** the Linux bridge of a bridge network: berth0 for the default one, br-<id12> for others */
  bridge?: string;
  /** bridge, host and none: made by the daemon, never removed */
  builtin?: boolean;
  /** an overlay's VXLAN network identifier, the same on every node */
  vni?: number;
}

/** What a container asked for on one network (NetworkingConfig.EndpointsConfig, network connect). */
export interface EndpointRequest {
  Aliases?: string[];
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] };
  /** `container:alias` (or `container`): on a user-defined network, alias resolves to container for this one only */
  Links?: string[];
  /** kept and shown as sent: the bridge driver has no endpoint options of its own */
  DriverOpts?: Record<string, string>;
  MacAddress?: string;
}

/** A container's interface on one network while its sandbox exists. */
export interface Endpoint {
  networkId: string;
  endpointId: string;
  ifName: string;
  ipAddress: string;
  prefixLen: number;
  gateway: string;
  /** on an IPv6 network: the endpoint's IPv6 address, its prefix and gateway */
  ipv6Address?: string;
  ipv6PrefixLen?: number;
  ipv6Gateway?: string;
  mac: string;
  aliases: string[];
  /** `container:alias` links this endpoint's DNS answers for its own container only */
  links?: string[];
  /** the CNI result of ADD, handed back to DEL */
  result: CniResult;
}

/** A published port as it was allocated. */
export interface PortMapping {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** The network state of a container: its namespace, endpoints and ports, while it runs. */
export interface SandboxState {
  netns: string;
  endpoints: Endpoint[];
  ports: PortMapping[];
}
