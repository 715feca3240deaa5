/**
 * `berth context import` takes an archive as hostile input: only meta.json and the TLS files,
 * each at most 1 MiB, and a meta.json that is a context's metadata with a Host it can parse;
 * anything else is refused with a clear error and nothing is stored.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { runCli } from '../helpers/fake-engine';

async function archive(entries: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of Object.entries(entries)) pack.entry({ name }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function importing(entries: Record<string, string | Buffer>): Promise<{ code: number; stderr: string; stored: string[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-ctx-import-'));
  try {
    const file = path.join(dir, 'ctx.tar');
    writeFileSync(file, await archive(entries));
    const config = path.join(dir, 'config');
    const r = await runCli(['context', 'import', 'imported', file], { env: { DOCKER_CONFIG: config } });
    const meta = path.join(config, 'contexts', 'meta');
    return { code: r.code, stderr: r.stderr, stored: existsSync(meta) ? readdirSync(meta) : [] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const meta = (m: unknown) => JSON.stringify(m);

test('a context archive imports, with its TLS files; an oversized entry is left out', async () => {
  const r = await importing({
    'meta.json': meta({ Name: 'x', Metadata: {}, Endpoints: { docker: { Host: 'tcp://127.0.0.1:2376' } } }),
    'tls/docker/ca.pem': 'CA',
    'tls/docker/extra.pem': Buffer.alloc(2 << 20),
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stored.length, 1);
});

test('meta.json that is not a context: null, an array, endpoints of the wrong kind, a Host that is not one', async () => {
  for (const [bad, why] of [
    ['null', /not a context's metadata/],
    ['[1,2]', /not a context's metadata/],
    [meta({ Endpoints: 5 }), /not a context's metadata/],
    [meta({ Endpoints: { docker: 'tcp://x' } }), /not a context's metadata/],
    [meta({ Endpoints: { docker: { Host: 7 } } }), /Host is not a string/],
    [meta({ Endpoints: { docker: { Host: 'ssh://u@h/run/$(reboot).sock' } } }), /invalid meta.json/],
    ['{not json', /invalid meta.json/],
  ] as [string, RegExp][]) {
    const r = await importing({ 'meta.json': bad });
    assert.equal(r.code, 1, bad);
    assert.match(r.stderr, why, bad);
    assert.deepEqual(r.stored, [], `nothing stored for ${bad}`);
  }
  const none = await importing({ 'other.json': '{}' });
  assert.match(none.stderr, /no meta.json/);
});
