import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseLogLine, readLogs } from '../../src/container/logs';

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
