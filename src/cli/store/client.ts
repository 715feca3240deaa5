/**
 * The CLI's side of the store API (/store/v1 on the registry's own address), with the login
 * `berth login REGISTRY` kept in the client config. Which store: --registry, else
 * $BERTH_STORE, else the registry named in the product's reference (localhost:5000/acme/ledger),
 * else the only registry other than Docker Hub that there is a login for.
 *
 * Plain HTTP for loopback addresses (as docker treats them as insecure registries), HTTPS
 * for others, unless the address says which (http://host:port).
 */
import { credentialStore, INDEX_SERVER, normalizeServer } from '../credentials';
import { StatusError } from '../errors';

export interface StoreTarget {
  /** host[:port], as logins are kept. */
  host: string;
  base: string;
}

type Ctx = { env: NodeJS.ProcessEnv; configDir?: string };

/** Splits `[HOST[:PORT]/]NS/NAME` into the registry host (if any) and the repository. */
export function splitProduct(text: string): { host?: string; repository: string } {
  const parts = text.replace(/^[a-z]+:\/\//, '').split('/');
  const first = parts[0];
  const hasHost = parts.length > 2 || (parts.length === 2 && (first.includes('.') || first.includes(':') || first === 'localhost'));
  const repository = (hasHost ? parts.slice(1) : parts).join('/').replace(/[:@].*$/, '');
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*\/[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(repository)) {
    throw new StatusError(`invalid product name ${JSON.stringify(text)}: use VENDOR/NAME or HOST:PORT/VENDOR/NAME`, 1);
  }
  return { host: hasHost ? first : undefined, repository };
}

const isLoopback = (host: string) => /^(localhost|127\.[\d.]+|\[::1\])(:\d+)?$/.test(host);

export function storeTarget(ctx: Ctx, flag: string | undefined, productHost?: string): StoreTarget {
  let where = flag || ctx.env.BERTH_STORE || productHost;
  if (!where) {
    const logins = Object.keys(credentialStore(ctx).all()).filter((k) => k !== INDEX_SERVER);
    if (logins.length === 1) where = logins[0];
    else throw new StatusError(logins.length === 0
      ? 'which store? log in to its registry (berth login HOST:PORT) or name it with --registry'
      : `which store? you are logged in to ${logins.join(', ')}: name one with --registry`, 1);
  }
  const scheme = /^(https?):\/\//.exec(where)?.[1];
  const host = normalizeServer(where);
  return { host, base: `${scheme ?? (isLoopback(host) ? 'http' : 'https')}://${host}` };
}

export class StoreClient {
  private readonly authorization?: string;

  constructor(readonly target: StoreTarget, ctx: Ctx) {
    const creds = credentialStore(ctx).get(target.host);
    if (creds?.username) this.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.identitytoken ?? creds.password}`).toString('base64')}`;
  }

  get loggedIn(): boolean {
    return this.authorization !== undefined;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.authorization) headers.Authorization = this.authorization;
    // the store takes changes only as JSON (its guard against forms from other sites)
    if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.target.base}/store/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      throw new StatusError(`cannot reach the store at ${this.target.base}: ${cause?.message ?? (e as Error).message}`, 1);
    }
    const text = await res.text();
    let doc: unknown;
    try {
      doc = text ? JSON.parse(text) : undefined;
    } catch {
      throw new StatusError(`the store at ${this.target.base} answered ${res.status} with something that is not JSON (is it berth-registry serve --store?)`, 1);
    }
    if (!res.ok) {
      const err = (doc as { errors?: { code?: string; message?: string }[] } | undefined)?.errors?.[0];
      if (res.status === 404 && !err?.code) throw new StatusError(`${this.target.base} has no store (berth-registry serve --store)`, 1);
      const hint = res.status === 401 && !this.loggedIn ? ` (berth login ${this.target.host})` : '';
      throw new StatusError(`Error: ${err?.message ?? `${res.status} ${res.statusText}`}${hint}`, 1);
    }
    return doc as T;
  }
}
