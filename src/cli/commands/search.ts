/** `berth search`: GET /images/search, with the credentials of the registry the term names. */
import type { CommandSpec } from '../command';
import { validateFilter, filtersJson } from '../command';
import { parseInt64 } from '../flags';
import { prepareFormat, renderList, templateFailure } from '../format/render';
import { SearchContext, SearchResult, searchListFormat, searchRows } from '../format/search';
import { authHeaderFor, INDEX_SERVER } from '../credentials';

/**
 * The registry a search term is for: "host/term" when the first part looks like
 * a host (has a dot or a colon, or is localhost), else Docker Hub.
 */
export function searchRegistry(term: string): string {
  const slash = term.indexOf('/');
  if (slash < 0) return INDEX_SERVER;
  const first = term.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return INDEX_SERVER;
  return first === 'docker.io' || first === 'index.docker.io' ? INDEX_SERVER : first;
}

export const search: CommandSpec = {
  usage: '[OPTIONS] TERM',
  summary: 'Search Docker Hub for images',
  args: { min: 1, max: 1 },
  flags: [
    { name: 'filter', short: 'f', type: 'filter', help: 'Filter output based on conditions provided', parse: validateFilter },
    { name: 'format', type: 'string', help: 'Pretty-print search using a Go template', default: '' },
    { name: 'limit', type: 'int', help: 'Max number of search results', default: 0, parse: (v) => parseInt64(v) },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
  ],
  async run(ctx, p) {
    const term = p.args[0];
    const filters = p.values.filter as string[];
    if (filters.some((f) => f.slice(0, f.indexOf('=')).trim().toLowerCase() === 'is-automated')) {
      ctx.err('WARNING: the "is-automated" filter is deprecated, and searching for "is-automated=true" will not yield any results in future.\n');
    }
    const prepared = prepareFormat(p.values.format as string, searchListFormat);
    try {
      prepared.template.execute(new SearchContext({ name: '' }, true));
    } catch (e) {
      throw templateFailure(e);
    }
    const limit = p.values.limit as number;
    const results = await ctx.client().call<SearchResult[] | null>('GET', '/images/search', {
      query: { term, limit: limit > 0 ? limit : undefined, filters: filtersJson(filters) },
      headers: { 'X-Registry-Auth': authHeaderFor(ctx, searchRegistry(term)) },
    });
    const rows = searchRows(results ?? [], { trunc: !(p.values['no-trunc'] as boolean) });
    ctx.out(renderList(prepared, rows, searchListFormat));
    return 0;
  },
};
