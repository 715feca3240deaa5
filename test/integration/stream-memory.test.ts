import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { TestDaemon } from '../helpers/daemon';
import { sleep, until } from '../helpers/wait';

// A client that stops reading must not make berthd hold what the container writes, and what
// berthd held for it must be given back once it leaves (issue 15, items 3 and 4).
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

const MB = 1024 * 1024;
const FLOOD = 'while :; do cat /bin/busybox; done';

function rss(): number {
  const status = readFileSync(`/proc/${d.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** The highest RSS seen while `work` runs, sampled every 50 ms. */
async function peakDuring(work: Promise<unknown>): Promise<number> {
  let peak = rss();
  let done = false;
  void work.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    peak = Math.max(peak, rss());
    await sleep(50);
  }
  return Math.max(peak, rss());
}

/** A raw request on the daemon's socket whose answer is never read. */
function stalledClient(request: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(d.socket, () => {
      s.write(request);
      s.pause();
      resolve(s);
    });
    s.on('error', reject);
  });
}

async function settledRss(base: number, what: string): Promise<number> {
  // freed buffers reach the allocator at once; allow the heap a collection or two
  return until(what, async () => {
    const now = rss();
    return now < base + 60 * MB ? now : undefined;
  }, 30_000);
}

test('an attach client that never reads, on a flooding container, costs bounded memory that comes back', async () => {
  const run = await d.berth(['run', '-d', '--name', 'flood-attach', 'busybox', 'sh', '-c', FLOOD]);
  assert.equal(run.code, 0, run.stderr);
  const base = rss();
  const client = await stalledClient('POST /containers/flood-attach/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  try {
    // the container goes on writing for 8 s while this client reads nothing
    const peak = await peakDuring(sleep(8000));
    assert.ok(peak - base < 150 * MB, `RSS grew by ${Math.round((peak - base) / MB)} MB while the client stalled`);
  } finally {
    client.destroy();
  }
  await settledRss(base, 'berthd memory back near its idle level after the client left');
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'flood-attach'])).stdout.trim(), 'true', 'the container keeps running');
  await d.berth(['rm', '-f', 'flood-attach']);
});

test('a logs -f client that never reads costs bounded memory', async () => {
  const run = await d.berth(['run', '-d', '--name', 'flood-logs', 'busybox', 'sh', '-c', FLOOD]);
  assert.equal(run.code, 0, run.stderr);
  const base = rss();
  const client = await stalledClient('GET /containers/flood-logs/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\n\r\n');
  try {
    const peak = await peakDuring(sleep(8000));
    assert.ok(peak - base < 150 * MB, `RSS grew by ${Math.round((peak - base) / MB)} MB while the client stalled`);
  } finally {
    client.destroy();
  }
  await settledRss(base, 'berthd memory back near its idle level after the client left');
  await d.berth(['rm', '-f', 'flood-logs']);
});

test('logs --tail 1 of a 400 MB log reads only the end of it', async () => {
  // 400 MB of 100-byte lines, then one last line
  const run = await d.berth(['run', '--name', 'big-log', '--log-opt', 'max-size=-1', 'busybox', 'sh', '-c', 'yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -c 419430400; echo the-end'], { timeoutMs: 240_000 });
  assert.equal(run.code, 0, run.stderr);
  const base = rss();
  const tail = fetchLogs('/containers/big-log/logs?stdout=1&tail=1');
  const peak = await peakDuring(tail);
  assert.equal((await tail).subarray(8).toString(), 'the-end\n');
  assert.ok(peak - base < 100 * MB, `RSS grew by ${Math.round((peak - base) / MB)} MB for one line`);
  await d.berth(['rm', 'big-log']);
});

function fetchLogs(urlPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path: urlPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.end();
  });
}
