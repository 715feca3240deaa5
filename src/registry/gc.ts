import { manifestRefs, parseManifest } from './manifest';
import { BlobStore } from './store/blobs';
import { listRepositories, Repository } from './store/repository';
import { UploadStore } from './store/uploads';
import { layerLink } from './store/paths';
import { orUndefined, StorageDriver } from './storage/driver';

/**
 * Mark and sweep over the shared blob store.
 *
 * Mark: every manifest revision in every repository, and everything it references (config,
 * layers, index children, subject). Blobs named by an upload session younger than
 * `uploadGraceMs` that is committing are marked too, so a push in flight keeps its blob.
 * Sweep: every other blob goes, with the repository links that point at it; upload sessions
 * idle for longer than the grace period go too.
 *
 * Layers linked into a repository within the grace period are marked as well: they may belong
 * to a push whose manifest has not arrived yet. So gc may run while the registry serves pushes
 * (Docker's registry asks for read-only mode instead).
 */
export interface GcResult {
  marked: string[];
  swept: string[];
  staleUploads: string[];
}

export async function collectGarbage(
  d: StorageDriver,
  opts: { dryRun?: boolean; uploadGraceMs?: number; now?: number; log?: (line: string) => void } = {},
): Promise<GcResult> {
  const blobs = new BlobStore(d);
  const uploads = new UploadStore(d, blobs);
  const now = opts.now ?? Date.now();
  const grace = opts.uploadGraceMs ?? 60 * 60 * 1000;
  const log = opts.log ?? (() => {});
  const marked = new Set<string>();

  const repos = await listRepositories(d);
  for (const name of repos) {
    const r = new Repository(d, name);
    for (const digest of await r.revisions()) {
      marked.add(digest);
      const bytes = await orUndefined(blobs.get(digest));
      if (!bytes) continue;
      let refs;
      try {
        refs = manifestRefs(parseManifest(bytes));
      } catch {
        continue; // stored manifests were validated at push; an unreadable one marks only itself
      }
      for (const b of refs.blobs) marked.add(b.digest);
      for (const m of refs.manifests) marked.add(m.digest);
      if (refs.subject) marked.add(refs.subject.digest);
    }
  }

  // A push uploads its layers before its manifest: a layer linked within the grace period
  // may be waiting for a manifest still to come, so it is kept.
  for (const name of repos) {
    const r = new Repository(d, name);
    for (const digest of await r.layers()) {
      if (marked.has(digest)) continue;
      const info = await orUndefined(d.stat(layerLink(name, digest)));
      if (info && now - info.modTime.getTime() < grace) marked.add(digest);
    }
  }

  const staleUploads: string[] = [];
  for (const { state, modTime } of await uploads.all()) {
    const age = now - Math.max(modTime.getTime(), Date.parse(state.startedAt));
    if (age > grace) staleUploads.push(state.uuid);
    else if (state.committing) marked.add(state.committing);
  }

  const swept: string[] = [];
  for (const digest of await blobs.all()) {
    if (marked.has(digest)) continue;
    swept.push(digest);
    log(`${opts.dryRun ? 'would delete' : 'delete'} blob ${digest}`);
    if (!opts.dryRun) await blobs.delete(digest);
  }

  if (!opts.dryRun) {
    const gone = new Set(swept);
    for (const name of repos) {
      const r = new Repository(d, name);
      for (const l of await r.layers()) if (gone.has(l)) await r.unlinkLayer(l);
    }
  }
  for (const uuid of staleUploads) {
    log(`${opts.dryRun ? 'would delete' : 'delete'} stale upload ${uuid}`);
    if (!opts.dryRun) await uploads.cancel(uuid);
  }
  return { marked: [...marked].sort(), swept, staleUploads };
}
