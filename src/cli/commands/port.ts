/** `berth port` / `berth container port`: a container's published ports, from its inspect data. */
import type { CommandSpec } from '../command';
import { parseUint } from '../flags';
import { StatusError, errorMessage } from '../errors';
import { naturalCompare } from '../format/strings';

interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

/** Go's net.JoinHostPort: an IPv6 host goes in brackets. */
function joinHostPort(host: string, port: string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export const port: CommandSpec = {
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  summary: 'List port mappings or a specific mapping for the container',
  aliases: ['container port', 'port'],
  args: { min: 1, max: 2 },
  flags: [],
  async run(ctx, p) {
    const [container, wanted = ''] = p.args;
    const info = await ctx.client().call<{ NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null } | null }>(
      'GET',
      `/containers/${encodeURIComponent(container)}/json`,
    );
    const ports = info?.NetworkSettings?.Ports ?? {};
    const lines: string[] = [];
    if (wanted !== '') {
      const slash = wanted.indexOf('/');
      const num = slash >= 0 ? wanted.slice(0, slash) : wanted;
      const proto = (slash >= 0 ? wanted.slice(slash + 1) : '') || 'tcp';
      try {
        parseUint(num, 16);
      } catch (e) {
        throw new StatusError(`Error: invalid port (${num}): ${errorMessage(e)}`, 1);
      }
      const bindings = ports[`${num}/${proto}`];
      if (!bindings || bindings.length === 0) throw new StatusError(`Error: No public port '${wanted}' published for ${container}`, 1);
      for (const b of bindings) lines.push(joinHostPort(b.HostIp ?? '', b.HostPort ?? ''));
    } else {
      for (const [from, bindings] of Object.entries(ports)) {
        for (const b of bindings ?? []) lines.push(`${from} -> ${joinHostPort(b.HostIp ?? '', b.HostPort ?? '')}`);
      }
    }
    if (lines.length) ctx.out(lines.sort(naturalCompare).join('\n') + '\n');
    return 0;
  },
};
