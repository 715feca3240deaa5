import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, type TestDaemon } from './daemon';

/** the tag of the reaper image: testcontainers starts it when RYUK_CONTAINER_IMAGE names it */
export const RYUK_IMAGE = 'berth-test/ryuk:local';

/**
 * Builds the project's own Ryuk (test/helpers/ryuk/ryuk.c, static) into an image of one file on
 * `d`: testcontainers/ryuk cannot be pulled here.
 */
export async function buildRyukImage(d: TestDaemon): Promise<string> {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-ryuk-'));
  try {
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(work, 'ryuk'), path.join(REPO, 'test', 'helpers', 'ryuk', 'ryuk.c')]);
    // the label is the image's, as in testcontainers/ryuk: it is how testcontainers finds a
    // running reaper to share, and how the reaper knows itself among the session's containers
    await fsp.writeFile(path.join(work, 'Dockerfile'), 'FROM scratch\nCOPY ryuk /ryuk\nLABEL org.testcontainers.ryuk=true\nEXPOSE 8080\nENTRYPOINT ["/ryuk"]\n');
    const b = await d.berth(['build', '-q', '-t', RYUK_IMAGE, work]);
    if (b.code !== 0) throw new Error(`building the reaper image failed: ${b.stderr}`);
    return RYUK_IMAGE;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
