import type { Router } from '../router';
import { acceptFilters, regexMatch } from '../../common/filters';
import { invalid } from '../../common/errors';
import { queryBool, queryFilters, readJSONBody, sendJSON, sendNoContent } from '../respond';
import { decompressBody } from '../decompress';
import type { EventBus } from '../../daemon/events';
import { parseInterfaceType, pluginPrivileges } from '../../plugin/config';
import type { PluginRecord, PluginStore } from '../../plugin/store';

export interface PluginRouteDeps {
  plugins: PluginStore;
  events: EventBus;
}

/** dockerd takes `enabled`; the API reference documents `enable`: both are read. */
const PLUGIN_LIST_FILTERS = ['capability', 'enabled', 'enable'] as const;

function enabledWanted(filters: Map<string, string[]>): boolean | undefined {
  for (const key of ['enabled', 'enable']) {
    const values = filters.get(key);
    if (!values) continue;
    if (values.length === 1 && values[0] === 'true') return true;
    if (values.length === 1 && values[0] === 'false') return false;
    throw invalid(`invalid filter '${key}=${values.join(',')}'`);
  }
  return undefined;
}

function publish(d: PluginRouteDeps, p: PluginRecord, action: string): void {
  d.events.publish('plugin', action, p.Id, { name: p.Name });
}

export function registerPluginRoutes(router: Router, d: PluginRouteDeps): void {
  const store = d.plugins;

  router.add('GET', '/plugins', ({ res, query }) => {
    const filters = queryFilters(query);
    acceptFilters(filters, PLUGIN_LIST_FILTERS);
    const enabled = enabledWanted(filters);
    const list = store.list().filter((p) => {
      if (enabled !== undefined && p.Enabled !== enabled) return false;
      // as dockerd: every interface type the plugin has must match the capability filter
      return (p.Config.Interface.Types ?? []).every((t) => regexMatch(filters, 'capability', parseInterfaceType(t).Capability));
    });
    sendJSON(res, 200, list);
  });

  // The privileges a plugin asks for, from its config. berthd does not fetch plugins from a
  // registry: a plugin it has installed under that name answers from its config; any other
  // name gets an empty list, which is what dockerd answers whenever the fetch fails.
  router.add('GET', '/plugins/privileges', ({ res, query }) => {
    const remote = query.get('remote');
    if (!remote) throw invalid('remote is required');
    const installed = store.find(remote);
    sendJSON(res, 200, installed ? pluginPrivileges(installed.Config) : []);
  });

  router.add('POST', '/plugins/create', async ({ req, res, query }) => {
    const name = query.get('name');
    if (!name) throw invalid('name is required');
    const p = await store.create(name, decompressBody(req));
    publish(d, p, 'create');
    sendNoContent(res);
  });

  router.add('GET', '/plugins/:name*/json', ({ res, params }) => {
    sendJSON(res, 200, store.get(params.name));
  });

  router.add('POST', '/plugins/:name*/enable', async ({ res, params }) => {
    publish(d, await store.enable(params.name), 'enable');
    res.writeHead(200);
    res.end();
  });

  router.add('POST', '/plugins/:name*/disable', async ({ res, params }) => {
    publish(d, await store.disable(params.name), 'disable');
    res.writeHead(200);
    res.end();
  });

  router.add('POST', '/plugins/:name*/set', async ({ req, res, params }) => {
    const args = await readJSONBody<string[] | Record<string, never>>(req);
    await store.set(params.name, Array.isArray(args) ? args : []);
    sendNoContent(res);
  });

  router.add('DELETE', '/plugins/:name*', async ({ res, params, query }) => {
    const p = await store.remove(params.name, queryBool(query, 'force'));
    publish(d, p, 'remove');
    sendJSON(res, 200, p);
  });
}
