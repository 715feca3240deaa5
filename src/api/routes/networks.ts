import { invalid, notFound, unavailable } from '../../common/errors';
import type { Router } from '../router';
import { acceptFilters, ACCEPTED_FILTERS, filterBool, labelsMatch, pruneLabelsMatch, untilFilter } from '../../common/filters';
import { queryFilters, readJSONBody, sendJSON } from '../respond';
import type { ContainerManager } from '../../container/manager';
import type { NetworkCreateBody, NetworkManager } from '../../network/manager';
import type { NetworkRecord } from '../../network/model';
import { endpointRequest, type EndpointSettingsBody } from '../../network/endpoint-request';
import type { ClusterNetwork } from '../../swarm/cluster/model';
import { findNetwork, overlayJSON, type OverlayCreateBody } from '../../swarm/cluster/networks';

/** The swarm's overlay networks, where this node is a manager (src/swarm/swarm.ts). */
export interface SwarmNetworks {
  readonly local: { role: 'worker' | 'manager' } | undefined;
  /** a locked manager (autolock) knows no overlays until unlocked */
  readonly locked: boolean;
  networks(): Promise<ClusterNetwork[]>;
  createNetwork(body: OverlayCreateBody, localSubnets: string[], localNames: string[]): Promise<{ Id: string; Warning: string }>;
  removeNetwork(ref: string): Promise<void>;
}

export interface NetworkRouteDeps {
  network: NetworkManager;
  containers: ContainerManager;
  /** the swarm, once the daemon has opened it */
  swarm: () => SwarmNetworks | undefined;
}

/** The API's Network object; `Containers` lists the endpoints of running containers. */
export function networkJSON(n: NetworkRecord, m: NetworkManager, withContainers: boolean): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  if (withContainers) {
    for (const e of m.endpointsOn(n.Id)) {
      containers[e.containerId] = {
        Name: e.name,
        EndpointID: e.endpoint.endpointId,
        MacAddress: e.endpoint.mac,
        IPv4Address: `${e.endpoint.ipAddress}/${e.endpoint.prefixLen}`,
        IPv6Address: e.endpoint.ipv6Address ? `${e.endpoint.ipv6Address}/${e.endpoint.ipv6PrefixLen}` : '',
      };
    }
  }
  return {
    Name: n.Name,
    Id: n.Id,
    Created: n.Created,
    Scope: n.Scope,
    Driver: n.Driver,
    EnableIPv4: true,
    EnableIPv6: n.EnableIPv6,
    IPAM: n.IPAM,
    Internal: n.Internal,
    Attachable: n.Attachable,
    Ingress: n.Ingress === true,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.Options,
    Labels: n.Labels,
  };
}

export function registerNetworkRoutes(router: Router, d: NetworkRouteDeps): void {
  const m = d.network;
  /** networks that containers name, running or not: a network they need is not removed */
  const usedBy = (networkId: string): string[] =>
    d.containers.list()
      .filter((c) => {
        const mode = c.HostConfig.NetworkMode ?? 'bridge';
        const names = Object.keys(c.EndpointsConfig ?? { [mode]: {} });
        return names.some((k) => m.find(k)?.Id === networkId);
      })
      .map((c) => c.ID);

  /** A manager's view of the cluster's overlays; none elsewhere. */
  const clusterNetworks = async (): Promise<ClusterNetwork[]> => {
    const swarm = d.swarm();
    return swarm?.local?.role === 'manager' && !swarm.locked ? swarm.networks() : [];
  };
  /** A cluster overlay as a record (its API JSON has the same fields), for the list's filters. */
  const asRecord = (n: ClusterNetwork): NetworkRecord => overlayJSON(n) as unknown as NetworkRecord;

  router.add('GET', '/networks', async ({ res, query }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.networkList);
    const cluster = await clusterNetworks();
    const clusterIds = new Set(cluster.map((n) => n.ID));
    const isManager = d.swarm()?.local?.role === 'manager' && !d.swarm()?.locked;
    // a manager lists the cluster's overlays; a removed one's local copy lingers only until its last task has stopped
    const local = m.list().filter((n) => n.Scope !== 'swarm' || !isManager || clusterIds.has(n.Id));
    const localIds = new Set(local.map((n) => n.Id));
    let list = [...local, ...cluster.filter((n) => !localIds.has(n.ID)).map(asRecord)];
    const f = (k: string) => filters.get(k);
    if (f('driver')) list = list.filter((n) => f('driver')!.includes(n.Driver));
    if (f('id')) list = list.filter((n) => f('id')!.some((v) => n.Id.startsWith(v)));
    if (f('name')) list = list.filter((n) => f('name')!.some((v) => n.Name.includes(v)));
    if (f('label')) list = list.filter((n) => labelsMatch(n.Labels, f('label')));
    if (f('scope')) list = list.filter((n) => f('scope')!.includes(n.Scope));
    if (f('type')) {
      for (const t of f('type')!) if (t !== 'custom' && t !== 'builtin') throw invalid(`invalid filter: 'type'='${t}'`);
      list = list.filter((n) => f('type')!.includes(n.builtin ? 'builtin' : 'custom'));
    }
    if (f('dangling')) {
      const want = filterBool(filters, 'dangling', false);
      list = list.filter((n) => !n.builtin && (usedBy(n.Id).length === 0) === want);
    }
    list.sort((a, b) => a.Name.localeCompare(b.Name));
    sendJSON(res, 200, list.map((n) => networkJSON(n, m, false)));
  });

  router.add('GET', '/networks/:id', async ({ res, params, query }) => {
    // ?scope= narrows the search to networks of that scope (local, swarm), as in Docker
    const scope = query.get('scope') || undefined;
    const local = m.find(params.id);
    if (local && (!scope || local.Scope === scope)) return sendJSON(res, 200, networkJSON(local, m, true));
    const net = scope && scope !== 'swarm' ? undefined : findNetwork({ networks: await clusterNetworks() } as Parameters<typeof findNetwork>[0], params.id);
    if (!net) throw notFound(`network ${params.id} not found`);
    sendJSON(res, 200, overlayJSON(net));
  });

  router.add('POST', '/networks/create', async ({ req, res }) => {
    const body = await readJSONBody<NetworkCreateBody>(req);
    if (body.Driver === 'overlay') {
      const swarm = d.swarm();
      if (!swarm?.local) throw unavailable('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
      const local = m.list().filter((n) => n.Scope === 'local');
      return sendJSON(res, 201, await swarm.createNetwork(body, local.flatMap((n) => n.IPAM.Config.map((c) => c.Subnet).filter((sub) => !sub.includes(':'))), local.map((n) => n.Name)));
    }
    sendJSON(res, 201, await m.create(body));
  });

  router.add('DELETE', '/networks/:id', async ({ res, params }) => {
    const local = m.find(params.id);
    if (local && local.Scope === 'local') await m.remove(params.id, usedBy);
    else {
      const swarm = d.swarm();
      if (!swarm?.local) throw notFound(`network ${params.id} not found`);
      await swarm.removeNetwork(local?.Id ?? params.id);
    }
    res.writeHead(204);
    res.end();
  });

  router.add('POST', '/networks/:id/connect', async ({ req, res, params }) => {
    const body = await readJSONBody<{ Container?: string; EndpointConfig?: EndpointSettingsBody | null }>(req);
    if (!body.Container) throw invalid('container is required');
    const n = m.get(params.id);
    if (!d.containers.find(body.Container)) throw notFound(`No such container: ${body.Container}`);
    await d.containers.connectNetwork(body.Container, n.Name, endpointRequest(body.EndpointConfig));
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });

  router.add('POST', '/networks/:id/disconnect', async ({ req, res, params }) => {
    const body = await readJSONBody<{ Container?: string; Force?: boolean }>(req);
    if (!body.Container) throw invalid('container is required');
    const n = m.get(params.id);
    if (!d.containers.find(body.Container)) throw notFound(`No such container: ${body.Container}`);
    // Force matters only for an endpoint whose container is gone, and berth keeps none such
    await d.containers.disconnectNetwork(body.Container, n.Name);
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });

  router.add('POST', '/networks/prune', async ({ res, query }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.networkPrune);
    const until = untilFilter(filters);
    const deleted: string[] = [];
    for (const n of m.list()) {
      // the swarm's overlays are the managers' to remove, not a prune's
      if (n.builtin || n.Scope === 'swarm' || usedBy(n.Id).length || m.endpointsOn(n.Id).length) continue;
      if (until !== undefined && Date.parse(n.Created) > until) continue;
      if (!pruneLabelsMatch(filters, n.Labels)) continue;
      await m.remove(n.Id, usedBy).then(() => deleted.push(n.Name), () => undefined);
    }
    sendJSON(res, 200, { NetworksDeleted: deleted });
  });
}
