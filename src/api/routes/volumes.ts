import type { Router } from '../router';
import { acceptFilters, ACCEPTED_FILTERS, filterBool, labelsMatch, pruneLabelsMatch } from '../../common/filters';
import { queryBool, queryFilters, readJSONBody, sendJSON } from '../respond';
import { compareVersions } from '../server';
import type { ContainerManager } from '../../container/manager';
import type { EventBus } from '../../daemon/events';
import type { VolumeCreateBody, VolumeRecord, VolumeStore } from '../../volume/store';

export interface VolumeRouteDeps {
  volumes: VolumeStore;
  containers: ContainerManager;
  events: EventBus;
}

/** The API's Volume object. */
export function volumeJSON(v: VolumeRecord, store: VolumeStore, usage?: { Size: number; RefCount: number }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    CreatedAt: v.CreatedAt,
    Driver: v.Driver,
    Labels: v.Labels,
    Mountpoint: store.dataDir(v.Name),
    Name: v.Name,
    Options: Object.keys(v.Options).length ? v.Options : null,
    Scope: 'local',
  };
  if (usage) out.UsageData = usage;
  return out;
}

export function registerVolumeRoutes(router: Router, d: VolumeRouteDeps): void {
  const store = d.volumes;
  const users = (name: string) => d.containers.volumeUsers(name);

  router.add('GET', '/volumes', ({ res, query }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.volumeList);
    let list = store.list();
    const f = (k: string) => filters.get(k);
    if (f('dangling')) {
      const want = filterBool(filters, 'dangling', false);
      list = list.filter((v) => (users(v.Name).length === 0) === want);
    }
    if (f('driver')) list = list.filter((v) => f('driver')!.includes(v.Driver));
    if (f('name')) list = list.filter((v) => f('name')!.some((n) => v.Name.includes(n)));
    if (f('label')) list = list.filter((v) => labelsMatch(v.Labels, f('label')));
    list.sort((a, b) => a.Name.localeCompare(b.Name));
    sendJSON(res, 200, { Volumes: list.map((v) => volumeJSON(v, store)), Warnings: [] });
  });

  router.add('POST', '/volumes/create', async ({ req, res }) => {
    const body = await readJSONBody<VolumeCreateBody>(req);
    const existed = body.Name ? store.find(body.Name) : undefined;
    const v = await store.create(body);
    if (!existed) d.events.publish('volume', 'create', v.Name, { driver: v.Driver });
    sendJSON(res, 201, volumeJSON(v, store));
  });

  router.add('GET', '/volumes/:name', ({ res, params }) => {
    sendJSON(res, 200, volumeJSON(store.get(params.name), store));
  });

  router.add('DELETE', '/volumes/:name', async ({ res, params, query }) => {
    const existed = store.find(params.name);
    await store.remove(params.name, { force: queryBool(query, 'force'), users: users(params.name) });
    if (existed) d.events.publish('volume', 'destroy', params.name, { driver: 'local' });
    res.writeHead(204);
    res.end();
  });

  router.add('POST', '/volumes/prune', async ({ res, query, apiVersion }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.volumePrune);
    // API 1.42 made prune keep named volumes unless asked for all; older clients get the old prune
    const all = compareVersions(apiVersion, '1.42') < 0 || filterBool(filters, 'all', false);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of store.list()) {
      if (!all && !v.anonymous) continue;
      if (users(v.Name).length) continue;
      if (!pruneLabelsMatch(filters, v.Labels)) continue;
      const size = await store.size(v.Name);
      await store.remove(v.Name, { force: false, users: [] });
      d.events.publish('volume', 'destroy', v.Name, { driver: 'local' });
      deleted.push(v.Name);
      reclaimed += size;
    }
    sendJSON(res, 200, { VolumesDeleted: deleted, SpaceReclaimed: reclaimed });
  });
}
