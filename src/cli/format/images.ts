/**
 * The rows and fields of `berth images`, as docker's image formatter makes them:
 * one row per repository:tag (and per digest with --digests), "<none>" where an
 * image has no name.
 */
import { humanDuration, humanSize } from '../../common/units';
import { truncateId } from './strings';
import { goTimeString } from './time';
import { parseImageRef, ReferenceError } from '../reference';
import type { ListFormat } from './render';

/** GET /images/json items, the fields the formatter reads. */
export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created?: number;
  Size?: number;
  SharedSize?: number;
  VirtualSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

export const imageHeaders: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
};

export function imageListFormat(digests: boolean): ListFormat {
  const cols = digests
    ? '{{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}'
    : '{{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}';
  return { defaultTable: `table ${cols}`, headers: imageHeaders };
}

export class ImageContext {
  readonly templateTypeName = '*formatter.imageContext';
  constructor(
    private readonly _i: ImageSummary,
    private readonly _repo: string,
    private readonly _tag: string,
    private readonly _digest: string,
    private readonly _trunc: boolean,
    private readonly _now: number = Date.now(),
  ) {}

  ID(): string {
    return this._trunc ? truncateId(this._i.Id) : this._i.Id;
  }
  Repository(): string {
    return this._repo;
  }
  Tag(): string {
    return this._tag;
  }
  Digest(): string {
    return this._digest;
  }
  CreatedSince(): string {
    return `${humanDuration(this._now - (this._i.Created ?? 0) * 1000)} ago`;
  }
  CreatedAt(): string {
    return goTimeString(new Date((this._i.Created ?? 0) * 1000));
  }
  Size(): string {
    return humanSize(this._i.Size ?? 0);
  }
  Containers(): string {
    const n = this._i.Containers ?? -1;
    return n === -1 ? 'N/A' : String(n);
  }
  VirtualSize(): string {
    return humanSize(this._i.VirtualSize ?? this._i.Size ?? 0, 4);
  }
  SharedSize(): string {
    const s = this._i.SharedSize ?? -1;
    return s === -1 ? 'N/A' : humanSize(s, 4);
  }
  UniqueSize(): string {
    const s = this._i.SharedSize ?? -1;
    const size = this._i.Size ?? 0;
    return s === -1 || size === -1 ? 'N/A' : humanSize(size - s, 4);
  }
  toJSON(): Record<string, string> {
    return {
      Containers: this.Containers(),
      CreatedAt: this.CreatedAt(),
      CreatedSince: this.CreatedSince(),
      Digest: this.Digest(),
      ID: this.ID(),
      Repository: this.Repository(),
      SharedSize: this.SharedSize(),
      Size: this.Size(),
      Tag: this.Tag(),
      UniqueSize: this.UniqueSize(),
      VirtualSize: this.VirtualSize(),
    };
  }
}

function familiarRepo(ref: string): { repo: string; tag?: string; digest?: string } | undefined {
  try {
    const r = parseImageRef(ref);
    return { repo: r.familiarName, tag: r.tag, digest: r.digest };
  } catch (e) {
    if (e instanceof ReferenceError) return undefined;
    throw e;
  }
}

/** Expands API image summaries into display rows (docker's rules for tags and digests). */
export function imageRows(images: readonly ImageSummary[], opts: { digests: boolean; trunc: boolean; now?: number }): ImageContext[] {
  const rows: ImageContext[] = [];
  const now = opts.now ?? Date.now();
  for (const img of images) {
    const tagsByRepo = new Map<string, string[]>();
    const digestsByRepo = new Map<string, string[]>();
    for (const t of img.RepoTags ?? []) {
      const r = familiarRepo(t);
      if (r?.tag) tagsByRepo.set(r.repo, [...(tagsByRepo.get(r.repo) ?? []), r.tag]);
    }
    for (const d of img.RepoDigests ?? []) {
      const r = familiarRepo(d);
      if (r?.digest) digestsByRepo.set(r.repo, [...(digestsByRepo.get(r.repo) ?? []), r.digest]);
    }
    for (const [repo, tags] of tagsByRepo) {
      const digests = opts.digests ? (digestsByRepo.get(repo) ?? []) : [];
      digestsByRepo.delete(repo);
      for (const tag of tags) {
        if (digests.length === 0) rows.push(new ImageContext(img, repo, tag, '<none>', opts.trunc, now));
        else for (const d of digests) rows.push(new ImageContext(img, repo, tag, d, opts.trunc, now));
      }
    }
    for (const [repo, digests] of digestsByRepo) {
      if (opts.digests) for (const d of digests) rows.push(new ImageContext(img, repo, '<none>', d, opts.trunc, now));
      else rows.push(new ImageContext(img, repo, '<none>', '', opts.trunc, now));
    }
    if (tagsByRepo.size === 0 && digestsByRepo.size === 0) {
      rows.push(new ImageContext(img, '<none>', '<none>', '<none>', opts.trunc, now));
    }
  }
  return rows;
}
