/**
 * The fields `berth volume ls --format` offers, as docker's volume formatter
 * defines them: each is a method of VolumeContext, so templates can call them
 * (`{{.Label "k"}}`) and the `table`/`json` formats find them by name. The
 * disk-usage view (`system df -v`) uses the same context for its volume rows.
 */
import { humanSize } from '../../common/units';
import type { ListFormat } from './render';

/** A volume as GET /volumes, GET /volumes/{name} and GET /system/df give it. */
export interface VolumeSummary {
  Name: string;
  Driver?: string;
  Mountpoint?: string;
  CreatedAt?: string;
  Scope?: string;
  Labels?: Record<string, string> | null;
  Options?: Record<string, string> | null;
  /** Only /system/df fills it in; -1 where a value was not computed. */
  UsageData?: { Size: number; RefCount: number } | null;
  ClusterVolume?: unknown;
}

export const volumeHeaders: Record<string, string> = {
  Name: 'VOLUME NAME',
  Group: 'GROUP',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Availability: 'AVAILABILITY',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Label: 'LABEL',
  Links: 'LINKS',
  Size: 'SIZE',
  Status: 'STATUS',
  CreatedAt: 'CREATED AT',
};

export const volumeListFormat: ListFormat = {
  defaultTable: 'table {{.Driver}}\\t{{.Name}}',
  headers: volumeHeaders,
};

/** docker's choice of format for `volume ls`: the table (or only names with -q), "raw", or the user's template. */
export function volumeFormat(format: string, quiet: boolean): string {
  if (format === '' || format === 'table') return quiet ? '{{.Name}}' : 'table';
  if (format === 'raw') return quiet ? 'name: {{.Name}}' : 'name: {{.Name}}\\ndriver: {{.Driver}}\\n';
  return format;
}

export class VolumeContext {
  readonly templateTypeName = '*formatter.volumeContext';
  constructor(private readonly _v: VolumeSummary) {}

  Name(): string {
    return this._v.Name ?? '';
  }
  Driver(): string {
    return this._v.Driver ?? '';
  }
  Scope(): string {
    return this._v.Scope ?? '';
  }
  Mountpoint(): string {
    return this._v.Mountpoint ?? '';
  }
  /** k=v pairs joined by commas (sorted here; docker's order is a Go map's). */
  Labels(): string {
    const labels = this._v.Labels ?? {};
    return Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join(',');
  }
  Label(name: string): string {
    return (this._v.Labels ?? {})[name] ?? '';
  }
  /** How many containers use the volume; known only to the disk-usage view. */
  Links(): string {
    return this._v.UsageData ? String(this._v.UsageData.RefCount) : 'N/A';
  }
  Size(): string {
    return this._v.UsageData ? humanSize(this._v.UsageData.Size, 4) : 'N/A';
  }
  /** The creation time as the daemon reports it. Not in docker's formatter: berth's addition, left out of `json`. */
  CreatedAt(): string {
    return this._v.CreatedAt ?? '';
  }
  // Swarm cluster volumes only; berth has none.
  Group(): string {
    return 'N/A';
  }
  Availability(): string {
    return 'N/A';
  }
  Status(): string {
    return 'N/A';
  }

  /** `{{json .}}`: docker's fields, keys in Go's sorted order. */
  toJSON(): Record<string, string> {
    return {
      Availability: this.Availability(),
      Driver: this.Driver(),
      Group: this.Group(),
      Labels: this.Labels(),
      Links: this.Links(),
      Mountpoint: this.Mountpoint(),
      Name: this.Name(),
      Scope: this.Scope(),
      Size: this.Size(),
      Status: this.Status(),
    };
  }
}
