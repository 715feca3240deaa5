import { invalid } from '../common/errors';
import { parseReference, DEFAULT_DOMAIN } from '../image/reference';
import type { AuthConfig } from './auth';
import { readAll, RegistryClient, registryErrorText } from './client';
import { endpointsFor, type RegistrySettings } from './endpoint';

/** One row of GET /images/search, in the Engine API's shape. */
export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

/**
 * `docker search HOST/TERM`. Registries of the v2 API have no search endpoint, so the
 * catalog is read (following its pages) and repositories whose name contains the term are
 * listed, with the registry's host in front so that they can be pulled as shown.
 */
export async function searchRegistry(term: string, limit: number, auth: AuthConfig, settings: RegistrySettings): Promise<SearchResult[]> {
  if (!term) throw invalid('term is required');
  let domain = DEFAULT_DOMAIN;
  let query = term;
  const slash = term.indexOf('/');
  if (slash > 0) {
    const first = term.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      domain = first;
      query = term.slice(slash + 1);
      parseReference(`${domain}/x`); // the host must be a valid registry name
    }
  }
  const endpoint = endpointsFor(domain, settings, 'pull').at(-1)!;
  const client = new RegistryClient(endpoint, auth, ['registry:catalog:*']);
  const names: string[] = [];
  let next: string | undefined = '/v2/_catalog?n=1000';
  for (let pages = 0; next && pages < 100; pages++) {
    const res = await client.request('GET', next);
    if (res.status !== 200) throw invalid(`searching ${domain}: ${await registryErrorText(res)}`);
    const doc = JSON.parse((await readAll(res.body, 16 * 1024 * 1024)).toString('utf8')) as { repositories?: string[] };
    names.push(...(doc.repositories ?? []));
    const link = /<([^>]+)>;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
    next = link ? link[1] : undefined;
  }
  const q = query.toLowerCase();
  const prefix = domain === DEFAULT_DOMAIN ? '' : `${domain}/`;
  return names
    .filter((n) => n.toLowerCase().includes(q))
    .slice(0, limit)
    .map((n) => ({ name: `${prefix}${n}`, description: '', star_count: 0, is_official: false, is_automated: false }));
}
