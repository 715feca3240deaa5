import { promises as fsp, constants } from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../common/errors';

/**
 * Resizes the terminal conmon holds for a container or an exec: conmon reads control
 * messages "TYPE HEIGHT WIDTH\n" from the `ctl` FIFO in the bundle; type 1 is a resize.
 */
export async function resizeConsole(bundleDir: string, height: number, width: number): Promise<void> {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0 || height > 65535 || width > 65535) {
    throw invalid(`invalid terminal size ${height}x${width}: height and width must be between 0 and 65535`);
  }
  return sendControl(bundleDir, `1 ${height} ${width}\n`);
}

/** Makes conmon reopen the container's log file (control message type 2), after a rotation. */
export function reopenLog(bundleDir: string): Promise<void> {
  return sendControl(bundleDir, '2 0 0\n');
}

function sendControl(bundleDir: string, message: string): Promise<void> {
  // conmon handles one message per read of the FIFO: two resizes written back to back (the
  // docker CLI sends h+1,w+1 then h,w) could arrive in one read and lose the second.
  const prev = queue.get(bundleDir) ?? Promise.resolve();
  const next = prev.then(async () => {
    // O_NONBLOCK: conmon keeps the FIFO open for reading; if it is gone, fail instead of hanging.
    const fh = await fsp.open(path.join(bundleDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await fh.write(message);
    } finally {
      await fh.close();
    }
    await new Promise((r) => setTimeout(r, 20));
  });
  const tail = next.catch(() => undefined);
  queue.set(bundleDir, tail);
  void tail.then(() => {
    if (queue.get(bundleDir) === tail) queue.delete(bundleDir);
  });
  return next;
}

const queue = new Map<string, Promise<unknown>>();
