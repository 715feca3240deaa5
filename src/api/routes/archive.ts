import type { ServerResponse } from 'node:http';
import { BerthError, invalid, notFound } from '../../common/errors';
import type { Router } from '../router';
import { queryBool } from '../respond';
import { decompressBody } from '../decompress';
import type { ContainerManager } from '../../container/manager';
import { resolveUser } from '../../container/user';
import type { Snapshotter } from '../../layer/snapshotter';
import { openContainerFiles, type ContainerFiles } from '../../archive/container';
import { extractTar } from '../../archive/extract';
import { packLocation } from '../../archive/pack';
import { assertsDirectory, encodePathStat, endsWithDot, goBase, pathStat, STAT_HEADER, type PathStat } from '../../archive/path-stat';
import { cleanTreePath, ScopeError, type Location } from '../../archive/scoped-fs';

export interface ArchiveRouteDeps {
  containers: ContainerManager;
  snapshotter: Snapshotter;
  /** where a stopped container's file system is mounted for the length of a request */
  tmpDir: string;
}

/**
 * `docker cp`: HEAD (stat), GET (a tar of a path) and PUT (a tar extracted into a
 * directory) on /containers/{id}/archive, for running and stopped containers alike.
 * Every path is resolved inside the container (src/archive/scoped-fs.ts).
 */
export function registerArchiveRoutes(router: Router, d: ArchiveRouteDeps): void {
  const open = (id: string) => openContainerFiles(d.containers, d.snapshotter, id, d.tmpDir);

  router.add('HEAD', '/containers/:id/archive', async ({ res, params, query }) => {
    const p = requiredPath(query);
    const cf = await open(params.id);
    try {
      const { loc, stat } = locate(cf, p, params.id);
      loc.close();
      res.writeHead(200, { 'Content-Type': 'application/json', [STAT_HEADER]: encodePathStat(stat) });
      res.end();
    } finally {
      await cf.release();
    }
  });

  router.add('GET', '/containers/:id/archive', async ({ res, params, query }) => {
    const p = requiredPath(query);
    const cf = await open(params.id);
    let loc: Location | undefined;
    try {
      const found = locate(cf, p, params.id);
      loc = found.loc;
      const tar = packLocation(cf.fs, loc, found.stat.name);
      res.writeHead(200, { 'Content-Type': 'application/x-tar', [STAT_HEADER]: encodePathStat(found.stat) });
      d.containers.publishEvent(cf.rec, 'archive-path', { path: p });
      await streamTo(tar, res);
    } finally {
      loc?.close();
      await cf.release();
    }
  });

  router.add('PUT', '/containers/:id/archive', async ({ req, res, params, query }) => {
    const p = requiredPath(query);
    const cf = await open(params.id);
    let loc: Location | undefined;
    try {
      // the extraction point's own symlink is followed: a link to a directory is a directory
      try {
        loc = resolveOrNotFound(cf, p, params.id, true);
        if (!loc.isDirFrame) throw invalid('extraction point is not a directory');
        const reason = readOnlyReason(cf, loc);
        if (reason) throw new BerthError('FORBIDDEN', reason);
      } catch (e) {
        // The client is still sending its tar: read it to the end first, or it meets a
        // closed connection (EPIPE) instead of this answer.
        await drain(req);
        throw e;
      }
      let owner: 'header' | { uid: number; gid: number } = 'header';
      if (queryBool(query, 'copyUIDGID') && cf.rec.Config.User) {
        // Docker's -a: the files become the container user's
        const u = await resolveUser(cf.fs.root, cf.rec.Config.User);
        owner = { uid: u.uid, gid: u.gid };
      }
      await extractTar(cf.fs, loc, decompressBody(req), {
        noOverwriteDirNonDir: queryBool(query, 'noOverwriteDirNonDir'),
        owner,
        readOnly: (at) => readOnlyReason(cf, at),
      });
      d.containers.publishEvent(cf.rec, 'extract-to-dir', { path: p });
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
    } finally {
      loc?.close();
      await cf.release();
    }
  });
}

function requiredPath(query: URLSearchParams): string {
  const p = query.get('path');
  if (!p) throw invalid('path cannot be empty');
  return p;
}

/**
 * What HEAD and GET describe: the path with its last component not followed, unless the
 * path ends in "/" or "/." (then it must be a directory), as Docker resolves it.
 */
function locate(cf: ContainerFiles, p: string, shownName: string): { loc: Location; stat: PathStat } {
  const follow = assertsDirectory(p);
  const loc = resolveOrNotFound(cf, p, shownName, follow);
  try {
    if (follow && !loc.isDirFrame) throw notFound(fileNotFound(p, shownName));
    const st = loc.lstat();
    let linkTarget = '';
    if (st.isSymbolicLink()) linkTarget = resolvedLinkTarget(cf, p);
    return { loc, stat: pathStat(goBase(requestedAbs(p)), st, linkTarget) };
  } catch (e) {
    loc.close();
    throw e;
  }
}

/** Where a symlink leads, resolved in the container, as an absolute container path. */
function resolvedLinkTarget(cf: ContainerFiles, p: string): string {
  try {
    const target = cf.fs.resolve(p, { followLast: true });
    target.close();
    return target.treePath;
  } catch {
    return '';
  }
}

function resolveOrNotFound(cf: ContainerFiles, p: string, shownName: string, followLast: boolean): Location {
  let loc: Location;
  try {
    loc = cf.fs.resolve(p, { followLast });
  } catch (e) {
    if (e instanceof ScopeError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) throw notFound(fileNotFound(p, shownName));
    if (e instanceof ScopeError) throw invalid(e.message);
    throw e;
  }
  if (!loc.exists) {
    loc.close();
    throw notFound(fileNotFound(p, shownName));
  }
  return loc;
}

function fileNotFound(p: string, container: string): string {
  return `Could not find the file ${p} in container ${container}`;
}

/** The path as an absolute container path that keeps a meaningful ending ("/etc/." stays). */
function requestedAbs(p: string): string {
  const clean = cleanTreePath(p);
  if (clean === '/') return '/';
  if (endsWithDot(p)) return `${clean}/.`;
  if (p.endsWith('/')) return `${clean}/`;
  return clean;
}

function drain(req: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.resume();
  });
}

function readOnlyReason(cf: ContainerFiles, loc: Location): string | undefined {
  const m = loc.mount;
  if (m) return m.readOnly ? 'mounted volume is marked read-only' : undefined;
  return cf.readonlyRootfs ? 'container rootfs is marked read-only' : undefined;
}

/** Pipes the tar into the answer; a client that goes away stops the walk. */
function streamTo(tar: NodeJS.ReadableStream & { destroy(e?: Error): void }, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => resolve();
    tar.on('error', () => {
      // the header is sent: all that can be done is cutting the stream, which the client sees
      res.destroy();
      done();
    });
    res.on('close', () => {
      tar.destroy();
      done();
    });
    tar.pipe(res);
  });
}
