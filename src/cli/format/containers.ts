/**
 * The fields `berth ps --format` offers, as docker's container formatter defines
 * them: each is a method of ContainerContext, so templates can call them
 * (`{{.Label "k"}}`) and the `table`/`json` formats find them by name.
 */
import { humanDuration, humanSize } from '../../common/units';
import { ellipsis, goQuote, truncateId } from './strings';
import { goTimeString } from './time';
import { parseImageRef, familiarString, ReferenceError } from '../reference';
import type { ListFormat } from './render';

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/** GET /containers/json items, the fields the formatter reads. */
export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  Command?: string;
  Created?: number;
  Ports?: PortSummary[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State?: string;
  Status?: string;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: { Type?: string; Name?: string; Source?: string; Driver?: string }[] | null;
}

export const containerHeaders: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Label: 'LABEL',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
};

export function containerListFormat(size: boolean): ListFormat {
  const cols = '{{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}';
  return { defaultTable: `table ${cols}${size ? '\\t{{.Size}}' : ''}`, headers: containerHeaders };
}

export class ContainerContext {
  readonly templateTypeName = '*formatter.ContainerContext';
  constructor(
    private readonly _c: ContainerSummary,
    private readonly _trunc: boolean,
    private readonly _now: number = Date.now(),
  ) {}

  ID(): string {
    return this._trunc ? truncateId(this._c.Id) : this._c.Id;
  }

  /** Names without the leading "/"; names of links (a/b) only with --no-trunc. */
  Names(): string {
    const names = (this._c.Names ?? []).map((n) => n.replace(/^\//, '')).filter((n) => !this._trunc || !n.includes('/'));
    return names.join(',');
  }

  Image(): string {
    const image = this._c.Image ?? '';
    if (image === '') return '<no image>';
    if (this._trunc) {
      if (this._c.ImageID && truncateId(this._c.ImageID) === truncateId(image)) return truncateId(image);
      try {
        const ref = parseImageRef(image);
        return familiarString({ ...ref, digest: undefined });
      } catch (e) {
        if (!(e instanceof ReferenceError)) throw e;
      }
    }
    return image;
  }

  Command(): string {
    const cmd = this._c.Command ?? '';
    return goQuote(this._trunc ? ellipsis(cmd, 20) : cmd);
  }

  CreatedAt(): string {
    return goTimeString(new Date((this._c.Created ?? 0) * 1000));
  }

  RunningFor(): string {
    return `${humanDuration(this._now - (this._c.Created ?? 0) * 1000)} ago`;
  }

  Ports(): string {
    return displayablePorts(this._c.Ports ?? []);
  }

  State(): string {
    return this._c.State ?? '';
  }

  Status(): string {
    return this._c.Status ?? '';
  }

  Size(): string {
    const rw = humanSize(this._c.SizeRw ?? 0);
    const virtual = this._c.SizeRootFs ?? 0;
    return virtual > 0 ? `${rw} (virtual ${humanSize(virtual)})` : rw;
  }

  Labels(): string {
    const labels = this._c.Labels ?? {};
    return Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join(',');
  }

  Label(name: string): string {
    return (this._c.Labels ?? {})[name] ?? '';
  }

  Mounts(): string {
    return (this._c.Mounts ?? [])
      .map((m) => {
        const name = m.Name || m.Source || '';
        return this._trunc ? ellipsis(name, 15) : name;
      })
      .join(',');
  }

  Networks(): string {
    return Object.keys(this._c.NetworkSettings?.Networks ?? {})
      .sort()
      .join(',');
  }

  LocalVolumes(): string {
    return String((this._c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }

  /** The image platform; the list API does not report it yet. */
  Platform(): null {
    return null;
  }

  /** `{{json .}}`: every field, keys sorted, as docker marshals its context map. */
  toJSON(): Record<string, string | null> {
    return {
      Command: this.Command(),
      CreatedAt: this.CreatedAt(),
      ID: this.ID(),
      Image: this.Image(),
      Labels: this.Labels(),
      LocalVolumes: this.LocalVolumes(),
      Mounts: this.Mounts(),
      Names: this.Names(),
      Networks: this.Networks(),
      Platform: this.Platform(),
      Ports: this.Ports(),
      RunningFor: this.RunningFor(),
      Size: this.Size(),
      State: this.State(),
      Status: this.Status(),
    };
  }
}

/** Go's string ordering (by bytes), not the locale's. */
function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function joinHostPort(ip: string, port: string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The PORTS column: published ports as "0.0.0.0:8080->80/tcp", consecutive ports
 * with the same mapping grouped as ranges ("0.0.0.0:8000-8002->8000-8002/tcp"),
 * unpublished ones as "80/tcp"; mappings where host and container port differ are
 * listed one by one, after the groups.
 */
export function displayablePorts(ports: readonly PortSummary[]): string {
  const sorted = [...ports].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort ||
      byteCompare(a.IP ?? '', b.IP ?? '') ||
      (a.PublicPort ?? 0) - (b.PublicPort ?? 0) ||
      byteCompare(a.Type, b.Type),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, first: number, last: number) => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    let group = first === last ? String(first) : `${first}-${last}`;
    if (ip) group = `${joinHostPort(ip, group)}->${group}`;
    return `${group}/${type}`;
  };
  for (const p of sorted) {
    let key = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== p.PrivatePort) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort ?? 0))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      result.push(formGroup(key, g.first, g.last));
      // The key keeps its first position in the output order; only its range restarts.
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}
