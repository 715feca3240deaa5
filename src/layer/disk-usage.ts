import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../common/errors';

/**
 * Bytes a directory tree holds, counted as Docker counts a layer's size: the sizes
 * of everything but directories (regular files, symlinks), each inode once, so that
 * hardlinks are not counted twice.
 */
export async function diskUsage(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const cur = stack.pop() as string;
    let names: string[];
    try {
      names = await fsp.readdir(cur);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue;
      throw e;
    }
    for (const name of names) {
      const p = path.join(cur, name);
      const st = await fsp.lstat(p, { bigint: true });
      if (st.isDirectory()) {
        stack.push(p);
        continue;
      }
      const inode = `${st.dev}:${st.ino}`;
      if (seen.has(inode)) continue;
      seen.add(inode);
      total += Number(st.size);
    }
  }
  return total;
}
