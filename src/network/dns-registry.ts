import { DnsServer } from './dns/server';

/**
 * One embedded DNS server per user-defined network, on its gateway address: it answers the
 * names of the containers on that network (container names, network aliases, short IDs)
 * and forwards other names to the daemon's resolvers (not for internal networks).
 */
export interface Member {
  id: string;
  name: string;
  aliases: string[];
  ip: string;
  /** `container:alias`: names only this member's own queries resolve */
  links?: string[];
}

export interface NetworkDnsOptions {
  upstreams: () => string[];
  members: (networkId: string) => Member[];
  log: (msg: string) => void;
}

export class NetworkDns {
  private readonly servers = new Map<string, DnsServer>();
  private turns = 0;

  constructor(private readonly o: NetworkDnsOptions) {}

  async start(networkId: string, address: string, forward: boolean): Promise<void> {
    if (this.servers.has(networkId)) return;
    const members = () => this.o.members(networkId);
    const server = await DnsServer.start({
      address,
      lookup: {
        resolve: (asked, clientIp) => {
          const all = members();
          const name = linkTarget(all.find((m) => m.ip === clientIp)?.links, asked) ?? asked;
          const out: string[] = [];
          for (const m of all) {
            const names = [m.name, m.id.slice(0, 12), ...m.aliases].map((x) => x.toLowerCase());
            if (names.includes(name)) out.push(m.ip);
          }
          // round robin: a name of several tasks or containers is answered in turns
          const turn = out.length > 1 ? this.turns++ % out.length : 0;
          return [...out.slice(turn), ...out.slice(0, turn)];
        },
        reverse: (ip) => members().find((m) => m.ip === ip)?.name,
      },
      upstreams: this.o.upstreams,
      forward,
      log: this.o.log,
    });
    this.servers.set(networkId, server);
  }

  async stop(networkId: string): Promise<void> {
    const s = this.servers.get(networkId);
    this.servers.delete(networkId);
    await s?.close();
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.servers.keys()]) await this.stop(id);
  }
}

/** The container a link of the asking container names by this alias (`container:alias`), if any. */
function linkTarget(links: string[] | undefined, asked: string): string | undefined {
  for (const link of links ?? []) {
    const [target, alias] = link.replace(/^\//, '').split(':');
    if ((alias || target).toLowerCase() === asked) return target.toLowerCase();
  }
  return undefined;
}
