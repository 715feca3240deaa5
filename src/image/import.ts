import type { Readable } from 'node:stream';
import type { ImageConfigFile } from '../api/types';
import { applyChanges } from './changes';
import type { ImageStore } from './store';

export interface ImportOptions {
  changes: string[];
  message: string;
  tag?: string;
  /** fixed creation time, for images that must have the same ID every time */
  created?: string;
  /** the history entry's created_by */
  createdBy?: string;
}

/** `docker import`: one layer from a root filesystem tar, with a config from `--change`. */
export async function importImage(store: ImageStore, tar: Readable, o: ImportOptions): Promise<string> {
  const changes = o.changes.flatMap((c) => c.split('\n')).filter((c) => c.trim());
  // Validate the changes before the (possibly large) layer is unpacked.
  const containerConfig = applyChanges({}, changes);
  const layer = await store.addLayer(tar);
  const created = o.created ?? new Date().toISOString();
  const config: ImageConfigFile = {
    architecture: 'amd64',
    os: 'linux',
    created,
    config: containerConfig,
    rootfs: { type: 'layers', diff_ids: [layer.diffID] },
    history: [{ created, created_by: o.createdBy, comment: o.message || 'Imported from -' }],
  };
  if (!o.createdBy) delete config.history![0].created_by;
  if (o.message) config.comment = o.message;
  return store.addImage(config, o.tag);
}
