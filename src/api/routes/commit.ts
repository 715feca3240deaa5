import type { ContainerConfig } from '../types';
import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryBool, readJSONBody, sendJSON } from '../respond';
import type { ContainerSnapshots } from '../../archive/container-snapshot';
import { familiarName, parseReference } from '../../image/reference';
import type { ContainerManager } from '../../container/manager';

export interface CommitRouteDeps {
  snapshots: ContainerSnapshots;
  containers: ContainerManager;
}

/** `docker commit`, `docker diff` and `docker export`: a container's filesystem going out. */
export function registerCommitRoutes(router: Router, d: CommitRouteDeps): void {
  router.add('GET', '/containers/:id/changes', async ({ res, params }) => {
    const list = await d.snapshots.changes(params.id);
    sendJSON(res, 200, list.length ? list : null);
  });

  router.add('GET', '/containers/:id/export', async ({ res, params }) => {
    const { tar, close } = await d.snapshots.openExport(params.id);
    try {
      d.containers.publishEvent(d.containers.get(params.id), 'export');
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await new Promise<void>((resolve, reject) => {
        tar.on('error', reject);
        res.on('close', () => resolve());
        tar.pipe(res);
      });
    } finally {
      await close();
    }
  });

  router.add('POST', '/commit', async ({ req, res, query }) => {
    const container = query.get('container');
    if (!container) throw invalid('container is required');
    const repo = query.get('repo') ?? '';
    const tag = query.get('tag') ?? '';
    let target: string | undefined;
    if (repo) {
      const ref = parseReference(repo);
      target = `${familiarName(ref)}:${tag || ref.tag || 'latest'}`;
    }
    const config = await readJSONBody<ContainerConfig>(req);
    const { imageId, rec } = await d.snapshots.commit(container, {
      target,
      config,
      changes: query.getAll('changes').flatMap((c) => c.split('\n')),
      author: query.get('author') || undefined,
      comment: query.get('comment') || undefined,
      pause: queryBool(query, 'pause', true),
    });
    d.containers.publishEvent(rec, 'commit', { comment: query.get('comment') ?? '', imageID: imageId, imageRef: target ?? '' });
    sendJSON(res, 201, { Id: imageId });
  });
}
