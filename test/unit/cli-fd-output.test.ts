/**
 * The CLI's output straight to its descriptors (src/cli/fd-output.ts): written in order before
 * and after a command asks for the stream, whole through a pipe a slow reader drains, and a
 * reader that goes away ends the CLI quietly (as `berth ps | head` does).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

const fdOutputModule = path.join(__dirname, '..', '..', 'src', 'cli', 'fd-output.js');

/** Runs a script that has `out`, an FdOutput on fd 1. */
function script(body: string): string {
  return `const { FdOutput } = require(${JSON.stringify(fdOutputModule)}); const out = new FdOutput(1, () => process.stdout); ${body}`;
}

test('text written before and after the stream is opened comes out in order', () => {
  const r = spawnSync(process.execPath, ['-e', script(`out.write('one\\n'); out.write(Buffer.from('two\\n')); out.streamed.write('three\\n'); out.write('four\\n');`)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'one\ntwo\nthree\nfour\n');
});

test('4 MB through a pipe arrive whole, in order', async () => {
  const child = spawn(process.execPath, ['-e', script(`for (let i = 0; i < 40000; i++) out.write(String(i).padStart(99, '.') + '\\n');`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  // a slow reader: the pipe fills, and the writes wait for it
  for await (const c of child.stdout) {
    chunks.push(c as Buffer);
    if (chunks.length % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const lines = Buffer.concat(chunks).toString().split('\n');
  assert.equal(lines.length, 40001);
  assert.equal(lines[39999], '39999'.padStart(99, '.'));
  assert.ok(lines.slice(0, -1).every((l, i) => l === String(i).padStart(99, '.')));
});

test('a reader that goes away while the stream writes (after EAGAIN, or for a command that asked for it) ends the writer with status 0', async () => {
  const child = spawn(process.execPath, ['-e', script(`const w = () => { out.streamed.write('y\\n'.repeat(1000)); setImmediate(w); }; w();`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 0);
});

test('a reader that goes away ends the writer with status 0', async () => {
  const child = spawn(process.execPath, ['-e', script(`for (;;) out.write('y\\n'.repeat(1000));`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 0);
});
