/**
 * `berth system df` from GET /system/df, as docker's disk-usage formatter makes
 * it: one summary row per kind (Images, Containers, Local Volumes, Build Cache)
 * whose counts, sizes and reclaimable space the client computes from the lists
 * the daemon sends; with -v, a table per kind instead.
 */
import { humanDuration, humanSize } from '../../common/units';
import { parseImageRef, ReferenceError } from '../reference';
import { ContainerContext, ContainerSummary, containerHeaders } from './containers';
import { ImageContext, ImageSummary, imageHeaders } from './images';
import { VolumeContext, VolumeSummary, volumeHeaders } from './volumes';
import { goTimeStringFromRfc3339 } from './time';
import { truncateId } from './strings';
import { prepareFormat, renderList } from './render';
import type { ListFormat } from './render';

/** A build cache record of GET /system/df. */
export interface BuildCacheRecord {
  ID: string;
  Parent?: string | null;
  Parents?: string[] | null;
  Type?: string;
  Description?: string;
  InUse?: boolean;
  Shared?: boolean;
  Size?: number;
  CreatedAt?: string;
  LastUsedAt?: string | null;
  UsageCount?: number;
}

/** The body of GET /system/df. */
export interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: VolumeSummary[] | null;
  BuildCache?: BuildCacheRecord[] | null;
}

// ---------------------------------------------------------------- summary rows

export const diskUsageListFormat: ListFormat = {
  defaultTable: 'table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}',
  headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
};

/** The format for `system df` without -v: the table, "raw" as key: value lines, or the user's template. */
export function diskUsageFormat(format: string): string {
  if (format === '' || format === 'table') return 'table';
  if (format === 'raw') return 'type: {{.Type}}\\ntotal: {{.TotalCount}}\\nactive: {{.Active}}\\nsize: {{.Size}}\\nreclaimable: {{.Reclaimable}}\\n';
  return format;
}

/** "1.2GB (45%)": the share is Go's integer division, truncated toward zero. */
function withPercent(reclaimable: number, total: number): string {
  const size = humanSize(reclaimable, 4);
  if (total <= 0) return size;
  const pct = (BigInt(Math.trunc(reclaimable)) * 100n) / BigInt(Math.trunc(total));
  return `${size} (${pct}%)`;
}

/** One summary row; docker computes each column from the daemon's lists. */
export class DiskUsageRow {
  constructor(
    /** The Go type docker's row has, for template error messages. */
    readonly templateTypeName: string,
    private readonly _type: string,
    private readonly _total: number,
    private readonly _active: number,
    private readonly _size: number,
    private readonly _reclaimable: string,
  ) {}
  Type(): string {
    return this._type;
  }
  TotalCount(): string {
    return String(this._total);
  }
  Active(): string {
    return String(this._active);
  }
  Size(): string {
    return humanSize(this._size, 4);
  }
  Reclaimable(): string {
    return this._reclaimable;
  }
  toJSON(): Record<string, string> {
    return { Active: this.Active(), Reclaimable: this.Reclaimable(), Size: this.Size(), TotalCount: this.TotalCount(), Type: this.Type() };
  }
}

const activeStates = new Set(['running', 'paused', 'restarting']);

/** The size of the build cache docker reports: records not shared with others. */
export function builderSize(cache: readonly BuildCacheRecord[]): number {
  return cache.reduce((n, r) => (r.Shared ? n : n + (r.Size ?? 0)), 0);
}

/**
 * The four summary rows, with docker's arithmetic: images are active when a
 * container uses them and their unique size (Size - SharedSize) is what stays;
 * containers are active when running, paused or restarting; volumes when a
 * container refers to them (sizes of -1, not computed, are skipped); build cache
 * in use and not shared is what stays.
 */
export function diskUsageRows(du: DiskUsage): DiskUsageRow[] {
  const images = du.Images ?? [];
  const containers = du.Containers ?? [];
  const volumes = du.Volumes ?? [];
  const cache = du.BuildCache ?? [];

  const layers = du.LayersSize ?? 0;
  let imagesUsed = 0;
  for (const i of images) {
    const size = i.Size ?? 0;
    const shared = i.SharedSize ?? 0;
    if ((i.Containers ?? 0) !== 0 && size !== -1 && shared !== -1) imagesUsed += size - shared;
  }
  const imagesActive = images.filter((i) => (i.Containers ?? 0) > 0).length;

  let ctrSize = 0;
  let ctrReclaimable = 0;
  let ctrActive = 0;
  for (const c of containers) {
    const rw = c.SizeRw ?? 0;
    ctrSize += rw;
    if (activeStates.has(c.State ?? '')) ctrActive++;
    else ctrReclaimable += rw;
  }

  let volSize = 0;
  let volReclaimable = 0;
  let volActive = 0;
  for (const v of volumes) {
    const size = v.UsageData?.Size ?? -1;
    const refs = v.UsageData?.RefCount ?? 0;
    if (refs > 0) volActive++;
    if (size === -1) continue;
    volSize += size;
    if (refs === 0) volReclaimable += size;
  }

  const bsz = builderSize(cache);
  const cacheInUse = cache.reduce((n, r) => (r.InUse && !r.Shared ? n + (r.Size ?? 0) : n), 0);

  return [
    new DiskUsageRow('*formatter.diskUsageImagesContext', 'Images', images.length, imagesActive, layers, withPercent(layers - imagesUsed, layers)),
    new DiskUsageRow('*formatter.diskUsageContainersContext', 'Containers', containers.length, ctrActive, ctrSize, withPercent(ctrReclaimable, ctrSize)),
    new DiskUsageRow('*formatter.diskUsageVolumesContext', 'Local Volumes', volumes.length, volActive, volSize, withPercent(volReclaimable, volSize)),
    new DiskUsageRow('*formatter.diskUsageBuilderContext', 'Build Cache', cache.length, cache.filter((r) => r.InUse).length, bsz, humanSize(bsz - cacheInUse, 4)),
  ];
}

// ---------------------------------------------------------------- build cache rows

export const buildCacheHeaders: Record<string, string> = {
  ID: 'CACHE ID',
  Parent: 'PARENT',
  CacheType: 'CACHE TYPE',
  Size: 'SIZE',
  CreatedSince: 'CREATED',
  LastUsedSince: 'LAST USED',
  UsageCount: 'USAGE',
  InUse: 'IN USE',
  Shared: 'SHARED',
  Description: 'DESCRIPTION',
};

const sinceText = (now: number, t: string) => `${humanDuration(now - Date.parse(t))} ago`;

export class BuildCacheContext {
  readonly templateTypeName = '*formatter.buildCacheContext';
  constructor(
    private readonly _r: BuildCacheRecord,
    private readonly _trunc: boolean,
    private readonly _now: number = Date.now(),
  ) {}

  /** The ID, cut to 12 in tables, with "*" when the record is in use. */
  ID(): string {
    const id = this._trunc ? truncateId(this._r.ID) : this._r.ID;
    return this._r.InUse ? `${id}*` : id;
  }
  Parent(): string {
    const parent = this._r.Parents?.length ? this._r.Parents.join(', ') : (this._r.Parent ?? '');
    return this._trunc ? truncateId(parent) : parent;
  }
  CacheType(): string {
    return this._r.Type ?? '';
  }
  Description(): string {
    return this._r.Description ?? '';
  }
  Size(): string {
    return humanSize(this._r.Size ?? 0, 3);
  }
  CreatedAt(): string {
    return goTimeStringFromRfc3339(this._r.CreatedAt);
  }
  CreatedSince(): string {
    return sinceText(this._now, this._r.CreatedAt ?? '0001-01-01T00:00:00Z');
  }
  LastUsedAt(): string {
    return this._r.LastUsedAt ? goTimeStringFromRfc3339(this._r.LastUsedAt) : '';
  }
  LastUsedSince(): string {
    return this._r.LastUsedAt ? sinceText(this._now, this._r.LastUsedAt) : '';
  }
  UsageCount(): string {
    return String(this._r.UsageCount ?? 0);
  }
  InUse(): string {
    return String(!!this._r.InUse);
  }
  Shared(): string {
    return String(!!this._r.Shared);
  }
  toJSON(): Record<string, string> {
    return {
      CacheType: this.CacheType(),
      CreatedAt: this.CreatedAt(),
      CreatedSince: this.CreatedSince(),
      Description: this.Description(),
      ID: this.ID(),
      InUse: this.InUse(),
      LastUsedAt: this.LastUsedAt(),
      LastUsedSince: this.LastUsedSince(),
      Parent: this.Parent(),
      Shared: this.Shared(),
      Size: this.Size(),
      UsageCount: this.UsageCount(),
    };
  }
}

/** docker's order for build cache: never used first, then by last use, ties by ID. */
export function sortBuildCache(cache: readonly BuildCacheRecord[]): BuildCacheRecord[] {
  const byId = (a: BuildCacheRecord, b: BuildCacheRecord) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0);
  return [...cache].sort((a, b) => {
    if (!a.LastUsedAt || !b.LastUsedAt) return !a.LastUsedAt && !b.LastUsedAt ? byId(a, b) : a.LastUsedAt ? 1 : -1;
    return Date.parse(a.LastUsedAt) - Date.parse(b.LastUsedAt) || byId(a, b);
  });
}

// ---------------------------------------------------------------- verbose

/** docker's "raw" format for -v: a key: value block per image, container, volume and build cache record. */
export const verboseRawFormat =
  '{{range .Images}}type: Image\n' +
  'repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n' +
  '\n{{end -}}\n{{range .Containers}}type: Container\n' +
  'container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\n' +
  'status: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\nsize: {{.Size}}\\n' +
  '\n{{end -}}\n{{range .Volumes}}type: Volume\n' +
  'name: {{.Name}}\\ndriver: {{.Driver}}\\n' +
  '\n{{end -}}\n{{range .BuildCache}}type: Build Cache\n' +
  'build_cache_id: {{.ID}}\nparent_id: {{.Parent}}\nbuild_cache_type: {{.CacheType}}\ndescription: {{.Description}}\ncreated_at: {{.CreatedAt}}\n' +
  'created_since: {{.CreatedSince}}\nlast_used_at: {{.LastUsedAt}}\nlast_used_since: {{.LastUsedSince}}\nusage_count: {{.UsageCount}}\nin_use: {{.InUse}}\nshared: {{.Shared}}\n' +
  '\n{{end -}}';

/** What a -v template sees: `.Images`, `.Containers`, `.Volumes`, `.BuildCache`, each a list of row contexts. */
export class VerboseDiskUsage {
  readonly templateTypeName = '*formatter.diskUsageContext';
  constructor(
    readonly Images: ImageContext[],
    readonly Containers: ContainerContext[],
    readonly Volumes: VolumeContext[],
    readonly BuildCache: BuildCacheContext[],
  ) {}
  toJSON(): Record<string, unknown> {
    return { Images: this.Images, Containers: this.Containers, Volumes: this.Volumes, BuildCache: this.BuildCache };
  }
}

function isDangling(i: ImageSummary): boolean {
  const tags = i.RepoTags ?? [];
  const digests = i.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === '<none>:<none>' && digests.length === 1 && digests[0] === '<none>@<none>';
}

/**
 * The rows of the -v view: an image by its first tag (or <none>; an image whose
 * first tag does not parse is left out, as docker does), containers without
 * their virtual size, build cache in docker's order.
 */
export function verboseDiskUsage(du: DiskUsage, trunc: boolean, now = Date.now()): VerboseDiskUsage {
  const images: ImageContext[] = [];
  for (const i of du.Images ?? []) {
    let repo = '<none>';
    let tag = '<none>';
    const first = i.RepoTags?.[0];
    if (first !== undefined && !isDangling(i)) {
      let ref;
      try {
        ref = parseImageRef(first);
      } catch (e) {
        if (e instanceof ReferenceError) continue;
        throw e;
      }
      if (ref.tag) {
        repo = ref.familiarName;
        tag = ref.tag;
      }
    }
    images.push(new ImageContext(i, repo, tag, '', trunc, now));
  }
  const containers = (du.Containers ?? []).map((c) => new ContainerContext({ ...c, SizeRootFs: 0 }, trunc, now));
  const volumes = (du.Volumes ?? []).map((v) => new VolumeContext(v));
  const cache = sortBuildCache(du.BuildCache ?? []).map((r) => new BuildCacheContext(r, trunc, now));
  return new VerboseDiskUsage(images, containers, volumes, cache);
}

function section(columns: string, headers: Record<string, string>, rows: readonly object[]): string {
  const spec: ListFormat = { defaultTable: `table ${columns}`, headers };
  return renderList(prepareFormat('table', spec), rows, spec);
}

/** The -v tables, one per kind, as docker lays them out. */
export function verboseDiskUsageTables(v: VerboseDiskUsage, cacheSize: number): string {
  return (
    'Images space usage:\n\n' +
    section('{{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}\\t{{.SharedSize}}\\t{{.UniqueSize}}\\t{{.Containers}}', imageHeaders, v.Images) +
    '\nContainers space usage:\n\n' +
    section('{{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.LocalVolumes}}\\t{{.Size}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Names}}', containerHeaders, v.Containers) +
    '\nLocal Volumes space usage:\n\n' +
    section('{{.Name}}\\t{{.Links}}\\t{{.Size}}', volumeHeaders, v.Volumes) +
    `\nBuild cache usage: ${humanSize(cacheSize, 4)}\n\n` +
    section('{{.ID}}\\t{{.CacheType}}\\t{{.Size}}\\t{{.CreatedSince}}\\t{{.LastUsedSince}}\\t{{.UsageCount}}\\t{{.Shared}}', buildCacheHeaders, v.BuildCache)
  );
}
