import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Router } from '../router';
import { readJSONBody, sendJSON, sendNoContent } from '../respond';
import type { ContainerManager } from '../../container/manager';
import type { ContainerCreateBody } from '../types';
import { chainIDs, type ImageStore } from '../../image/store';
import { planSave, writeSaveArchive } from '../../image/archive/save';
import { conflict, invalid, notFound } from '../../common/errors';
import { logFiles } from '../../container/logs';
import { packLogFiles, unpackLogFiles } from '../../container/move-logs';
import type { VolumeStore } from '../../volume/store';
import { ScopedFS } from '../../archive/scoped-fs';
import { packLocation } from '../../archive/pack';
import { extractTar } from '../../archive/extract';
import { packUpperDir, unpackUpperDir } from '../../layer/upper-transfer';

export interface MoveRouteDeps {
  containers: ContainerManager;
  images: ImageStore;
  volumes: VolumeStore;
  dataRoot: string;
  log: (msg: string) => void;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * berth's own routes for `berth container move` between two berth daemons, under /berth/v1
 * (a Docker target is moved through the Engine API alone). They let the client send only
 * what the target lacks (the layers it holds are left out of the image archive), keep a
 * container's own layer apart from its image, and bring its log along. A container created
 * for a move stays "pending" until the client says it is whole; a daemon that restarts
 * before then removes it, so a move cut short never leaves a half-made copy.
 */
export function registerMoveRoutes(router: Router, d: MoveRouteDeps): void {
  /** How many of these layers, from the bottom, the daemon holds already. */
  router.add('POST', '/berth/v1/layers/present', async ({ req, res }) => {
    const body = await readJSONBody<{ DiffIDs?: unknown }>(req);
    if (!Array.isArray(body.DiffIDs) || !body.DiffIDs.every((x) => typeof x === 'string' && DIGEST.test(x))) throw invalid('DiffIDs must be a list of sha256 digests');
    const chain = chainIDs(body.DiffIDs as string[]);
    let present = 0;
    while (present < chain.length && d.images.hasLayer(chain[present])) present++;
    sendJSON(res, 200, { Present: present });
  });

  /** `docker save` of one image, leaving out the layers named in `omit-layers` (diff IDs). */
  router.add('GET', '/berth/v1/images/:name*/archive', async ({ res, params, query }) => {
    const omit = new Set((query.get('omit-layers') ?? '').split(',').filter(Boolean));
    for (const o of omit) if (!DIGEST.test(o)) throw invalid(`omit-layers: ${o} is not a sha256 digest`);
    const plan = planSave(d.images, [params.name]);
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await writeSaveArchive(d.images, plan, res, omit).catch(() => res.destroy());
  });

  /**
   * The container's own layer (its changes to the image), stopped containers only: a layer
   * tar, or with `format=overlay` (both daemons on overlay2) its upper directory as it is.
   */
  router.add('GET', '/berth/v1/containers/:id/layer', async ({ res, params, query }) => {
    const rec = d.containers.get(params.id);
    const overlay = layerFormat(query, d.images.snapshotter.driver);
    const hold = await d.containers.holdFiles(rec.ID);
    try {
      if (hold.running) throw conflict(`container ${rec.Name.slice(1)} is running: stop it before its layer is read`);
      const tar = overlay ? packUpperDir(await d.images.snapshotter.changesDir(rec.ID)) : d.images.snapshotter.diff(rec.ID);
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      // the header is out: all the client can be told is that the stream broke
      await pipeline(tar, res).catch((e: unknown) => {
        d.log(`sending the layer of ${rec.Name.slice(1)}: ${(e as Error).message}`);
        res.destroy();
      });
    } finally {
      await hold.release();
    }
  });

  /**
   * POST /containers/create's twin: the container is made pending (see above).
   * `anonymous-volumes` ({"/data": "NAME"}) keeps the names its anonymous volumes had.
   */
  router.add('POST', '/berth/v1/containers/create', async ({ req, res, query }) => {
    const body = await readJSONBody<ContainerCreateBody>(req);
    const name = query.get('name');
    if (!name) throw invalid('a moved container keeps its name: name is required');
    const anonymousVolumes = anonymousVolumeNames(query.get('anonymous-volumes'));
    // a move brings its anonymous volumes or makes them new: never another container's
    for (const v of Object.values(anonymousVolumes ?? {})) refuseVolumeInUse(d, v);
    sendJSON(res, 201, await d.containers.create(body, name, { movePending: true, imageName: query.get('image-name') || undefined, anonymousVolumes }));
  });

  /** Applies a layer tar to a container created for a move (and not yet whole). */
  router.add('PUT', '/berth/v1/containers/:id/layer', async ({ req, res, params, query }) => {
    const rec = d.containers.requireMovePending(params.id);
    if (layerFormat(query, d.images.snapshotter.driver)) await unpackUpperDir(req, await d.images.snapshotter.changesDir(rec.ID));
    else await d.images.snapshotter.apply(rec.ID, req);
    sendNoContent(res);
  });

  /** The container's log files (rotated ones first), as a tar. */
  router.add('GET', '/berth/v1/containers/:id/logfiles', async ({ res, params }) => {
    const rec = d.containers.get(params.id);
    const files = await logFiles(d.containers.logPath(rec.ID));
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await pipeline(packLogFiles(files), res).catch(() => res.destroy());
  });

  router.add('PUT', '/berth/v1/containers/:id/logfiles', async ({ req, res, params }) => {
    const rec = d.containers.requireMovePending(params.id);
    await unpackLogFiles(req, path.dirname(d.containers.logPath(rec.ID)), path.basename(d.containers.logPath(rec.ID)));
    sendNoContent(res);
  });

  /** The container is whole: it stays when the daemon restarts, and may start. */
  router.add('POST', '/berth/v1/containers/:id/move-complete', async ({ res, params }) => {
    await d.containers.completeMove(params.id);
    sendNoContent(res);
  });

  /**
   * The source's side: the container is leaving for another daemon (`to` names it, for the
   * log), so this daemon never starts it on its own until the move is undone or the user
   * starts it: a crash between the target's start and the removal here cannot leave two
   * running copies.
   */
  router.add('POST', '/berth/v1/containers/:id/move-begin', async ({ res, params, query }) => {
    await d.containers.beginMoveOut(params.id, query.get('to') || 'another daemon');
    sendNoContent(res);
  });

  /** The move was undone: the container is an ordinary one again. */
  router.add('POST', '/berth/v1/containers/:id/move-abort', async ({ res, params }) => {
    await d.containers.abortMoveOut(params.id);
    sendNoContent(res);
  });

  /** A volume's files as a tar whose names are relative to the volume ("./etc/x"). */
  router.add('GET', '/berth/v1/volumes/:name/archive', async ({ res, params }) => {
    const sfs = openVolume(d.volumes, params.name);
    const root = sfs.rootLocation();
    try {
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await pipeline(packLocation(sfs, root, '.'), res).catch(() => res.destroy());
    } finally {
      root.close();
      sfs.close();
    }
  });

  /** Extracts a tar into a volume, inside it whatever the tar's names and links say. */
  router.add('PUT', '/berth/v1/volumes/:name/archive', async ({ req, res, params }) => {
    // only into a volume the move made: none that a container here (other than one being moved in) uses
    refuseVolumeInUse(d, params.name);
    const sfs = openVolume(d.volumes, params.name);
    const root = sfs.rootLocation();
    try {
      await extractTar(sfs, root, req, { noOverwriteDirNonDir: false, owner: 'header', displayRoot: '/' });
    } finally {
      root.close();
      sfs.close();
    }
    sendNoContent(res);
  });

  /** Free and total bytes where images, containers and volumes are kept. */
  router.add('GET', '/berth/v1/system/disk', async ({ res }) => {
    const s = await fsp.statfs(d.dataRoot);
    sendJSON(res, 200, { Free: s.bavail * s.bsize, Total: s.blocks * s.bsize });
  });
}

/** A volume a container of this daemon uses (one still being moved here aside) is not a move's to fill or take. */
function refuseVolumeInUse(d: MoveRouteDeps, name: string): void {
  const users = d.containers.volumeUsers(name).filter((id) => !d.containers.get(id).MovePending);
  if (users.length) throw conflict(`volume ${name} is in use by container ${users[0].slice(0, 12)}`);
}

function anonymousVolumeNames(raw: string | null): Record<string, string> | undefined {
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid('anonymous-volumes: not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((n) => typeof n === 'string')) throw invalid('anonymous-volumes: an object of destination paths to volume names');
  return v as Record<string, string>;
}

function openVolume(volumes: VolumeStore, name: string): ScopedFS {
  if (!volumes.find(name)) throw notFound(`get ${name}: no such volume`);
  return ScopedFS.open(volumes.dataDir(name), [], 'refuse');
}

/** `format=overlay` asks for an overlay upper directory as it is; `layer` (the default) for a layer tar. */
function layerFormat(query: URLSearchParams, driver: string): boolean {
  const f = query.get('format') || 'layer';
  if (f !== 'layer' && f !== 'overlay') throw invalid(`unknown layer format ${f}: layer or overlay`);
  if (f === 'overlay' && driver !== 'overlay2') throw invalid(`the ${driver} storage driver has no overlay upper directory`);
  return f === 'overlay';
}
