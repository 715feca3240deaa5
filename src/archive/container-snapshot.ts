import type { Readable } from 'node:stream';
import type { ContainerConfig, ImageConfigFile } from '../api/types';
import { invalid } from '../common/errors';
import type { ContainerManager } from '../container/manager';
import type { ContainerRecord } from '../container/model';
import { hideMountPoints, withoutMountPoints } from '../container/mountpoints';
import { applyChanges } from '../image/changes';
import { chainIDs, type ImageStore } from '../image/store';
import { changes, type ContainerChange } from '../layer/changes';
import { exportTar } from '../layer/tar-export';
import { openContainerRoot } from './container';

export interface CommitOptions {
  /** `name:tag` to give the image, if any */
  target?: string;
  /** config fields that replace the container's */
  config?: ContainerConfig;
  /** Dockerfile instructions (`CMD ...`) applied to the config */
  changes: string[];
  author?: string;
  comment?: string;
  pause: boolean;
}

/**
 * `docker diff`, `docker export` and `docker commit`: a container's own files going out.
 * Each takes the hold on the container's files that `cp` takes (ContainerManager.holdFiles),
 * so a start or removal meanwhile waits and two mounts of one upper directory never happen.
 */
export class ContainerSnapshots {
  constructor(private readonly d: { containers: ContainerManager; images: ImageStore; tmpDir: string }) {}

  async changes(idOrName: string): Promise<ContainerChange[]> {
    const rec = this.d.containers.get(idOrName);
    const hold = await this.d.containers.holdFiles(rec.ID);
    try {
      return hideMountPoints(await changes(this.d.images.snapshotter, rec.ID));
    } finally {
      await hold.release();
    }
  }

  /** The container's root file system as a tar; `close()` lets go of it (also mid-stream). */
  async openExport(idOrName: string): Promise<{ tar: Readable; close: () => Promise<void> }> {
    const root = await openContainerRoot(this.d.containers, this.d.images.snapshotter, idOrName, this.d.tmpDir, { outliveRun: true });
    const tar = exportTar(root.dir);
    return {
      tar,
      close: async () => {
        tar.destroy();
        await root.release();
      },
    };
  }

  async commit(idOrName: string, o: CommitOptions): Promise<{ imageId: string; rec: ContainerRecord }> {
    const rec = this.d.containers.get(idOrName);
    const base = this.d.images.resolve(rec.Image);
    if (!base) throw invalid(`the image of container ${rec.ID} is gone`);
    const hold = await this.d.containers.holdFiles(rec.ID);
    let layer;
    try {
      const pause = o.pause && hold.running && !rec.State.Paused;
      if (pause) await this.d.containers.pause(rec.ID).catch(() => undefined);
      try {
        const parent = chainIDs(base.config.rootfs.diff_ids).pop();
        layer = await this.d.images.addLayer(withoutMountPoints(this.d.images.snapshotter.diff(rec.ID)), parent);
      } finally {
        if (pause) await this.d.containers.unpause(rec.ID).catch(() => undefined);
      }
    } finally {
      await hold.release();
    }
    const created = new Date().toISOString();
    const merged: ContainerConfig = { ...rec.Config, ...(o.config && Object.keys(o.config).length ? o.config : {}) };
    const config: ContainerConfig = applyChanges(merged, o.changes);
    delete config.Hostname;
    const image: ImageConfigFile = {
      architecture: base.config.architecture,
      os: base.config.os,
      created,
      author: o.author,
      comment: o.comment,
      config,
      container: rec.ID,
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, layer.diffID] },
      history: [...(base.config.history ?? []), { created, created_by: [rec.Path, ...rec.Args].join(' '), author: o.author, comment: o.comment }],
    };
    // a plain JSON copy: undefined fields go, as they would through a save and load
    const imageId = await this.d.images.addImage(JSON.parse(JSON.stringify(image)) as ImageConfigFile, o.target, undefined, { parent: base.id });
    return { imageId, rec };
  }
}
