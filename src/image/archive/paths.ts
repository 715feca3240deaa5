import { invalid } from '../../common/errors';

/**
 * Names inside a save/load archive. The archive is never unpacked under its own names
 * (entries are spooled to numbered files), but a name that climbs out of the archive is
 * still refused outright: such an archive was made to attack whatever unpacks it, and
 * Docker refuses it too.
 */
export function cleanArchivePath(name: string): string {
  if (name.includes('\0')) throw unsafePath(name);
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw unsafePath(name);
    out.push(part);
  }
  return out.join('/');
}

/** Resolves a symlink's target, relative to the directory of the link, inside the archive. */
export function resolveLinkTarget(linkName: string, target: string): string {
  if (target.startsWith('/')) throw unsafePath(`${linkName} -> ${target}`);
  const parts = linkName.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw unsafePath(`${linkName} -> ${target}`);
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

function unsafePath(name: string): Error {
  return invalid(`invalid tar header: unsafe path ${JSON.stringify(name)} leaves the archive`);
}
