/**
 * The fields `berth network ls --format` offers, as docker's network formatter
 * defines them: each is a method of NetworkContext, so templates can call them
 * (`{{.Label "k"}}`) and the `table`/`json` formats find them by name.
 */
import { truncateId } from './strings';
import { goTimeStringFromRfc3339 } from './time';
import type { ListFormat } from './render';

/** GET /networks items, the fields the formatter reads. */
export interface NetworkSummary {
  Id: string;
  Name?: string;
  Driver?: string;
  Scope?: string;
  Created?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

export const networkHeaders: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  Label: 'LABEL',
  CreatedAt: 'CREATED AT',
};

export const networkListFormat: ListFormat = {
  defaultTable: 'table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}',
  headers: networkHeaders,
};

/**
 * The format docker uses for a --format value: "table" (or nothing) is the
 * default table, or just the IDs with -q; "raw" is a "key: value" block per
 * network; anything else is the user's template.
 */
export function networkFormat(format: string, quiet: boolean): string {
  if (format === '' || format === 'table') return quiet ? '{{.ID}}' : 'table';
  if (format === 'raw') return quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
  return format;
}

export class NetworkContext {
  readonly templateTypeName = '*network.networkContext';
  constructor(
    private readonly _n: NetworkSummary,
    private readonly _trunc: boolean,
  ) {}

  ID(): string {
    return this._trunc ? truncateId(this._n.Id) : this._n.Id;
  }
  Name(): string {
    return this._n.Name ?? '';
  }
  Driver(): string {
    return this._n.Driver ?? '';
  }
  Scope(): string {
    return this._n.Scope ?? '';
  }
  IPv4(): string {
    return String(!!this._n.EnableIPv4);
  }
  IPv6(): string {
    return String(!!this._n.EnableIPv6);
  }
  Internal(): string {
    return String(!!this._n.Internal);
  }
  /** k=v pairs joined by commas (sorted here; docker's order is a Go map's). */
  Labels(): string {
    const labels = this._n.Labels ?? {};
    return Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join(',');
  }
  Label(name: string): string {
    return (this._n.Labels ?? {})[name] ?? '';
  }
  CreatedAt(): string {
    return goTimeStringFromRfc3339(this._n.Created);
  }

  /** `{{json .}}`: every field without arguments, keys in Go's sorted order. */
  toJSON(): Record<string, string> {
    return {
      CreatedAt: this.CreatedAt(),
      Driver: this.Driver(),
      ID: this.ID(),
      IPv4: this.IPv4(),
      IPv6: this.IPv6(),
      Internal: this.Internal(),
      Labels: this.Labels(),
      Name: this.Name(),
      Scope: this.Scope(),
    };
  }
}
