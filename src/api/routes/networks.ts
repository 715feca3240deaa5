import { invalid, notFound } from '../../common/errors';
import type { Router } from '../router';
import { checkFilterKeys, queryFilters, readJSONBody, sendJSON } from '../respond';
import type { ContainerManager } from '../../container/manager';
import type { NetworkCreateBody, NetworkManager } from '../../network/manager';
import type { EndpointRequest, NetworkRecord } from '../../network/model';

export interface NetworkRouteDeps {
  network: NetworkManager;
  containers: ContainerManager;
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
        IPv6Address: '',
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
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.Options,
    Labels: n.Labels,
  };
}

function labelMatches(n: NetworkRecord, filters: string[]): boolean {
  return filters.every((f) => {
    const i = f.indexOf('=');
    if (i < 0) return f in n.Labels;
    return n.Labels[f.slice(0, i)] === f.slice(i + 1);
  });
}

export function registerNetworkRoutes(router: Router, d: NetworkRouteDeps): void {
  const m = d.network;
  /** networks that containers name, running or not: a network they need is not removed */
  const usedBy = (networkId: string): string[] =>
    d.containers.store
      .all()
      .filter((c) => {
        const mode = c.HostConfig.NetworkMode ?? 'bridge';
        const names = Object.keys(c.EndpointsConfig ?? { [mode]: {} });
        return names.some((k) => m.find(k)?.Id === networkId);
      })
      .map((c) => c.ID);

  router.add('GET', '/networks', ({ res, query }) => {
    const filters = queryFilters(query);
    checkFilterKeys(filters, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    let list = m.list();
    const f = (k: string) => filters.get(k);
    if (f('driver')) list = list.filter((n) => f('driver')!.includes(n.Driver));
    if (f('id')) list = list.filter((n) => f('id')!.some((v) => n.Id.startsWith(v)));
    if (f('name')) list = list.filter((n) => f('name')!.some((v) => n.Name.includes(v)));
    if (f('label')) list = list.filter((n) => labelMatches(n, f('label')!));
    if (f('scope')) list = list.filter((n) => f('scope')!.includes(n.Scope));
    if (f('type')) {
      for (const t of f('type')!) if (t !== 'custom' && t !== 'builtin') throw invalid(`invalid filter: 'type'='${t}'`);
      list = list.filter((n) => f('type')!.includes(n.builtin ? 'builtin' : 'custom'));
    }
    if (f('dangling')) {
      const want = ['true', '1'].includes(f('dangling')![0]);
      list = list.filter((n) => !n.builtin && (usedBy(n.Id).length === 0) === want);
    }
    list.sort((a, b) => a.Name.localeCompare(b.Name));
    sendJSON(res, 200, list.map((n) => networkJSON(n, m, false)));
  });

  router.add('GET', '/networks/:id', ({ res, params }) => {
    sendJSON(res, 200, networkJSON(m.get(params.id), m, true));
  });

  router.add('POST', '/networks/create', async ({ req, res }) => {
    const body = await readJSONBody<NetworkCreateBody>(req);
    sendJSON(res, 201, await m.create(body));
  });

  router.add('DELETE', '/networks/:id', async ({ res, params }) => {
    await m.remove(params.id, usedBy);
    res.writeHead(204);
    res.end();
  });

  router.add('POST', '/networks/:id/connect', async ({ req, res, params }) => {
    const body = await readJSONBody<{ Container?: string; EndpointConfig?: EndpointRequest | null }>(req);
    if (!body.Container) throw invalid('container is required');
    const n = m.get(params.id);
    if (!d.containers.store.find(body.Container)) throw notFound(`No such container: ${body.Container}`);
    const cfg = body.EndpointConfig ?? {};
    await d.containers.connectNetwork(body.Container, n.Name, {
      Aliases: cfg.Aliases ?? undefined,
      IPAMConfig: cfg.IPAMConfig?.IPv4Address ? { IPv4Address: cfg.IPAMConfig.IPv4Address } : undefined,
    });
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });

  router.add('POST', '/networks/:id/disconnect', async ({ req, res, params }) => {
    const body = await readJSONBody<{ Container?: string; Force?: boolean }>(req);
    if (!body.Container) throw invalid('container is required');
    const n = m.get(params.id);
    if (!d.containers.store.find(body.Container)) throw notFound(`No such container: ${body.Container}`);
    await d.containers.disconnectNetwork(body.Container, n.Name, body.Force === true);
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  });

  router.add('POST', '/networks/prune', async ({ res, query }) => {
    const filters = queryFilters(query);
    checkFilterKeys(filters, ['until', 'label', 'label!']);
    const until = filters.get('until')?.[0];
    const cutoff = until ? (/^\d+$/.test(until) ? Number(until) * 1000 : Date.parse(until)) : Infinity;
    const deleted: string[] = [];
    for (const n of m.list()) {
      if (n.builtin || usedBy(n.Id).length || m.endpointsOn(n.Id).length) continue;
      if (Date.parse(n.Created) >= cutoff) continue;
      if (filters.get('label') && !labelMatches(n, filters.get('label')!)) continue;
      if (filters.get('label!') && labelMatches(n, filters.get('label!')!)) continue;
      await m.remove(n.Id, usedBy).then(() => deleted.push(n.Name), () => undefined);
    }
    sendJSON(res, 200, { NetworksDeleted: deleted });
  });
}
