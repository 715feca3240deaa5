/**
 * The Engine API's /secrets and /configs: Docker's objects, on managers only. A secret is
 * shown without its data; a config with it.
 */
import { invalid } from '../../common/errors';
import type { Router } from '../router';
import { queryFilters, queryInt, readJSONBody, sendJSON } from '../respond';
import { acceptFilters, ACCEPTED_FILTERS } from '../../common/filters';
import type { Swarm } from '../../swarm/swarm';
import type { SwarmFileObject } from '../../swarm/cluster/model';
import { cluster } from '../../swarm/cluster/control';
import { createFile, filterFiles, getFile, removeFile, updateFile, type FileKind } from '../../swarm/cluster/files';

export function registerSwarmFileRoutes(router: Router, swarm: Swarm): void {
  for (const kind of ['secrets', 'configs'] as FileKind[]) {
    const present = (f: SwarmFileObject) =>
      kind === 'secrets' ? { ...f, Spec: { Name: f.Spec.Name, Labels: f.Spec.Labels ?? {}, ...(f.Spec.Templating ? { Templating: f.Spec.Templating } : {}) } } : f;

    router.add('GET', `/${kind}`, async ({ res, query }) => {
      const store = swarm.managerStore();
      const snap = await cluster(() => store.snapshot());
      const filters = queryFilters(query);
      acceptFilters(filters, ACCEPTED_FILTERS[kind]);
      const list = filterFiles(snap[kind], Object.fromEntries(filters));
      sendJSON(res, 200, list.sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name)).map(present));
    });

    router.add('POST', `/${kind}/create`, async ({ req, res }) => {
      const store = swarm.managerStore();
      const spec = await readJSONBody<SwarmFileObject['Spec']>(req);
      sendJSON(res, 201, await cluster(() => createFile(store, kind, spec ?? undefined)));
    });

    router.add('GET', `/${kind}/:id`, async ({ res, params }) => {
      const store = swarm.managerStore();
      const snap = await cluster(() => store.snapshot());
      sendJSON(res, 200, present(getFile(snap, kind, params.id)));
    });

    router.add('POST', `/${kind}/:id/update`, async ({ req, res, params, query }) => {
      const store = swarm.managerStore();
      const v = queryInt(query, 'version');
      if (v === undefined) throw invalid('invalid version: a version is required');
      const spec = await readJSONBody<SwarmFileObject['Spec']>(req);
      await cluster(() => updateFile(store, kind, params.id, v, spec ?? undefined));
      res.writeHead(200);
      res.end();
    });

    router.add('DELETE', `/${kind}/:id`, async ({ res, params }) => {
      const store = swarm.managerStore();
      await cluster(() => removeFile(store, kind, params.id));
      res.writeHead(204);
      res.end();
    });
  }
}
