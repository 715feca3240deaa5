import type { Router } from '../router';
import { readJSONBody, sendJSON } from '../respond';
import type { CheckpointCreateBody, Checkpoints } from '../../container/checkpoints';

/**
 * dockerd's checkpoint routes, which it serves only with --experimental (so does berthd):
 * POST/GET /containers/{id}/checkpoints, DELETE /containers/{id}/checkpoints/{name}.
 */
export function registerCheckpointRoutes(router: Router, checkpoints: Checkpoints): void {
  router.add('POST', '/containers/:id/checkpoints', async ({ req, res, params }) => {
    await checkpoints.create(params.id, await readJSONBody<CheckpointCreateBody>(req));
    res.writeHead(201);
    res.end();
  });
  router.add('GET', '/containers/:id/checkpoints', async ({ res, params, query }) => {
    sendJSON(res, 200, await checkpoints.list(params.id, query.get('dir') ?? undefined));
  });
  router.add('DELETE', '/containers/:id/checkpoints/:checkpoint', async ({ res, params, query }) => {
    await checkpoints.remove(params.id, params.checkpoint, query.get('dir') ?? undefined);
    res.writeHead(204);
    res.end();
  });
}
