import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as tar from 'tar-stream';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

/**
 * A GET whose reader stops after its first chunk until `resume()`; `done` gives the size of
 * each file entry in the tar it received.
 */
function stalledTarRead(socketPath: string, urlPath: string): { resume: () => void; firstChunk: Promise<void>; done: Promise<Map<string, number>> } {
  let resume!: () => void;
  const resumed = new Promise<void>((r) => (resume = r));
  let gotFirst!: () => void;
  const firstChunk = new Promise<void>((r) => (gotFirst = r));
  const done = new Promise<Map<string, number>>((resolve, reject) => {
    const req = http.request({ socketPath, path: urlPath }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      const sizes = new Map<string, number>();
      const extract = tar.extract();
      extract.on('entry', (h, stream, next) => {
        let n = 0;
        stream.on('data', (c: unknown) => (n += (c as Buffer).length));
        stream.on('end', () => {
          if (h.type === 'file') sizes.set(h.name.replace(/^\.?\//, ''), n);
          next();
        });
      });
      extract.on('finish', () => resolve(sizes));
      extract.on('error', reject);
      res.once('data', () => {
        res.pause();
        gotFirst();
        void resumed.then(() => res.resume());
      });
      res.pipe(extract);
    });
    req.on('error', reject);
    req.end();
  });
  return { resume, firstChunk, done };
}

const BIG = 64 * 1024 * 1024;

test('an export of a stopped container holds it: a start waits until the export ends', async () => {
  assert.equal((await d.berth(['run', '--name', 'exp-stopped', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null'])).code, 0);
  const read = stalledTarRead(d.socket, '/containers/exp-stopped/export');
  await read.firstChunk;
  let startDone = false;
  const start = d.api('POST', '/containers/exp-stopped/start').then((r) => {
    startDone = true;
    return r;
  });
  // the start is queued behind the export's hold; a status read is not
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'exp-stopped'])).stdout.trim(), 'exited');
  assert.equal(startDone, false, 'the start waits for the export');
  read.resume();
  const sizes = await read.done;
  assert.equal(sizes.get('big'), BIG);
  assert.equal((await start).status, 204);
  assert.equal((await d.berth(['rm', '-f', 'exp-stopped'])).code, 0);
});

test('an export of a running container keeps its files through a forced removal, which waits for it', async () => {
  const r = await d.berth(['run', '-d', '--name', 'exp-running', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null; touch /ready; sleep 600']);
  assert.equal(r.code, 0, r.stderr);
  for (let i = 0; i < 200 && (await d.berth(['exec', 'exp-running', 'test', '-e', '/ready'])).code !== 0; i++) await new Promise((res) => setTimeout(res, 100));
  const read = stalledTarRead(d.socket, '/containers/exp-running/export');
  await read.firstChunk;
  let removed = false;
  const rm = d.api('DELETE', '/containers/exp-running?force=1').then((res) => {
    removed = true;
    return res;
  });
  // the removal stops the container at once, then waits for the export before taking its files
  for (let i = 0; i < 100; i++) {
    const s = await d.api('GET', '/containers/exp-running/json');
    if (s.status === 200 && s.json().State.Running === false) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(removed, false, 'the removal waits for the export');
  read.resume();
  const sizes = await read.done;
  assert.equal(sizes.get('big'), BIG, 'the export read the whole file though the container stopped meanwhile');
  assert.equal((await rm).status, 204);
  assert.equal((await d.api('GET', '/containers/exp-running/json')).status, 404);
});
