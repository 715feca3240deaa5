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
  // O_NONBLOCK: conmon keeps the FIFO open for reading; if it is gone, fail instead of hanging.
  const fh = await fsp.open(path.join(bundleDir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    await fh.write(`1 ${height} ${width}\n`);
  } finally {
    await fh.close();
  }
}
