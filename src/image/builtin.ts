import { importImage } from './import';
import type { Reference } from './reference';
import type { ImageStore } from './store';
import { busyboxRootfsTar } from './busybox-rootfs';

/**
 * The built-in `busybox:latest`, made from Debian's busybox-static so a daemon with no
 * network has an image to run. The layer tar and the config are deterministic, so the
 * image has the same ID on every daemon of the same machine image.
 */
export const BUILTIN_BUSYBOX = 'busybox:latest';
const CREATED = '2024-01-01T00:00:00Z';

export function isBuiltinReference(ref: Reference): boolean {
  return ref.domain === 'docker.io' && ref.path === 'library/busybox' && (ref.tag ?? 'latest') === 'latest' && !ref.digest;
}

export async function ensureBuiltinBusybox(store: ImageStore): Promise<string> {
  const existing = store.resolve(BUILTIN_BUSYBOX);
  if (existing) return existing.id;
  return importImage(store, busyboxRootfsTar(), {
    changes: ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["sh"]'],
    message: '',
    tag: BUILTIN_BUSYBOX,
    created: CREATED,
    createdBy: 'berth: busybox from Debian busybox-static',
  });
}
