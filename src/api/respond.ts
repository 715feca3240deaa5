import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalid } from '../common/errors';
import { checkQueryInteger } from './validate/query';
import { parseBoundedJSON } from '../common/json';

export function sendJSON(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendNoContent(res: ServerResponse, status = 204): void {
  res.writeHead(status);
  res.end();
}

export async function readBody(req: IncomingMessage, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw invalid('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Bodies the API's door (validate/) has read and decoded already, by request. */
const decodedBodies = new WeakMap<IncomingMessage, unknown>();

export function setDecodedBody(req: IncomingMessage, body: unknown): void {
  decodedBodies.set(req, body);
}

/**
 * The request's JSON body: the one the door decoded against the API reference when the
 * route has one there, else parsed here; an empty body is `{}` as Docker treats it for
 * optional bodies.
 */
export async function readJSONBody<T>(req: IncomingMessage): Promise<T> {
  if (decodedBodies.has(req)) return decodedBodies.get(req) as T;
  const buf = await readBody(req);
  if (buf.length === 0) return {} as T;
  try {
    return parseBoundedJSON(buf.toString('utf8')) as T;
  } catch (e) {
    throw invalid(`invalid JSON: ${(e as Error).message}`);
  }
}

/** Docker's boolean query parameters (httputils.BoolValue): "", "0", "no", "false", "none" are false, in any case and spacing; anything else is true. */
export function queryBool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  const lower = v.trim().toLowerCase();
  return !(lower === '' || lower === '0' || lower === 'false' || lower === 'no' || lower === 'none');
}

/** An integer query parameter, read as dockerd's strconv.Atoi reads it (`1.9`, `1e3`, `0x10` are refused). */
export function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  checkQueryInteger(v, 'int');
  return Number(v);
}

/** The `filters` query parameter: JSON `{"key": ["v1", "v2"]}` (or the old `{"key": {"v1": true}}`). */
export function queryFilters(q: URLSearchParams): Map<string, string[]> {
  const raw = q.get('filters');
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = parseBoundedJSON(raw);
  } catch {
    throw invalid(`invalid filter: ${raw}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid(`invalid filter: ${raw}`);
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (typeof v === 'object' && v !== null) out.set(k, Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]));
    else throw invalid(`invalid filter: ${raw}`);
  }
  return out;
}
