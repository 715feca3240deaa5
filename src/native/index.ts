import * as path from 'node:path';

/**
 * The daemon's native addon (src/native/mount.c, built into dist/native/ by
 * scripts/build-native.js), or undefined when it was not built or BERTH_NATIVE=0: callers
 * then use the commands the addon saves them (mount(8), umount(8)).
 */
export interface NativeAddon {
  /** mount(2) on the thread pool; rejects with an Error whose `code` is the errno name */
  mount(source: string, target: string, fstype: string, flags: number, data: string): Promise<void>;
  /** umount2(2) on the thread pool */
  umount(target: string, flags: number): Promise<void>;
  /** rm -rf of an absolute path on the thread pool, within one file system (EBUSY at a mount); older builds lack it */
  removeTree?(path: string): Promise<void>;
  /** a sealed memfd holding a copy of the file (its descriptor, kept open); older builds lack it */
  sealedCopy?(path: string): number;
  /** chattr +T of a directory: "" when set, else the errno name; older builds lack it */
  markTopDir?(path: string): string;
}

/** umount2's flag for a lazy unmount */
export const MNT_DETACH = 2;

function load(): NativeAddon | undefined {
  if (process.env.BERTH_NATIVE === '0') return undefined;
  try {
    // dist/src/native/index.js → dist/native/berth_native.node
    return require(path.join(__dirname, '..', '..', 'native', 'berth_native.node')) as NativeAddon;
  } catch {
    return undefined;
  }
}

export const native: NativeAddon | undefined = load();
