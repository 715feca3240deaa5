import { regErr } from '../errors';
import { Ctx, nextLink, paginate, repo, sendJSON } from './base';

/** GET /v2/<name>/tags/list[?n=&last=]: tags in ASCII order, paged with a Link header. */
export async function listTags(c: Ctx): Promise<void> {
  const r = repo(c);
  if (!(await r.exists())) throw regErr('NAME_UNKNOWN', undefined, { name: c.name });
  const { page, more, n } = paginate(await r.tags(), c.url);
  const headers: Record<string, string> = {};
  if (more && n !== undefined) headers.Link = nextLink(`/v2/${c.name}/tags/list`, n, page[page.length - 1]);
  sendJSON(c, 200, { name: c.name, tags: page }, headers);
}
