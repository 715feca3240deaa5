import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalid, notFound, StoreError } from './errors';
import type { Caller } from './accounts';
import type { Store } from './service';
import { EVENT_PAGE_MAX } from './events';

/**
 * The store's JSON API, under /store/v1 on the registry's own address:
 *
 *   GET  /store/v1/whoami
 *   GET  /store/v1/products[?q=WORDS]             catalogue (anyone)
 *   GET  /store/v1/products/NS/NAME               one product (anyone)
 *   POST /store/v1/products                       publish or update {repository, title, prices, ...}
 *   POST /store/v1/vendors                        {name, displayName?, owner?}
 *   GET  /store/v1/vendors/NAME
 *   POST /store/v1/vendors/NAME/members           {account}
 *   GET  /store/v1/vendors/NAME/sales[?since=EVENT&limit=N]   events paged: 100 by default, 1000 at most
 *   GET  /store/v1/purchases                      the caller's
 *   POST /store/v1/purchases                      buy {product, plan}
 *   POST /store/v1/purchases/ID/paid|refund|revoke   the vendor's actions
 *   GET  /store/v1/events[?product=NS/NAME]
 *
 * Bodies are checked here, at the door; the store's actions get typed values. Errors are
 * {"errors":[{"code","message"}]} with the status of their code.
 */
export const STORE_PREFIX = '/store/v1/';
const MAX_BODY = 1024 * 1024;

type Body = Record<string, unknown>;

async function readJson(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw invalid(`request body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalid(`request body is not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('request body must be a JSON object');
  return doc as Body;
}

function str(b: Body, key: string): string | undefined;
function str(b: Body, key: string, required: true): string;
function str(b: Body, key: string, required = false): string | undefined {
  const v = b[key];
  if (v === undefined || v === null) {
    if (required) throw invalid(`${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(`${key} must be a string`);
  return v;
}

function bool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${key} must be true or false`);
  return v;
}

function strings(b: Body, key: string): string[] | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`${key} must be a list of strings`);
  return v as string[];
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length, 'Cache-Control': 'no-store' });
  res.end(body);
}

export function sendStoreError(req: IncomingMessage, res: ServerResponse, e: unknown): void {
  const err = e instanceof StoreError ? e : undefined;
  if (!err) console.error(`berth-registry store: ${req.method} ${req.url}:`, e);
  if (res.headersSent) return void res.destroy();
  req.resume();
  const headers: Record<string, string> = err?.status === 401 ? { 'WWW-Authenticate': 'Basic realm="berth-registry"' } : {};
  // A body refused before its end (too large) leaves the connection mid-request: close it, so
  // the client does not send its next request into the rest of this one.
  if (!req.complete) headers.Connection = 'close';
  const body = Buffer.from(JSON.stringify({ errors: [{ code: err?.code ?? 'UNKNOWN', message: err?.message ?? 'internal server error' }] }));
  res.writeHead(err?.status ?? 500, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers });
  res.end(body);
}

/** A whole-number query parameter within [min, max], or undefined when absent. */
function count(query: URLSearchParams, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = query.get(key);
  if (text === null) return undefined;
  const n = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
  if (!(n >= min && n <= max)) throw invalid(`${key} must be a whole number ${range}, not ${JSON.stringify(text)}`);
  return n;
}

const purchaseId = (text: string) => {
  if (!/^\d{1,15}$/.test(text)) throw invalid(`purchase id ${JSON.stringify(text)} is not a number`);
  return Number(text);
};

/** Serves one request under /store/v1/ for an identified caller. */
export async function handleStoreApi(store: Store, caller: Caller, req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
  const method = req.method ?? 'GET';
  const rest = path.slice(STORE_PREFIX.length);
  const ok = (value: unknown, status = 200) => send(res, status, value);
  let m: RegExpExecArray | null;

  if (rest === 'whoami' && method === 'GET') return ok(store.whoami(caller));
  if (rest === 'products' && method === 'GET') return ok(store.search(query.get('q') ?? ''));
  if (rest === 'products' && method === 'POST') {
    const b = await readJson(req);
    return ok(await store.publish(caller, {
      repository: str(b, 'repository', true),
      vendor: str(b, 'vendor'),
      title: str(b, 'title'),
      description: str(b, 'description'),
      license: str(b, 'license'),
      prices: strings(b, 'prices'),
      publicPull: bool(b, 'public'),
      currency: str(b, 'currency'),
    }), 201);
  }
  if ((m = /^products\/([^/]+\/.+)\/events$/.exec(rest)) && method === 'GET') return ok(store.events(caller, m[1]));
  if ((m = /^products\/(.+)$/.exec(rest)) && method === 'GET') return ok(store.product(m[1]));
  if (rest === 'vendors' && method === 'POST') {
    const b = await readJson(req);
    return ok(store.createVendor(caller, str(b, 'name', true), str(b, 'displayName'), str(b, 'owner')), 201);
  }
  if ((m = /^vendors\/([^/]+)$/.exec(rest)) && method === 'GET') return ok(store.vendor(caller, m[1]));
  if ((m = /^vendors\/([^/]+)\/members$/.exec(rest)) && method === 'POST') {
    const b = await readJson(req);
    return ok(store.addVendorMember(caller, m[1], str(b, 'account', true)), 201);
  }
  if ((m = /^vendors\/([^/]+)\/sales$/.exec(rest)) && method === 'GET') {
    return ok(store.sales(caller, m[1], { since: count(query, 'since', 0), limit: count(query, 'limit', 1, EVENT_PAGE_MAX) }));
  }
  if (rest === 'purchases' && method === 'GET') return ok(store.purchases(caller));
  if (rest === 'purchases' && method === 'POST') {
    const b = await readJson(req);
    return ok(await store.buy(caller, str(b, 'product', true), str(b, 'plan', true)), 201);
  }
  if ((m = /^purchases\/([^/]+)\/(paid|refund|revoke)$/.exec(rest)) && method === 'POST') {
    const id = purchaseId(m[1]);
    if (m[2] === 'paid') return ok(store.markPaid(caller, id));
    if (m[2] === 'refund') return ok(await store.refund(caller, id));
    return ok(store.revoke(caller, id));
  }
  if (rest === 'events' && method === 'GET') return ok(store.events(caller, query.get('product') ?? undefined));
  throw notFound(`no store route ${method} ${path}`);
}
