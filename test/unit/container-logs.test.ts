import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linesBackward, logFiles, parseLogLine, readLogs, seekSince } from '../../src/container/logs';

test('conmon log lines parse into records with the newline restored for full lines', () => {
  const full = parseLogLine(Buffer.from('2026-11-28T01:34:45.658149694+00:00 stdout F hi there'));
  assert.equal(full?.stream, 'stdout');
  assert.equal(full?.data.toString(), 'hi there\n');
  assert.equal(full?.time, '2026-11-28T01:34:45.658149694Z');
  const partial = parseLogLine(Buffer.from('2026-11-28T03:34:45.1+02:00 stderr P no newline'));
  assert.equal(partial?.data.toString(), 'no newline');
  assert.equal(partial?.time, '2026-11-28T01:34:45.100000000Z');
  assert.equal(parseLogLine(Buffer.from('garbage')), undefined);
  const empty = parseLogLine(Buffer.from('2026-11-28T01:34:45.658149694+00:00 stdout F'));
  assert.equal(empty?.data.toString(), '\n');
});

test('readLogs filters streams, tail, since and until', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-logs-'));
  try {
    const file = path.join(dir, 'c.log');
    await fsp.writeFile(
      file,
      [
        '2026-01-01T00:00:01.000000000Z stdout F one',
        '2026-01-01T00:00:02.000000000Z stderr F two',
        '2026-01-01T00:00:03.000000000Z stdout F three',
        '2026-01-01T00:00:04.000000000Z stdout F four',
        '',
      ].join('\n'),
    );
    const read = async (o: Partial<Parameters<typeof readLogs>[1]>) => {
      const out: string[] = [];
      for await (const r of readLogs(file, { stdout: true, stderr: true, follow: false, isRunning: () => false, stopped: Promise.resolve(), aborted: new Promise(() => undefined), ...o })) out.push(r.data.toString().trim());
      return out;
    };
    assert.deepEqual(await read({}), ['one', 'two', 'three', 'four']);
    assert.deepEqual(await read({ stderr: false }), ['one', 'three', 'four']);
    assert.deepEqual(await read({ tail: 2 }), ['three', 'four']);
    assert.deepEqual(await read({ tail: 0 }), []);
    const t0 = Date.parse('2026-01-01T00:00:00Z') / 1000;
    assert.deepEqual(await read({ since: t0 + 2, until: t0 + 4 }), ['two', 'three']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

/** CRI lines at one a millisecond from t0, numbered. */
function criLines(from: number, count: number, t0 = Date.parse('2026-01-01T00:00:00Z')): string {
  let out = '';
  for (let i = from; i < from + count; i++) out += `${new Date(t0 + i).toISOString().replace('Z', '000000Z')} ${i % 3 === 0 ? 'stderr' : 'stdout'} F line ${i}${'.'.repeat(i % 50)}\n`;
  return out;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-logs-'));
  try {
    await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

const collect = async (file: string, o: Partial<Parameters<typeof readLogs>[1]>) => {
  const out: string[] = [];
  for await (const r of readLogs(file, { stdout: true, stderr: true, follow: false, isRunning: () => false, stopped: Promise.resolve(), aborted: new Promise(() => undefined), ...o })) out.push(r.data.toString().trim().replace(/\.+$/, ''));
  return out;
};
const numbers = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}`);

test('lines read from the end come last to first with their offsets, across blocks, without an unfinished last line', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'c.log');
    const text = criLines(0, 5000) + '2026-01-01T00:00:09.000000000Z stdout P unfinis';
    await fsp.writeFile(file, text);
    const fh = await fsp.open(file);
    try {
      const seen: string[] = [];
      for await (const { at, line } of linesBackward(fh, Buffer.byteLength(text))) {
        assert.equal(text.slice(at, at + line.length), line.toString(), `offset ${at}`);
        seen.push(line.toString());
      }
      assert.deepEqual(seen, text.split('\n').slice(0, -1).reverse());
    } finally {
      await fh.close();
    }
  });
});

test('tail, since and until read across rotated files in order', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'c.log');
    await fsp.writeFile(`${file}.2`, criLines(0, 3000));
    await fsp.writeFile(`${file}.1`, criLines(3000, 3000));
    await fsp.writeFile(file, criLines(6000, 3000));
    assert.deepEqual(await logFiles(file), [`${file}.2`, `${file}.1`, file]);
    assert.deepEqual(await collect(file, {}), numbers(0, 9000));
    assert.deepEqual(await collect(file, { tail: 1 }), ['line 8999']);
    assert.deepEqual(await collect(file, { tail: 3002 }), numbers(5998, 9000));
    assert.deepEqual(await collect(file, { tail: 20000 }), numbers(0, 9000));
    // stderr holds the multiples of three
    assert.deepEqual(await collect(file, { tail: 2, stdout: false }), ['line 8994', 'line 8997']);
    const t0 = Date.parse('2026-01-01T00:00:00Z') / 1000;
    assert.deepEqual(await collect(file, { since: t0 + 2.9985, until: t0 + 3.002 }), numbers(2999, 3002));
    assert.deepEqual(await collect(file, { since: t0 + 7 }), numbers(7000, 9000));
    assert.deepEqual(await collect(file, { since: t0 + 100 }), []);
    assert.deepEqual(await collect(file, { until: t0 + 0.002 }), numbers(0, 2));
    assert.deepEqual(await collect(file, { tail: 2, until: t0 + 5 }), numbers(4998, 5000));
    assert.deepEqual(await collect(file, { tail: 5, since: t0 + 8.998 }), numbers(8998, 9000));
  });
});

test('since is found by bisection: the start is at most a block before the first record it wants', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'c.log');
    const text = criLines(0, 100_000);
    await fsp.writeFile(file, text);
    const fh = await fsp.open(file);
    try {
      const t0 = Date.parse('2026-01-01T00:00:00Z') / 1000;
      const at = await seekSince(fh, Buffer.byteLength(text), t0 + 61.234);
      const exact = text.indexOf('line 61234');
      const lineStart = text.lastIndexOf('\n', exact) + 1;
      assert.ok(at <= lineStart && lineStart - at <= 64 * 1024, `start ${at}, record at ${lineStart}`);
      assert.equal(at === 0 || text[at - 1] === '\n', true, 'a line start');
    } finally {
      await fh.close();
    }
  });
});

test('a follower goes on in the new file after a rotation, missing nothing', async () => {
  await withDir(async (dir) => {
    const file = path.join(dir, 'c.log');
    await fsp.writeFile(file, criLines(0, 10));
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const got: string[] = [];
    const reading = (async () => {
      for await (const r of readLogs(file, { stdout: true, stderr: true, follow: true, isRunning: () => true, stopped, aborted: new Promise(() => undefined) })) {
        got.push(r.data.toString().trim().replace(/\.+$/, ''));
        if (got.length === 10) {
          // conmon's way: more in the old file, the rename, then a new file in its place
          await fsp.appendFile(file, criLines(10, 5));
          await fsp.rename(file, `${file}.1`);
          await fsp.appendFile(`${file}.1`, criLines(15, 5));
          await fsp.writeFile(file, criLines(20, 5));
        }
        if (got.length === 12) {
          // two rotations before the follower reads on: it goes through both files in turn
          await fsp.appendFile(file, criLines(25, 5));
          await fsp.rename(`${file}.1`, `${file}.2`);
          await fsp.rename(file, `${file}.1`);
          await fsp.writeFile(file, criLines(30, 5));
          await fsp.rename(`${file}.2`, `${file}.3`);
          await fsp.rename(`${file}.1`, `${file}.2`);
          await fsp.rename(file, `${file}.1`);
          await fsp.writeFile(file, criLines(35, 5));
        }
        if (got.length === 40) stop();
      }
    })();
    await reading;
    assert.deepEqual(got, numbers(0, 40));
  });
});
