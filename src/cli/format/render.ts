/**
 * docker's `--format` handling for lists (ps, images ...): "table" (the default
 * columns), "table TEMPLATE" (a header row, then rows aligned by tabwriter),
 * "json" (one JSON object per line) or a bare TEMPLATE. `\t` and `\n` typed
 * literally in the format become tab and newline, as in docker.
 */
import { Template, TemplateError, headerFuncs } from '../template';
import { alignColumns } from './tabwriter';
import { StatusError } from '../errors';

export interface ListFormat {
  /** The format to use for "table" and when --format is not given. */
  defaultTable: string;
  /** Column titles by field name: {ID: 'CONTAINER ID', ...}. */
  headers: Record<string, string>;
}

export interface PreparedFormat {
  table: boolean;
  template: Template;
}

/** Resolves named formats and parses the template; template errors are reported like docker's. */
export function prepareFormat(format: string, spec: ListFormat): PreparedFormat {
  let f = format === '' || format === 'table' ? spec.defaultTable : format;
  if (f === 'json') f = '{{json .}}';
  const table = f.startsWith('table');
  if (table) f = f.slice('table'.length);
  f = f.trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  try {
    return { table, template: new Template(f) };
  } catch (e) {
    throw templateFailure(e);
  }
}

/** An inspect --format template (no table prefix), with docker's parse error. */
export function parseInspectFormat(format: string): Template {
  try {
    return new Template(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
  } catch (e) {
    throw templateFailure(e);
  }
}

export function templateFailure(e: unknown): Error {
  if (e instanceof TemplateError) {
    return new StatusError(e.phase === 'parse' ? `template parsing error: ${e.message}` : `failed to execute template: ${e.message}`, 1);
  }
  return e as Error;
}

/**
 * A header context: every field answers its column title; a field given an
 * argument (`{{.Label "com.x"}}`) answers the argument, as docker's headers do.
 */
function headerContext(headers: Record<string, string>): object {
  const proto: Record<string, (arg?: unknown) => string> = {};
  for (const [k, v] of Object.entries(headers)) proto[k] = (arg?: unknown) => (arg === undefined ? v : String(arg));
  return Object.create(proto) as object;
}

/** Renders items; each item is followed by a newline, as docker writes them. */
export function renderList(prepared: PreparedFormat, items: readonly unknown[], spec: ListFormat): string {
  let body = '';
  try {
    for (const item of items) body += prepared.template.execute(item) + '\n';
    if (!prepared.table) return body;
    const header = prepared.template.execute(headerContext(spec.headers), { funcs: headerFuncs });
    return alignColumns(header + '\n' + body);
  } catch (e) {
    throw templateFailure(e);
  }
}
