import type { Resource } from '../app';
import { isValidName } from '../reference';

/**
 * The access model of Docker's token auth, which the registry uses whatever the auth scheme:
 * a request needs a set of accesses, each one action on one resource ("pull" on repository
 * "team/app", "*" on registry "catalog"); a client holds a grant, and the request proceeds
 * when the grant allows every access it needs. Scopes are the textual form of a resource with
 * its actions, `repository:team/app:pull,push`, used in challenges and token requests.
 */
export interface Access {
  /** "repository" or "registry". */
  type: string;
  name: string;
  /** "pull", "push", "delete" or "*". */
  action: string;
}

/** One resource and the actions asked for or granted on it: a scope, or a token's access entry. */
export interface ResourceActions {
  type: string;
  name: string;
  actions: string[];
}

/** What an authenticated client may do. */
export interface Grant {
  /** Who the client is ('' when anonymous). */
  subject: string;
  allows(a: Access): boolean;
}

/** The grant when the registry has no auth configured, or with htpasswd, where users may do everything. */
export const allowAll = (subject = ''): Grant => ({ subject, allows: () => true });

/** A grant holding exactly the listed accesses; a "*" action covers every action on its resource. */
export function grantOf(subject: string, entries: ResourceActions[]): Grant {
  return {
    subject,
    allows: (a) => entries.some((e) => e.type === a.type && e.name === a.name && (e.actions.includes(a.action) || e.actions.includes('*'))),
  };
}

/**
 * What a request needs, from its route and method. Same mapping as CNCF Distribution (reads
 * need pull, writes need pull and push, deletes need delete; the catalog needs "*" on
 * registry:catalog; /v2/ needs only a valid identity) except that all of an upload session
 * counts as pushing: checking or cancelling one's own upload should not need "delete".
 */
export function requiredAccess(resource: Resource, method: string, name: string): Access[] {
  const repo = (action: string): Access => ({ type: 'repository', name, action });
  switch (resource) {
    case 'base':
      return [];
    case 'catalog':
      return [{ type: 'registry', name: 'catalog', action: '*' }];
    case 'uploads':
    case 'upload':
      return [repo('pull'), repo('push')];
    default:
      if (method === 'GET' || method === 'HEAD') return [repo('pull')];
      if (method === 'DELETE') return [repo('delete')];
      return [repo('pull'), repo('push')];
  }
}

/**
 * What a request would like on top of what it needs: a cross-repository mount (POST with
 * ?mount=&from=) reads the source, so it wants pull there. Unlike Distribution, which
 * requires it, a client without it gets an ordinary upload session instead of a mount (the
 * spec's fallback); it is still named in challenges, so a client that follows them asks for it.
 */
export function wantedAccess(resource: Resource, method: string, params: URLSearchParams): Access[] {
  const from = params.get('from');
  if (resource !== 'uploads' || method !== 'POST' || !params.get('mount') || !from || !isValidName(from)) return [];
  return [{ type: 'repository', name: from, action: 'pull' }];
}

/** Groups accesses by resource, keeping first-seen order: [pull a, push a] → a:pull,push. */
export function groupAccess(accesses: Access[]): ResourceActions[] {
  const out: ResourceActions[] = [];
  for (const a of accesses) {
    let r = out.find((x) => x.type === a.type && x.name === a.name);
    if (!r) out.push((r = { type: a.type, name: a.name, actions: [] }));
    if (!r.actions.includes(a.action)) r.actions.push(a.action);
  }
  return out;
}

/** Scopes as text, separated by spaces: the scope parameter of challenges and token requests. */
export function formatScopes(resources: ResourceActions[]): string {
  return resources.map((r) => `${r.type}:${r.name}:${r.actions.join(',')}`).join(' ');
}

/** The scope text covering a list of accesses. */
export const formatScope = (accesses: Access[]) => formatScopes(groupAccess(accesses));

/**
 * Parses one scope, `type[(class)]:name:actions`. The name may itself hold colons (a registry
 * host with a port), so the type ends at the first colon and the actions start after the last.
 * Returns undefined for text that is not a scope.
 */
export function parseScope(scope: string): ResourceActions | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = /^([a-z0-9]+)(?:\([a-z0-9]+\))?$/.exec(scope.slice(0, first))?.[1];
  const name = scope.slice(first + 1, last);
  const actions = scope.slice(last + 1).split(',').filter((a) => a !== '');
  if (!type || !name) return undefined;
  return { type, name, actions: [...new Set(actions)] };
}
