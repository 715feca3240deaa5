import type { Router } from '../router';
import { acceptFilters, ACCEPTED_FILTERS, filterBool, pruneLabelsMatch, untilFilter, type FilterArgs } from '../../common/filters';
import { queryBool, queryFilters, queryInt, sendJSON } from '../respond';
import { invalid } from '../../common/errors';
import type { BuildCache, CacheRecordUsage } from '../../build/cache';
import type { ContainerManager } from '../../container/manager';
import { containerSummary } from '../../container/present';
import type { ContainerRecord } from '../../container/model';
import type { ImageStore } from '../../image/store';
import type { Snapshotter } from '../../layer/snapshotter';
import type { VolumeStore } from '../../volume/store';
import type { EventBus } from '../../daemon/events';
import { imageSummary } from './images';
import { volumeJSON } from './volumes';

/**
 * Disk usage and the prunes of containers, images and the build cache: `system df`,
 * `container prune`, `image prune`, `builder prune`.
 */
export interface HousekeepingDeps {
  containers: ContainerManager;
  images: ImageStore;
  volumes: VolumeStore;
  snapshotter: Snapshotter;
  events: EventBus;
  /** the builder's cache; by default the one opened on `images`, once the builder is */
  buildCache: BuildCache;
}

/** Docker's prune rule: created no later than `until`, and the label filters match. */
function prunePredicate(filters: FilterArgs): (created: number, labels: Record<string, string>) => boolean {
  const until = untilFilter(filters);
  return (created, labels) => (until === undefined || created <= until) && pruneLabelsMatch(filters, labels);
}

/**
 * Which build cache records a prune may take, from its filters: `until` (last used before),
 * `id`, `parent`, `type`, `description` (a part of it), `inuse`, `shared`, `private`. Build
 * cache records carry no labels: `label=` matches none of them, `label!=` all.
 */
function buildCachePredicate(filters: Map<string, string[]>): (r: CacheRecordUsage) => boolean {
  acceptFilters(filters, ACCEPTED_FILTERS.buildCachePrune);
  const until = untilFilter(filters) ?? untilFilter(filters, 'unused-for');
  const any = (key: string, test: (v: string) => boolean) => {
    const vs = filters.get(key);
    return !vs || vs.some(test);
  };
  const flag = (key: string, value: boolean) => any(key, (v) => !['false', '0'].includes(v.toLowerCase()) === value);
  return (r) =>
    (until === undefined || (Date.parse(r.lastUsedAt ?? r.createdAt) || 0) <= until) &&
    any('id', (v) => r.id.startsWith(v)) &&
    any('parent', (v) => r.parents.some((p) => p.startsWith(v))) &&
    any('type', (v) => v === 'regular') &&
    any('description', (v) => r.description.includes(v)) &&
    flag('inuse', r.inUse) &&
    flag('shared', r.shared) &&
    flag('private', !r.shared) &&
    !filters.get('label')?.length;
}

/** A build cache record as the Engine API shows it. */
function buildCacheJSON(r: CacheRecordUsage): Record<string, unknown> {
  return {
    ID: r.id,
    Parents: r.parents.length ? r.parents : null,
    Type: 'regular',
    Description: r.description,
    InUse: r.inUse,
    Shared: r.shared,
    Size: r.size,
    CreatedAt: r.createdAt,
    LastUsedAt: r.lastUsedAt ?? null,
    UsageCount: r.usageCount,
  };
}

export function registerHousekeepingRoutes(router: Router, d: HousekeepingDeps): void {
  const rwSize = (c: ContainerRecord) => d.snapshotter.usage(c.ID).catch(() => 0);

  router.add('POST', '/build/prune', async ({ res, query }) => {
    const match = buildCachePredicate(queryFilters(query));
    const bytes = (name: string) => {
      const n = queryInt(query, name) ?? 0;
      if (n < 0) throw invalid(`invalid value for ${name}: ${n}`);
      return n;
    };
    const r = await d.buildCache.prune({
      all: queryBool(query, 'all'),
      reservedSpace: query.has('reserved-space') ? bytes('reserved-space') : bytes('keep-storage'),
      maxUsedSpace: bytes('max-used-space'),
      minFreeSpace: bytes('min-free-space'),
      match,
    });
    sendJSON(res, 200, { CachesDeleted: r.deleted.length ? r.deleted : null, SpaceReclaimed: r.reclaimed });
  });

  router.add('POST', '/containers/prune', async ({ res, query }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.containerPrune);
    const keep = prunePredicate(filters);
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const c of d.containers.list()) {
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
    acceptFilters(filters, ACCEPTED_FILTERS.imagePrune);
    // dangling=true (the default) prunes untagged images only; dangling=false every unused one
    const danglingOnly = filterBool(filters, 'dangling', true);
    const keep = prunePredicate(filters);
    const used = new Set(d.containers.list().map((c) => c.Image));
    const out: { Untagged?: string; Deleted?: string }[] = [];
    let reclaimed = 0;
    // an image with children stays until they have gone: passes until one deletes nothing
    for (let progress = true; progress; ) {
      progress = false;
      for (const img of d.images.list()) {
        if (used.has(img.id)) continue;
        if (danglingOnly && img.repoTags.length > 0) continue;
        if (!keep(img.config.created ? Date.parse(img.config.created) : 0, img.config.config?.Labels ?? {})) continue;
        try {
          const items = await d.images.remove(img.id, { force: true, noPrune: false, users: () => [] });
          out.push(...items);
          if (items.some((i) => i.Deleted === img.id)) {
            reclaimed += img.size;
            progress = true;
          }
        } catch {
          // it has children that stay, or is shared with an image that stays, or gone meanwhile
        }
      }
    }
    d.events.publish('image', 'prune', '', { reclaimed: String(reclaimed) });
    sendJSON(res, 200, { ImagesDeleted: out.length ? out : null, SpaceReclaimed: reclaimed });
  });

  router.add('GET', '/system/df', async ({ res }) => {
    const cache = await d.buildCache.usage();
    const all = d.containers.list();
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
    // the layers only build cache records hold are the build cache's, not the images'
    const builderSize = cache.reduce((n, r) => (r.shared ? n : n + r.size), 0);
    sendJSON(res, 200, {
      LayersSize: Math.max(0, d.images.layersSize() - builderSize),
      Images: images.map((i) => ({ ...imageSummary(i, usersOf(i.id)), SharedSize: d.images.sharedSize(i) })),
      Containers: containers,
      Volumes: volumes,
      BuildCache: cache.map(buildCacheJSON),
      BuilderSize: builderSize,
    });
  });
}
