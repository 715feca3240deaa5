import type { ContainerConfig, ImageConfigFile } from '../types';
import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryBool, readJSONBody, sendJSON } from '../respond';
import type { ContainerManager } from '../../container/manager';
import type { ImageStore } from '../../image/store';
import { chainIDs } from '../../image/store';
import { applyChanges } from '../../image/changes';
import { familiarName, parseReference } from '../../image/reference';
import { changes } from '../../layer/changes';
import { hideMountPoints, withoutMountPoints } from '../../container/mountpoints';
import { exportTar } from '../../layer/tar-export';
import { mountAll, unmount } from '../../layer/mount';
import type { EventBus } from '../../daemon/events';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface CommitRouteDeps {
  containers: ContainerManager;
  images: ImageStore;
  events: EventBus;
  /** where a stopped container's filesystem is mounted for export */
  tmpDir: string;
}

/** `docker commit`, `docker diff` and `docker export`: a container's filesystem going out. */
export function registerCommitRoutes(router: Router, d: CommitRouteDeps): void {
  const snap = d.images.snapshotter;

  router.add('GET', '/containers/:id/changes', async ({ res, params }) => {
    const rec = d.containers.store.get(params.id);
    const list = hideMountPoints(await changes(snap, rec.ID));
    sendJSON(res, 200, list.length ? list : null);
  });

  router.add('GET', '/containers/:id/export', async ({ res, params }) => {
    const rec = d.containers.store.get(params.id);
    // a running container's root is mounted already; a second overlay mount of the same
    // upper dir is not allowed, so only a stopped container's is mounted here
    const running = rec.State.Running;
    const dir = running ? path.join(d.containers.bundlePath(rec.ID), 'rootfs') : path.join(d.tmpDir, `export-${randomBytes(6).toString('hex')}`);
    if (!running) {
      await fsp.mkdir(dir, { recursive: true });
      await mountAll(await snap.mounts(rec.ID), dir);
    }
    try {
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      const tar = exportTar(dir);
      await new Promise<void>((resolve, reject) => {
        tar.on('error', reject);
        res.on('close', () => resolve());
        tar.pipe(res);
      });
    } finally {
      if (!running) {
        await unmount(dir).catch(() => undefined);
        await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }
    }
  });

  router.add('POST', '/commit', async ({ req, res, query }) => {
    const container = query.get('container');
    if (!container) throw invalid('container is required');
    const rec = d.containers.store.get(container);
    const repo = query.get('repo') ?? '';
    const tag = query.get('tag') ?? '';
    let target: string | undefined;
    if (repo) {
      const ref = parseReference(repo);
      target = `${familiarName(ref)}:${tag || ref.tag || 'latest'}`;
    }
    const body = await readJSONBody<ContainerConfig>(req);
    const base = d.images.resolve(rec.Image);
    if (!base) throw invalid(`the image of container ${rec.ID} is gone`);
    const pause = queryBool(query, 'pause', true) && rec.State.Running && !rec.State.Paused;
    if (pause) await d.containers.pause(rec.ID).catch(() => undefined);
    let layer;
    try {
      const parent = chainIDs(base.config.rootfs.diff_ids).pop();
      layer = await d.images.addLayer(withoutMountPoints(snap.diff(rec.ID)), parent);
    } finally {
      if (pause) await d.containers.unpause(rec.ID).catch(() => undefined);
    }
    const created = new Date().toISOString();
    const merged: ContainerConfig = { ...rec.Config, ...(Object.keys(body).length ? body : {}) };
    const config: ContainerConfig = applyChanges(merged, query.getAll('changes').flatMap((c) => c.split('\n')));
    delete config.Hostname;
    const image: ImageConfigFile = {
      architecture: base.config.architecture,
      os: base.config.os,
      created,
      author: query.get('author') || undefined,
      comment: query.get('comment') || undefined,
      config,
      container: rec.ID,
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffID] },
      history: [...(base.config.history ?? []), { created, created_by: [rec.Path, ...rec.Args].join(' '), author: query.get('author') || undefined, comment: query.get('comment') || undefined }],
    };
    const id = await d.images.addImage(JSON.parse(JSON.stringify(image)) as ImageConfigFile, target);
    d.events.publish('container', 'commit', rec.ID, { comment: query.get('comment') ?? '', imageID: id, imageRef: target ?? '' });
    sendJSON(res, 201, { Id: id });
  });
}
