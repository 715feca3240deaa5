import * as http from 'node:http';
import { allowAll, requiredAccess, wantedAccess } from './auth/access';
import { Authorizer } from './auth/authorizer';
import { cleanPath, decodePathSegment, parseRequestTarget, type RequestTarget } from '../common/request-target';
import { regErr } from './errors';
import { checkName } from './reference';
import { BlobStore } from './store/blobs';
import { UploadStore } from './store/uploads';
import { StorageDriver } from './storage/driver';
import type { ForeignUrlPolicy } from './manifest';
import { base, Ctx, Registry, sendError } from './handlers/base';
import { deleteBlob, getBlob } from './handlers/blobs';
import { cancelUpload, patchUpload, putUpload, startUpload, uploadStatus } from './handlers/uploads';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests';
import { listTags } from './handlers/tags';
import { catalog } from './handlers/catalog';
import { listReferrers } from './handlers/referrers';

type Handler = (c: Ctx) => Promise<void>;
export type Resource = 'base' | 'catalog' | 'upload' | 'uploads' | 'blob' | 'manifest' | 'tags' | 'referrers';

const routes: Record<Resource, Partial<Record<string, Handler>>> = {
  base: { GET: base, HEAD: base },
  catalog: { GET: catalog },
  uploads: { POST: startUpload },
  upload: { PATCH: patchUpload, PUT: putUpload, GET: uploadStatus, DELETE: cancelUpload },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  tags: { GET: listTags },
  referrers: { GET: listReferrers },
};

// <name> may hold slashes: the shortest name after which the rest is a whole resource path
// wins, so a repository named "team/blobs" still routes.
const ROUTE = /^\/v2\/(.+?)\/(?:(blobs\/uploads)\/?([^/]*)|blobs\/([^/]+)|manifests\/([^/]+)|(tags)\/list|referrers\/([^/]+))$/;

export function route(pathname: string): { resource: Resource; name: string; ref: string } | undefined {
  if (pathname === '/v2/' || pathname === '/v2') return { resource: 'base', name: '', ref: '' };
  if (pathname === '/v2/_catalog') return { resource: 'catalog', name: '', ref: '' };
  const m = ROUTE.exec(pathname);
  if (!m) return undefined;
  const name = m[1];
  if (m[2]) return { resource: m[3] ? 'upload' : 'uploads', name, ref: m[3] };
  if (m[4] !== undefined) return { resource: 'blob', name, ref: m[4] };
  if (m[5] !== undefined) return { resource: 'manifest', name, ref: m[5] };
  if (m[6]) return { resource: 'tags', name, ref: '' };
  return { resource: 'referrers', name, ref: m[7] };
}

export function createRegistry(driver: StorageDriver, readOnly: boolean, foreignUrls: ForeignUrlPolicy = { allow: [] }): Registry {
  const blobs = new BlobStore(driver);
  return { driver, blobs, uploads: new UploadStore(driver, blobs), readOnly, foreignUrls };
}

/**
 * The registry's request handler. With an authorizer, every routed request is authorized for
 * what its route needs before anything else happens (the read-only check included, so
 * anonymous clients learn they must log in before they learn the registry is read-only).
 */
export function createHandler(app: Registry, authorizer?: Authorizer): http.RequestListener {
  return (req, res) => {
    const c: Ctx = { req, res, url: new URL('http://registry/'), app, name: '', ref: '', grant: allowAll() };
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    void (async () => {
      let target: RequestTarget;
      try {
        target = parseRequestTarget(req.url);
      } catch (e) {
        throw regErr('NAME_INVALID', `malformed path: ${(e as Error).message}`);
      }
      // as Distribution (gorilla/mux): a path that is not clean is redirected, never routed
      const clean = cleanPath(target.path);
      if (clean !== target.path) {
        req.resume();
        res.writeHead(301, { Location: clean + target.search, 'Content-Length': 0 });
        res.end();
        return;
      }
      // handlers read the path and query from here: the target as sent, on a fixed origin
      const url = new URL(target.path + target.search, 'http://registry');
      c.url = url;
      const pathname = decodePathSegment(url.pathname);
      const r = route(pathname);
      if (!r) throw regErr('NAME_UNKNOWN', `no route for ${url.pathname}`);
      const method = req.method ?? '';
      const h = routes[r.resource][method];
      if (!h) throw regErr('UNSUPPORTED', `${req.method} not allowed on ${url.pathname}`);
      c.name = r.resource === 'base' || r.resource === 'catalog' ? '' : checkName(r.name);
      c.ref = r.ref;
      if (authorizer) {
        const needed = requiredAccess(r.resource, method, c.name);
        c.grant = await authorizer.authorize(req, needed, wantedAccess(r.resource, method, url.searchParams));
      }
      if (app.readOnly && method !== 'GET' && method !== 'HEAD') {
        throw regErr('UNSUPPORTED', 'registry is in read-only mode');
      }
      await h(c);
    })().catch((e) => sendError(c, e));
  };
}
