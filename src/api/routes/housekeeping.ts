import type { Router } from '../router';
import { checkFilterKeys, queryFilters, sendJSON } from '../respond';
import type { ContainerManager } from '../../container/manager';
import { containerSummary } from '../../container/present';
import type { ContainerRecord } from '../../container/model';
import type { ImageStore } from '../../image/store';
import type { Snapshotter } from '../../layer/snapshotter';
import type { VolumeStore } from '../../volume/store';
import type { EventBus } from '../../daemon/events';
import { imageSummary } from './images';
import { volumeJSON } from './volumes';

/** Disk usage and the prunes of containers and images: `system df`, `container prune`, `image prune`. */
export interface HousekeepingDeps {
  containers: ContainerManager;
  images: ImageStore;
  volumes: VolumeStore;
  snapshotter: Snapshotter;
  events: EventBus;
}

/** `until=` (a timestamp or a Go duration before now) and `label=`/`label!=` filters. */
function prunePredicate(filters: Map<string, string[]>): (created: number, labels: Record<string, string>) => boolean {
  const until = filters.get('until')?.[0];
  let cutoff = Infinity;
  if (until) {
    const m = /^(\d+)(s|m|h)$/.exec(until);
    cutoff = m ? Date.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'] : /^\d+$/.test(until) ? Number(until) * 1000 : Date.parse(until);
  }
  const has = (labels: Record<string, string>, f: string) => {
    const i = f.indexOf('=');
    return i < 0 ? f in labels : labels[f.slice(0, i)] === f.slice(i + 1);
  };
  return (created, labels) =>
    created < cutoff && (filters.get('label') ?? []).every((f) => has(labels, f)) && !(filters.get('label!') ?? []).some((f) => has(labels, f));
}

export function registerHousekeepingRoutes(router: Router, d: HousekeepingDeps): void {
  const rwSize = (c: ContainerRecord) => d.snapshotter.usage(c.ID).catch(() => 0);

  router.add('POST', '/containers/prune', async ({ res, query }) => {
    const filters = queryFilters(query);
    checkFilterKeys(filters, ['until', 'label', 'label!']);
    const keep = prunePredicate(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of d.containers.store.all()) {
      if (c.State.Running || c.State.Paused || c.State.Restarting) continue;
      if (!keep(Date.parse(c.Created), c.Config.Labels ?? {})) continue;
      const size = await rwSize(c);
      await d.containers
        .remove(c.ID, { force: false, volumes: false })
        .then(() => {
          deleted.push(c.ID);
          reclaimed += size;
        })
        .catch(() => undefined);
    }
    d.events.publish('container', 'prune', '', { reclaimed: String(reclaimed) });
    sendJSON(res, 200, { ContainersDeleted: deleted, SpaceReclaimed: reclaimed });
  });

  router.add('POST', '/images/prune', async ({ res, query }) => {
    const filters = queryFilters(query);
    checkFilterKeys(filters, ['dangling', 'until', 'label', 'label!']);
    // dangling=true (the default) prunes untagged images only; dangling=false every unused one
    const danglingOnly = !['false', '0'].includes(filters.get('dangling')?.[0] ?? 'true');
    const keep = prunePredicate(filters);
    const used = new Set(d.containers.store.all().map((c) => c.Image));
    const out: { Untagged?: string; Deleted?: string }[] = [];
    let reclaimed = 0;
    for (const img of d.images.list()) {
      if (used.has(img.id)) continue;
      if (danglingOnly && img.repoTags.length > 0) continue;
      if (!keep(img.config.created ? Date.parse(img.config.created) : 0, img.config.config?.Labels ?? {})) continue;
      try {
        const items = await d.images.remove(img.id, { force: true, noPrune: false, users: () => [] });
        out.push(...items);
        if (items.some((i) => i.Deleted === img.id)) reclaimed += img.size;
      } catch {
        // shared with an image that stays, or gone meanwhile
      }
    }
    d.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    sendJSON(res, 200, { ImagesDeleted: out.length ? out : null, SpaceReclaimed: reclaimed });
  });

  router.add('GET', '/system/df', async ({ res }) => {
    const all = d.containers.store.all();
    const usersOf = (id: string) => all.filter((c) => c.Image === id).length;
    const images = d.images.list();
    const containers = [];
    for (const c of all) {
      const rw = await rwSize(c);
      const img = d.images.resolve(c.Image);
      containers.push(containerSummary(c, { rw, rootFs: rw + (img?.size ?? 0) }, d.containers.networkView, (n) => d.volumes.dataDir(n)));
    }
    const volumes = [];
    for (const v of d.volumes.list()) {
      volumes.push(volumeJSON(v, d.volumes, { Size: await d.volumes.size(v.Name), RefCount: d.containers.volumeUsers(v.Name).length }));
    }
    sendJSON(res, 200, {
      LayersSize: d.images.layersSize(),
      Images: images.map((i) => ({ ...imageSummary(i, usersOf(i.id)), SharedSize: d.images.sharedSize(i) })),
      Containers: containers,
      Volumes: volumes,
      BuildCache: [],
    });
  });
}
