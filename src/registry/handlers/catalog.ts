import { listRepositories } from '../store/repository';
import { Ctx, nextLink, paginate, sendJSON } from './base';

/** GET /v2/_catalog[?n=&last=]: every repository name, paged like tags. */
export async function catalog(c: Ctx): Promise<void> {
  const { page, more, n } = paginate(await listRepositories(c.app.driver), c.url);
  const headers: Record<string, string> = {};
  if (more && n !== undefined) headers.Link = nextLink('/v2/_catalog', n, page[page.length - 1]);
  sendJSON(c, 200, { repositories: page }, headers);
}
