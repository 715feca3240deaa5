/**
 * The rows of `berth search`, as docker's search formatter makes them: NAME,
 * DESCRIPTION (one line, cut to 45 columns unless --no-trunc), STARS and
 * OFFICIAL ("[OK]" or empty).
 */
import { ellipsis } from './strings';
import type { ListFormat } from './render';

/** GET /images/search items. */
export interface SearchResult {
  name: string;
  description?: string;
  star_count?: number;
  is_official?: boolean;
  is_automated?: boolean;
}

export const searchListFormat: ListFormat = {
  defaultTable: 'table {{.Name}}\\t{{.Description}}\\t{{.StarCount}}\\t{{.IsOfficial}}',
  headers: {
    Name: 'NAME',
    Description: 'DESCRIPTION',
    StarCount: 'STARS',
    IsOfficial: 'OFFICIAL',
    IsAutomated: 'AUTOMATED',
  },
};

/** Width of the DESCRIPTION column when output is truncated. */
export const DESCRIPTION_WIDTH = 45;

export class SearchContext {
  readonly templateTypeName = '*registry.searchContext';
  constructor(
    private readonly _r: SearchResult,
    private readonly _trunc: boolean,
  ) {}

  Name(): string {
    return this._r.name;
  }
  Description(): string {
    const desc = (this._r.description ?? '').replace(/[\r\n]/g, ' ');
    return this._trunc ? ellipsis(desc, DESCRIPTION_WIDTH) : desc;
  }
  StarCount(): string {
    return String(this._r.star_count ?? 0);
  }
  IsOfficial(): string {
    return this._r.is_official ? '[OK]' : '';
  }
  /** Deprecated in docker (always empty for Docker Hub now); kept for templates that use it. */
  IsAutomated(): string {
    return this._r.is_automated ? '[OK]' : '';
  }
  toJSON(): Record<string, string> {
    return {
      Description: this.Description(),
      IsAutomated: this.IsAutomated(),
      IsOfficial: this.IsOfficial(),
      Name: this.Name(),
      StarCount: this.StarCount(),
    };
  }
}

export function searchRows(results: readonly SearchResult[], opts: { trunc: boolean }): SearchContext[] {
  return results.map((r) => new SearchContext(r, opts.trunc));
}
