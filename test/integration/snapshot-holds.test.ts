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

/** `work`'s result, and whether `other` had already settled when `work` settled. */
async function settledBefore<T>(work: Promise<T>, other: { done: boolean }): Promise<{ value: T; otherDone: boolean }> {
  const value = await work;
  return { value, otherDone: other.done };
}

/** A request whose completion can be looked at while it is pending; `headers`: its answer began. */
function tracked(method: string, urlPath: string): { done: boolean; headers: Promise<void>; result: Promise<{ status: number; body: string }> } {
  let gotHeaders!: () => void;
  let failed!: (e: Error) => void;
  const headers = new Promise<void>((resolve, reject) => {
    gotHeaders = resolve;
    failed = reject;
  });
  headers.catch(() => undefined); // also reported by `result`
  const result = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path: urlPath, method }, (res) => {
      gotHeaders();
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (e) => {
      failed(e);
      reject(e);
    });
    req.end();
  });
  const t = { done: false, headers, result };
  t.result = t.result.then((r) => {
    t.done = true;
    return r;
  });
  return t;
}

// the container's own files: 256 MB of random data, which a commit must copy into a layer and
// hash (seconds, on this machine), and 100,000 files, which a diff must walk (about a second,
// where a start takes a tenth of that and a removal deletes them from under the walk)
const SLOW_COMMIT = 'head -c 268435456 /dev/urandom > /big';
const MANY = 100_000;
const SLOW_DIFF = `mkdir /many && cd /many && seq 1 ${MANY} | xargs touch`;

test('a commit of a stopped container holds it: a start waits until the commit ends', async () => {
  assert.equal((await d.berth(['run', '--name', 'commit-stopped', 'busybox', 'sh', '-c', SLOW_COMMIT], { timeoutMs: 120_000 })).code, 0);
  const commit = tracked('POST', '/commit?container=commit-stopped&repo=held&tag=commit');
  await new Promise((res) => setTimeout(res, 100));
  const start = tracked('POST', '/containers/commit-stopped/start');
  // the start is queued behind the commit's hold; a status read is not
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'commit-stopped'])).stdout.trim(), 'exited');
  assert.equal(commit.done, false, 'the commit takes longer than an inspect (else this test shows nothing)');
  assert.equal(start.done, false, 'the start waits for the commit');
  const committed = await settledBefore(commit.result, start);
  assert.equal(committed.value.status, 201, committed.value.body);
  assert.equal(committed.otherDone, false, 'the start ended only after the commit');
  assert.equal((await start.result).status, 204);
  // the image holds the file whole
  const size = await d.berth(['run', '--rm', 'held:commit', 'stat', '-c', '%s', '/big']);
  assert.equal(size.stdout.trim(), '268435456', size.stderr);
  assert.equal((await d.berth(['rm', '-f', 'commit-stopped'])).code, 0);
  assert.equal((await d.berth(['rmi', 'held:commit'])).code, 0);
});

test('a commit of a stopped container holds it: a removal waits until the commit ends', async () => {
  assert.equal((await d.berth(['run', '--name', 'commit-rm', 'busybox', 'sh', '-c', SLOW_COMMIT], { timeoutMs: 120_000 })).code, 0);
  const commit = tracked('POST', '/commit?container=commit-rm&repo=held&tag=rm');
  await new Promise((res) => setTimeout(res, 100));
  const rm = tracked('DELETE', '/containers/commit-rm');
  assert.equal((await d.api('GET', '/containers/commit-rm/json')).status, 200, 'the container is still there while the commit runs');
  assert.equal(commit.done, false, 'the commit takes longer than an inspect (else this test shows nothing)');
  assert.equal(rm.done, false, 'the removal waits for the commit');
  const committed = await settledBefore(commit.result, rm);
  assert.equal(committed.value.status, 201, committed.value.body);
  // (whole is the contract: a removal answers in a few ms now, as soon as the commit lets go,
  // so which answer reaches the client first is a race)
  assert.equal((await rm.result).status, 204);
  assert.equal((await d.api('GET', '/containers/commit-rm/json')).status, 404);
  const size = await d.berth(['run', '--rm', 'held:rm', 'stat', '-c', '%s', '/big']);
  assert.equal(size.stdout.trim(), '268435456', size.stderr);
  assert.equal((await d.berth(['rmi', 'held:rm'])).code, 0);
});

test('a diff of a stopped container holds it: a start waits until the diff ends', async () => {
  assert.equal((await d.berth(['run', '--name', 'diff-held', 'busybox', 'sh', '-c', SLOW_DIFF], { timeoutMs: 120_000 })).code, 0);
  const diff = tracked('GET', '/containers/diff-held/changes');
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(diff.done, false, 'the diff is still being made when the start is sent');
  const start = tracked('POST', '/containers/diff-held/start');
  // compared when the diff's answer begins, not when its last byte is read: the hold ends once
  // the answer is written, and a loaded test process may read a start's short answer first
  const startDoneAtAnswer = await diff.headers.then(() => start.done);
  assert.equal(startDoneAtAnswer, false, 'the start ended only after the diff');
  const listed = await diff.result;
  assert.equal(listed.status, 200, listed.body);
  assert.equal((await start.result).status, 204);
  // (the command runs again, fails at mkdir, and the container stops)
  assert.equal((await d.berth(['wait', 'diff-held'])).code, 0);
});

test('a diff of a stopped container holds it: a removal waits until the diff ends, and the diff is whole', async () => {
  const diff = tracked('GET', '/containers/diff-held/changes');
  await new Promise((res) => setTimeout(res, 50));
  const rm = tracked('DELETE', '/containers/diff-held');
  const listed = await settledBefore(diff.result, rm);
  assert.equal(listed.value.status, 200, listed.value.body);
  // (whole is the contract: a removal answers in a few ms now, as soon as the diff lets go,
  // so which answer reaches the client first is a race)
  const paths = new Set((JSON.parse(listed.value.body) as { Path: string }[]).map((c) => c.Path));
  assert.ok(paths.has('/many/1') && paths.has(`/many/${MANY}`), `${paths.size} changes listed`);
  assert.equal((await rm.result).status, 204);
  assert.equal((await d.api('GET', '/containers/diff-held/json')).status, 404);
});
