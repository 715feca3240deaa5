import { decompressBody } from '../decompress';
import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { acceptFilters, ACCEPTED_FILTERS, filterBool, labelsMatch, untilFilter } from '../../common/filters';
import { queryBool, queryFilters, readBody, sendJSON } from '../respond';
import type { Image, ImageStore, ImageUsers } from '../../image/store';
import { importImage } from '../../image/import';
import { parseReference, familiarString, withDefaultTag, familiarName } from '../../image/reference';
import { isBuiltinReference, ensureBuiltinBusybox } from '../../image/builtin';
import type { EventBus } from '../../daemon/events';
import type { Distribution } from '../../distribution/service';
import { decodeRegistryAuth } from '../../distribution/auth';
import { ProgressReporter } from '../../distribution/progress';
import { JsonMessageStream } from './distribution';

export interface ImageRouteDeps {
  images: ImageStore;
  distribution: Distribution;
  users: ImageUsers;
  events: EventBus;
}

export function imageSummary(img: Image, containers: number): Record<string, unknown> {
  return {
    Id: img.id,
    ParentId: img.parent ?? '',
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Created: img.config.created ? Math.floor(Date.parse(img.config.created) / 1000) : 0,
    Size: img.size,
    SharedSize: -1,
    VirtualSize: img.size,
    Labels: img.config.config?.Labels ?? {},
    Containers: containers,
  };
}

export function imageInspect(img: Image, graph: Record<string, string>, driver: string): Record<string, unknown> {
  const c = img.config;
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: img.parent ?? '',
    Comment: c.comment ?? c.history?.[c.history.length - 1]?.comment ?? '',
    Created: c.created ?? '',
    // Docker dropped these at API 1.45, but clients of the Docker 20.10 era negotiate up and
    // then read them unguarded (docker-compose 1.29 takes ContainerConfig.Volumes on every
    // recreate, and fails with KeyError against a daemon that leaves it out); 20.10 always
    // sent them, an empty config where the image has none.
    Container: c.container ?? '',
    ContainerConfig: c.container_config ?? EMPTY_CONTAINER_CONFIG,
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: c.config ?? {},
    Architecture: c.architecture,
    Variant: c.variant,
    Os: c.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Name: driver, Data: graph },
    RootFS: { Type: 'layers', Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: img.lastTagTime ?? '0001-01-01T00:00:00Z' },
  };
}

/** A Go `container.Config` of zero values, as Docker prints one. */
const EMPTY_CONTAINER_CONFIG = {
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
  Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null,
  WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
};

export function registerImageRoutes(router: Router, d: ImageRouteDeps): void {
  const store = d.images;

  router.add('GET', '/images/json', ({ res, query }) => {
    const all = queryBool(query, 'all');
    const filters = queryFilters(query);
    acceptFilters(filters, ACCEPTED_FILTERS.imageList);
    let list = store.list();
    if (filters.has('dangling')) {
      const want = filterBool(filters, 'dangling', false);
      list = list.filter((i) => (i.repoTags.length === 0) === want);
    } else if (!all) {
      // hidden intermediate images come with the builder; every stored image is shown for now
    }
    const refs = filters.get('reference');
    if (refs) list = list.filter((i) => i.repoTags.some((t) => refs.some((r) => referenceMatches(r, t))));
    if (filters.has('label')) list = list.filter((i) => labelsMatch(i.config.config?.Labels, filters.get('label')));
    const until = untilFilter(filters);
    if (until !== undefined) list = list.filter((i) => created(i) <= until);
    const before = filters.get('before');
    if (before) {
      const t = created(store.get(before[0]));
      list = list.filter((i) => created(i) < t);
    }
    const since = filters.get('since');
    if (since) {
      const t = created(store.get(since[0]));
      list = list.filter((i) => created(i) > t);
    }
    list.sort((a, b) => created(b) - created(a));
    sendJSON(res, 200, list.map((i) => imageSummary(i, d.users(i.id).length)));
  });

  router.add('POST', '/images/create', async ({ req, res, query }) => {
    const fromSrc = query.get('fromSrc');
    const fromImage = query.get('fromImage');
    if (fromSrc !== null) {
      if (fromSrc !== '-') throw invalid('importing from a URL is not supported: give the archive as the request body');
      const repo = query.get('repo') ?? '';
      const tag = query.get('tag') ?? '';
      let target: string | undefined;
      if (repo) {
        const ref = parseReference(repo);
        target = tag ? `${familiarName(ref)}:${tag}` : familiarString(withDefaultTag(ref));
        parseReference(target);
      }
      const id = await importImage(store, decompressBody(req), {
        changes: query.getAll('changes'),
        message: query.get('message') ?? '',
        tag: target,
      });
      d.events.publish('image', 'import', id, store.eventAttributes(id, id));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ status: id })}\r\n`);
      return;
    }
    if (fromImage) {
      const tag = query.get('tag');
      const ref = withDefaultTag(parseReference(tag && !fromImage.includes('@') ? `${fromImage.replace(/:[^/]*$/, '')}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : fromImage));
      await readBody(req).catch(() => undefined);
      const stream = new JsonMessageStream(res);
      if (isBuiltinReference(ref)) {
        const id = await ensureBuiltinBusybox(store);
        stream.send({ status: `Pulling from ${ref.path}`, id: ref.tag });
        stream.send({ status: `Digest: ${id}` });
        stream.send({ status: `Status: Image is up to date for ${familiarString(ref)}` });
        stream.finish();
        return;
      }
      const progress = new ProgressReporter(stream.send);
      try {
        const r = await d.distribution.pull(ref, decodeRegistryAuth(req.headers['x-registry-auth']), query.get('platform') || undefined, progress);
        progress.message(`Digest: ${r.digest}`);
        const shown = ref.digest ? `${familiarName(ref)}@${ref.digest}` : familiarString(ref);
        progress.message(`Status: ${r.updated ? 'Downloaded newer image' : 'Image is up to date'} for ${shown}`);
        d.events.publish('image', 'pull', shown, store.eventAttributes(shown, familiarName(ref)));
        stream.finish();
      } catch (e) {
        stream.finish(e);
      }
      return;
    }
    throw invalid('either fromSrc or fromImage must be given');
  });

  router.add('GET', '/images/:name*/json', async ({ res, params }) => {
    const img = store.get(params.name);
    sendJSON(res, 200, imageInspect(img, await graphOf(store, img), store.snapshotter.driver));
  });

  router.add('GET', '/images/:name*/history', ({ res, params }) => {
    const img = store.get(params.name);
    const hist = img.config.history ?? [];
    const sizes = store.layerSizes(img);
    let layer = 0;
    const out = hist
      .map((h, i) => ({
        Id: i === hist.length - 1 ? img.id : '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: i === hist.length - 1 ? img.repoTags : null,
        // entries that made no layer take no room; the others take their layer's size, in order
        Size: h.empty_layer ? 0 : sizes[layer++] ?? 0,
        Comment: h.comment ?? '',
      }))
      .reverse();
    sendJSON(res, 200, out);
  });

  router.add('POST', '/images/:name*/tag', async ({ res, params, query }) => {
    const repo = query.get('repo');
    if (!repo) throw invalid('repository name must have at least one component');
    const tag = query.get('tag');
    const target = tag ? `${repo}:${tag}` : repo;
    await store.tag(params.name, target);
    d.events.publish('image', 'tag', store.get(params.name).id, store.eventAttributes(params.name, familiarString(parseReference(target))));
    res.writeHead(201);
    res.end();
  });

  router.add('DELETE', '/images/:name*', async ({ res, params, query }) => {
    const id = store.get(params.name).id;
    const untagged = store.eventAttributes(id, id);
    const out = await store.remove(params.name, { force: queryBool(query, 'force'), noPrune: queryBool(query, 'noprune'), users: d.users });
    // as dockerd: both name the image by its ID (the untagged reference is in the answer)
    for (const item of out) {
      if (item.Untagged) d.events.publish('image', 'untag', id, untagged);
      // the answer's Deleted lists layers too; dockerd's delete events are for images only
      if (item.Deleted === id) d.events.publish('image', 'delete', item.Deleted, { name: item.Deleted });
    }
    sendJSON(res, 200, out);
  });
}

function created(i: Image): number {
  return i.config.created ? Date.parse(i.config.created) : 0;
}

/** `reference=busybox`, `reference=busy*:lat*` */
function referenceMatches(pattern: string, tag: string): boolean {
  const glob = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  // a colon before the last slash is a registry's port, not a tag
  if (pattern.lastIndexOf(':') < pattern.lastIndexOf('/') || !pattern.includes(':')) return glob(pattern).test(tag.slice(0, tag.lastIndexOf(':')));
  return glob(pattern).test(tag);
}

async function graphOf(store: ImageStore, img: Image): Promise<Record<string, string>> {
  const top = store.topSnapshot(img);
  if (!top) return {};
  const dir = await store.snapshotter.changesDir(top).catch(() => '');
  return store.snapshotter.driver === 'overlay2' ? { UpperDir: dir, MergedDir: '', WorkDir: '', LowerDir: '' } : { Dir: dir };
}
