import { generateKeyPairSync, createPublicKey, KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { decodePathSegment, parseRequestTarget } from '../common/request-target';
import { handleStoreApi, sendStoreError, STORE_PREFIX } from '../store/api';
import type { Clock } from '../store/clock';
import { openStoreDb } from '../store/db';
import { identify } from '../store/identity';
import type { PaymentProvider } from '../store/payments';
import { Store } from '../store/service';
import { handleWeb, WEB_PREFIX } from '../store/web/pages';
import { isSameOrigin } from '../common/same-origin';
import { denied, invalid, StoreError } from '../store/errors';
import { createHandler, createRegistry } from './app';
import { HtpasswdFile } from './auth/htpasswd';
import { loadPrivateKey } from './auth/keys';
import { StoreAuthorizer } from './auth/store-authorizer';
import type { ForeignUrlPolicy } from './manifest';
import { FilesystemDriver } from './storage/filesystem';
import { Repository } from './store/repository';
import { createTokenHandler } from './token-server';

/**
 * `berth-registry serve --store`: the registry, the store's API and a token service in one
 * process, on one address.
 *
 *   /v2/...        the registry, with token auth; the store decides every pull and push
 *   /token         the token service (Docker's token flow; htpasswd users log in here)
 *   /store/v1/...  the store's JSON API, for the same users (Basic or a token from /token)
 *   /store/...     the store's web pages (/ leads there)
 *
 * Tokens are signed with a key kept in the store's directory (made on first start), so they
 * survive restarts; nothing outside this process needs it.
 */
export interface StoreServerOptions {
  root: string;
  /** The SQLite file; default ROOT/store/store.db. */
  dbFile?: string;
  htpasswd: string;
  admins: string[];
  selfServiceVendors: boolean;
  provider: PaymentProvider;
  clock: Clock;
  /** Token audience and issuer; the defaults do for a registry that is its own token service. */
  service?: string;
  issuer?: string;
  /** Where clients get tokens; default this server's /token at the address the client used. */
  realm?: string;
  https: boolean;
  readOnly: boolean;
  foreignUrls: ForeignUrlPolicy;
  log(line: string): void;
}

function signingKey(file: string): KeyObject {
  if (existsSync(file)) return loadPrivateKey(readFileSync(file, 'utf8'));
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return privateKey;
}

/** Tags of a repository with their digests, as the store wants them when publishing. */
async function tagsIn(driver: FilesystemDriver, repository: string): Promise<{ tag: string; digest: string }[]> {
  const repo = new Repository(driver, repository);
  if (!(await repo.exists())) return [];
  const out: { tag: string; digest: string }[] = [];
  for (const tag of await repo.tags()) {
    const digest = await repo.resolveTag(tag);
    if (digest) out.push({ tag, digest });
  }
  return out;
}

export function createStoreServer(o: StoreServerOptions): { handler: http.RequestListener; store: Store } {
  const storeDir = path.join(o.root, 'store');
  const db = openStoreDb(o.dbFile ?? path.join(storeDir, 'store.db'));
  const key = signingKey(path.join(storeDir, 'token.key'));
  const keys = [createPublicKey(key)];
  const service = o.service ?? 'berth-registry';
  const issuer = o.issuer ?? 'berth-registry';
  const users = new HtpasswdFile(o.htpasswd, o.log);
  const driver = new FilesystemDriver(o.root);

  const store = new Store({
    db,
    clock: o.clock,
    provider: o.provider,
    admins: new Set(o.admins),
    selfServiceVendors: o.selfServiceVendors,
    tagsOf: (repository) => tagsIn(driver, repository),
  });

  const registry = createRegistry(driver, o.readOnly, o.foreignUrls);
  registry.onTagged = (name, tag, digest) => store.tagged(name, tag, digest);
  const decide = (account: string, type: string, name: string, actions: string[]) => store.access(account, type, name, actions);
  const registryHandler = createHandler(registry, new StoreAuthorizer({
    service,
    issuer,
    keys,
    decide,
    realmFor: (req) => o.realm ?? `${o.https ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/token`,
  }));
  const tokenHandler = createTokenHandler({
    users,
    acl: [],
    grant: (account, r) => ({ ...r, actions: decide(account, r.type, r.name, r.actions).actions }),
    key,
    issuer,
    service,
  });

  const storeHandler = (req: http.IncomingMessage, res: http.ServerResponse, p: string, query: URLSearchParams) => {
    void (async () => {
      // a browser logged in to the store's pages sends its Basic credentials here too: a
      // request that changes something must be JSON (no form can send that type) and, when a
      // browser sends it, come from the store's own origin
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        if (req.headers.origin !== undefined && !isSameOrigin(req, o.https)) throw denied('cross-site request refused');
        if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw invalid('a store request that changes something must be sent as Content-Type: application/json');
      }
      const account = await identify(req, { users, keys, issuer, service });
      await handleStoreApi(store, store.caller(account), req, res, p, query);
    })().catch((e) => sendStoreError(req, res, e));
  };

  const webHandler = (req: http.IncomingMessage, res: http.ServerResponse, p: string, query: URLSearchParams) => {
    void (async () => {
      // a wrong password in the browser counts as no login: pages that need one ask again
      const account = await identify(req, { users, keys, issuer, service }).catch((e: unknown) => {
        if (e instanceof StoreError && e.status === 401) return '';
        throw e;
      });
      await handleWeb(store, { req, res, path: p, query, account, host: req.headers.host ?? 'localhost', https: o.https });
    })().catch((e) => sendStoreError(req, res, e));
  };

  const handler: http.RequestListener = (req, res) => {
    let p = '';
    let query = new URLSearchParams();
    try {
      const t = parseRequestTarget(req.url);
      p = t.path;
      query = t.query;
    } catch {
      // the registry's handler answers malformed targets
    }
    if (p === '/token') return tokenHandler(req, res);
    if (p.startsWith(STORE_PREFIX)) return storeHandler(req, res, decodePathSegment(p), query);
    if (p === '/' || p === '/store') {
      req.resume();
      res.writeHead(302, { Location: WEB_PREFIX, 'Content-Length': 0 });
      return void res.end();
    }
    if (p.startsWith(WEB_PREFIX)) return webHandler(req, res, decodePathSegment(p), query);
    return registryHandler(req, res);
  };
  return { handler, store };
}
