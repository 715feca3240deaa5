import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { isErrno } from '../common/errors';

/**
 * Bytes a directory tree holds, counted as Docker counts a layer's size: the sizes
 * of everything but directories (regular files, symlinks), each inode once, so that
 * hardlinks are not counted twice.
 *
 * A directory's entries are read with synchronous calls (a layer of thousands of small
 * files would otherwise cost a thread-pool round trip per lstat); the event loop gets a
 * turn between directories, so a huge tree does not stall the daemon.
 */
export async function diskUsage(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const cur = stack.pop() as string;
    let names: string[];
    try {
      names = fs.readdirSync(cur);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue;
      throw e;
    }
    for (const [i, name] of names.entries()) {
      // a folder of a million files does not hold the daemon for seconds at a time
      if (i > 0 && i % 2048 === 0) await yieldToEvents();
      const p = path.join(cur, name);
      const st = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        stack.push(p);
        continue;
      }
      const inode = `${st.dev}:${st.ino}`;
      if (seen.has(inode)) continue;
      seen.add(inode);
      total += Number(st.size);
    }
    if (names.length > 0) await yieldToEvents();
  }
  return total;
}
