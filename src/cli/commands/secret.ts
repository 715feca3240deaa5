/**
 * `berth secret create | ls | inspect | rm` and `berth config create | ls | inspect | rm`
 * over the Engine API's /secrets and /configs, with docker's flags, tables, messages
 * and exit statuses. The two kinds differ only in a few words, a DRIVER column, the
 * secret's --driver flag and the config's data in `inspect --pretty`, so one factory
 * makes the commands of both.
 */
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import type { CommandContext, CommandSpec } from '../command';
import { filtersJson } from '../command';
import { StatusError } from '../errors';
import { prepareFormat, renderList, type ListFormat } from '../format/render';
import { naturalCompare } from '../format/strings';
import { goTimeStringFromRfc3339 } from '../format/time';
import { humanDuration } from '../../common/units';
import { keyValueMap, validateLabel } from '../opts/values';
import { boolFlag, inspectObjects, listFlag, listingFlags, removeEach, strFlag } from './swarm-shared';

export type FileKind = 'secret' | 'config';

/** A secret or config as GET /secrets and /configs give it (a secret without its data). */
export interface SwarmFile {
  ID: string;
  Version?: { Index: number };
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: {
    Name?: string;
    Labels?: Record<string, string> | null;
    /** base64 */
    Data?: string;
    Driver?: { Name?: string } | null;
    Templating?: { Name?: string } | null;
  };
}

const filePath = (kind: FileKind) => (ref: string) => `/${kind}s/${encodeURIComponent(ref)}`;

/** Labels as docker's list formatter joins them: k=v pairs by commas (sorted here; docker's order is a Go map's). */
function labelsText(labels: Record<string, string> | null | undefined): string {
  const l = labels ?? {};
  return Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');
}

/** "5 minutes ago" as docker's units.HumanDuration gives it; a missing time is Go's zero time. */
function agoText(rfc3339: string | undefined, now: number): string {
  let t = Date.parse(rfc3339 ?? '');
  if (Number.isNaN(t)) t = Date.parse('0001-01-01T00:00:00Z');
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

// ---------------------------------------------------------------- ls

export function fileListFormat(kind: FileKind): ListFormat {
  const headers: Record<string, string> = { ID: 'ID', Name: 'NAME', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS', Label: 'LABEL' };
  if (kind === 'secret') headers.Driver = 'DRIVER';
  return {
    defaultTable: kind === 'secret' ? 'table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.CreatedAt}}\\t{{.UpdatedAt}}' : 'table {{.ID}}\\t{{.Name}}\\t{{.CreatedAt}}\\t{{.UpdatedAt}}',
    headers,
  };
}

/** One row of `config ls`: the fields docker's config formatter offers. */
export class ConfigContext {
  readonly templateTypeName: string = '*config.configContext';
  constructor(
    protected readonly _f: SwarmFile,
    protected readonly _now = Date.now(),
  ) {}
  ID(): string {
    return this._f.ID;
  }
  Name(): string {
    return this._f.Spec?.Name ?? '';
  }
  CreatedAt(): string {
    return agoText(this._f.CreatedAt, this._now);
  }
  UpdatedAt(): string {
    return agoText(this._f.UpdatedAt, this._now);
  }
  Labels(): string {
    return labelsText(this._f.Spec?.Labels);
  }
  Label(name: string): string {
    return (this._f.Spec?.Labels ?? {})[name] ?? '';
  }
  /** `{{json .}}`: the fields without arguments, keys in Go's sorted order. */
  toJSON(): Record<string, string> {
    return { CreatedAt: this.CreatedAt(), ID: this.ID(), Labels: this.Labels(), Name: this.Name(), UpdatedAt: this.UpdatedAt() };
  }
}

/** One row of `secret ls`: a config's fields and the secret's driver. */
export class SecretContext extends ConfigContext {
  override readonly templateTypeName = '*secret.secretContext';
  Driver(): string {
    return this._f.Spec?.Driver?.Name ?? '';
  }
  override toJSON(): Record<string, string> {
    const { CreatedAt, ID, Labels, Name, UpdatedAt } = super.toJSON();
    return { CreatedAt, Driver: this.Driver(), ID, Labels, Name, UpdatedAt };
  }
}

// ---------------------------------------------------------------- inspect --pretty

/** docker's `{{range $k, $v := .Labels}} - k{{if $v}}=v{{end}}` block, keys sorted as Go templates range over maps. */
function prettyLabels(labels: Record<string, string> | null | undefined): string {
  const l = labels ?? {};
  const keys = Object.keys(l).sort();
  if (!keys.length) return '';
  return '\nLabels:' + keys.map((k) => `\n - ${k}${l[k] ? `=${l[k]}` : ''}`).join('');
}

/** docker's secretInspectPrettyTemplate, spacing and all. */
export function prettySecret(f: SwarmFile): string {
  return (
    `ID:              ${f.ID}\nName:              ${f.Spec?.Name ?? ''}${prettyLabels(f.Spec?.Labels)}\n` +
    `Driver:            ${f.Spec?.Driver?.Name ?? ''}\n` +
    `Created at:        ${goTimeStringFromRfc3339(f.CreatedAt)}\n` +
    `Updated at:        ${goTimeStringFromRfc3339(f.UpdatedAt)}`
  );
}

/** docker's configInspectPrettyTemplate (its tabs are written as they are), ending with the data. */
export function prettyConfig(f: SwarmFile): string {
  return (
    `ID:\t\t\t${f.ID}\nName:\t\t\t${f.Spec?.Name ?? ''}${prettyLabels(f.Spec?.Labels)}\n` +
    `Created at:            \t${goTimeStringFromRfc3339(f.CreatedAt)}\n` +
    `Updated at:            \t${goTimeStringFromRfc3339(f.UpdatedAt)}\n` +
    `Data:\n${Buffer.from(f.Spec?.Data ?? '', 'base64').toString()}`
  );
}

// ---------------------------------------------------------------- create

/** The content of FILE, or of stdin for "-", as docker reads it; failures worded like docker's. */
async function readContent(ctx: CommandContext, file: string): Promise<Buffer> {
  try {
    if (file === '-') return await buffer(ctx.stdin);
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `open ${file}: no such file or directory` : code === 'EACCES' ? `open ${file}: permission denied` : code === 'EISDIR' ? `read ${file}: is a directory` : (e as Error).message;
    throw new StatusError(`Error reading content from "${file}": ${why}`, 1);
  }
}

// ---------------------------------------------------------------- the commands

export interface FileCommands {
  create: CommandSpec;
  ls: CommandSpec;
  inspect: CommandSpec;
  rm: CommandSpec;
}

export function fileCommands(kind: FileKind): FileCommands {
  const Kind = kind === 'secret' ? 'Secret' : 'Config';
  const KIND = kind.toUpperCase();
  const pathOf = filePath(kind);
  const listFormat = fileListFormat(kind);

  const create: CommandSpec = {
    usage: kind === 'secret' ? '[OPTIONS] SECRET [file|-]' : '[OPTIONS] CONFIG file|-',
    summary: kind === 'secret' ? 'Create a secret from a file or STDIN as content' : 'Create a config from a file or STDIN',
    args: kind === 'secret' ? { min: 1, max: 2 } : { min: 2, max: 2 },
    flags: [
      ...(kind === 'secret' ? [strFlag('driver', 'Secret driver', 'd')] : []),
      listFlag('label', `${Kind} labels`, 'l', validateLabel),
      strFlag('template-driver', 'Template driver'),
    ],
    async run(ctx, p) {
      const [name, file = ''] = p.args;
      const driver = (p.values.driver as string | undefined) ?? '';
      if (driver && file) throw new StatusError('When using secret driver secret data must be empty', 1);
      const data = file ? await readContent(ctx, file) : Buffer.alloc(0);
      const spec: SwarmFile['Spec'] = { Name: name, Labels: keyValueMap(p.values.label as string[]) };
      if (data.length) spec.Data = data.toString('base64');
      if (driver) spec.Driver = { Name: driver };
      const templateDriver = p.values['template-driver'] as string;
      if (templateDriver) spec.Templating = { Name: templateDriver };
      const res = await ctx.client().call<{ ID: string }>('POST', `/${kind}s/create`, { body: spec });
      ctx.out(`${res.ID}\n`);
      return 0;
    },
  };

  const ls: CommandSpec = {
    usage: '[OPTIONS]',
    summary: `List ${kind}s`,
    aliases: [`${kind} ls`, `${kind} list`],
    args: { max: 0 },
    flags: [
    ...listingFlags(),
    ],
    async run(ctx, p) {
      const files = (await ctx.client().call<SwarmFile[] | null>('GET', `/${kind}s`, { query: { filters: filtersJson(p.values.filter as string[]) } })) ?? [];
      files.sort((a, b) => naturalCompare(a.Spec?.Name ?? '', b.Spec?.Name ?? ''));
      // as docker: -q means IDs only where the table would be shown; a template given wins.
      let format = (p.values.format as string) || 'table';
      if (format === 'table' && p.values.quiet) format = '{{.ID}}';
      const prepared = prepareFormat(format, listFormat);
      const now = Date.now();
      const rows = files.map((f) => (kind === 'secret' ? new SecretContext(f, now) : new ConfigContext(f, now)));
      ctx.out(renderList(prepared, rows, listFormat));
      return 0;
    },
  };

  const inspect: CommandSpec = {
    usage: `[OPTIONS] ${KIND} [${KIND}...]`,
    summary: `Display detailed information on one or more ${kind}s`,
    args: { min: 1 },
    flags: [
      { name: 'format', short: 'f', type: 'string', help: "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates", default: '' },
      boolFlag('pretty', 'Print the information in a human friendly format'),
    ],
    async run(ctx, p) {
      // docker: --pretty replaces any --format; "pretty" is the only format that starts so.
      const format = p.values.pretty ? 'pretty' : (p.values.format as string);
      if (format.startsWith('pretty') && format !== 'pretty') throw new StatusError('cannot supply extra formatting options to the pretty template', 1);
      if (format !== 'pretty') {
        // docker reports the daemon's "secret x not found" for each one missing, after the others
        return inspectObjects(ctx, p.args, pathOf, format, false, () => '', (ref) => `Error response from daemon: ${kind} ${ref} not found`);
      }
      // docker renders all or nothing here: the first failure ends the command
      let out = '';
      for (const ref of p.args) {
        const f = await ctx.client().call<SwarmFile>('GET', pathOf(ref));
        out += (kind === 'secret' ? prettySecret(f) : prettyConfig(f)) + '\n';
      }
      ctx.out(out);
      return 0;
    },
  };

  const rm: CommandSpec = {
    usage: `${KIND} [${KIND}...]`,
    summary: `Remove one or more ${kind}s`,
    aliases: [`${kind} rm`, `${kind} remove`],
    args: { min: 1 },
    flags: [],
    run: (ctx, p) => removeEach(ctx, p.args, pathOf),
  };

  return { create, ls, inspect, rm };
}

export const { create: secretCreate, ls: secretLs, inspect: secretInspect, rm: secretRm } = fileCommands('secret');
export const { create: configCreate, ls: configLs, inspect: configInspect, rm: configRm } = fileCommands('config');
