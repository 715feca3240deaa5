import type { ContainerConfig, ImageConfigFile } from '../api/types';
import type { ImageStore } from '../image/store';

type State = ImageConfigFile;
type HistoryEntry = NonNullable<State['history']>[number];

/**
 * `cachefrom` (`docker build --cache-from`) as Docker's classic builder has it: once a build
 * names sources, only their lines are cache. A step's recorded result counts when a source
 * descends from it (the source's history and layers begin with the result's); a step with no
 * such record is matched against the sources' histories: a source that started from the same
 * state and whose next history entry was written by the same step gives that entry, and its
 * layer, as the step's result (how an image pulled from elsewhere serves as cache).
 */
export class CacheFromSources {
  private constructor(private readonly sources: State[]) {}

  /** Names that are no image are left out, as Docker does: a build with none of them has no cache. */
  static resolve(names: string[], images: ImageStore): CacheFromSources {
    const sources: State[] = [];
    for (const name of names) {
      const img = name ? images.resolve(name) : undefined;
      if (img) sources.push(img.config);
    }
    return new CacheFromSources(sources);
  }

  /** A cached result is a state some source descends from. */
  allows(result: State): boolean {
    return this.sources.some((s) => descendsFrom(s, result));
  }

  /** The state a source reached from `parent` by the step whose history says `createdBy`, given the step's config. */
  restore(parent: State, createdBy: string, config: ContainerConfig): State | undefined {
    const at = parent.history?.length ?? 0;
    for (const s of this.sources) {
      const entry = s.history?.[at];
      if (!entry || entry.created_by !== createdBy || !descendsFrom(s, parent)) continue;
      const diffIDs = [...parent.rootfs.diff_ids];
      if (!entry.empty_layer) {
        const layer = s.rootfs.diff_ids[diffIDs.length];
        if (!layer) continue;
        diffIDs.push(layer);
      }
      return { ...parent, config, rootfs: { type: 'layers', diff_ids: diffIDs }, history: [...(parent.history ?? []), entry] };
    }
    return undefined;
  }
}

/** `image`'s history and layers begin with `state`'s. */
function descendsFrom(image: State, state: State): boolean {
  const ih = image.history ?? [];
  const sh = state.history ?? [];
  if (sh.length > ih.length || state.rootfs.diff_ids.length > image.rootfs.diff_ids.length) return false;
  return sh.every((h, i) => sameEntry(h, ih[i])) && state.rootfs.diff_ids.every((d, i) => image.rootfs.diff_ids[i] === d);
}

function sameEntry(a: HistoryEntry, b: HistoryEntry): boolean {
  return a.created === b.created && a.created_by === b.created_by && !!a.empty_layer === !!b.empty_layer && (a.comment ?? '') === (b.comment ?? '') && (a.author ?? '') === (b.author ?? '');
}
