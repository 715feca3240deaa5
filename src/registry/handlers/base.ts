import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Grant } from '../auth/access';
import { RegistryError, regErr } from '../errors';
import { BlobStore } from '../store/blobs';
import { Repository } from '../store/repository';
import { UploadStore } from '../store/uploads';
import { StorageDriver } from '../storage/driver';
import type { ForeignUrlPolicy } from '../manifest';

/** What every handler gets: the request, the stores, and the route's captures. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  app: Registry;
  /** Repository name from the path ('' for /v2/ and /v2/_catalog). */
  name: string;
  /** The path segment after the resource (digest, tag, upload uuid), if any. */
  ref: string;
  /** What the client may do. The route's own needs are checked before handlers run; they ask
   *  about anything further (pulling a mount's source). */
  grant: Grant;
}

export interface Registry {
  driver: StorageDriver;
  blobs: BlobStore;
  uploads: UploadStore;
  readOnly: boolean;
  /** which foreign URLs pushed manifests' layers may name */
  foreignUrls: ForeignUrlPolicy;
  /** told of every tag a manifest push sets (the store records new versions of products) */
  onTagged?: (name: string, tag: string, digest: string) => void;
}

export const repo = (c: Ctx) => new Repository(c.app.driver, c.name);

export function send(c: Ctx, status: number, headers: Record<string, string | number | string[]> = {}, body?: Buffer | string): void {
  c.res.writeHead(status, headers);
  c.res.end(c.req.method === 'HEAD' ? undefined : body);
}

export function sendJSON(c: Ctx, status: number, value: unknown, headers: Record<string, string | number> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  send(c, status, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers }, body);
}

export function sendError(c: Ctx, e: unknown): void {
  const err = e instanceof RegistryError ? e : undefined;
  if (!err) console.error(`berth-registry: ${c.req.method} ${c.req.url}:`, e);
  const status = err?.status ?? 500;
  const body = { errors: [{ code: err?.code ?? 'UNKNOWN', message: err?.message ?? 'internal server error', detail: err?.detail ?? null }] };
  if (c.res.headersSent) {
    c.res.destroy();
    return;
  }
  // The body of an unread request would otherwise stall keep-alive connections.
  c.req.resume();
  sendJSON(c, status, body, err?.headers);
}

/** Reads a small body (manifests) whole, refusing anything over `limit` with 413. */
export async function readBody(c: Ctx, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of c.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw regErr('TOO_LARGE', `body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** RFC 5988 next-page link for the n/last paginated lists. */
export function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

/** Sorted list pagination shared by tags and catalog: items strictly after `last`, at most n. */
export function paginate(items: string[], url: URL): { page: string[]; more: boolean; n?: number } {
  const nRaw = url.searchParams.get('n');
  const last = url.searchParams.get('last');
  let rest = last !== null ? items.filter((t) => t > last) : items;
  if (nRaw === null || nRaw === '') return { page: rest, more: false };
  const n = Number(nRaw);
  if (!Number.isInteger(n) || n < 0) throw regErr('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer');
  const page = rest.slice(0, n);
  rest = rest.slice(n);
  return { page, more: n > 0 && rest.length > 0, n };
}

/** GET /v2/ : the version check every client starts with. */
export async function base(c: Ctx): Promise<void> {
  sendJSON(c, 200, {});
}
