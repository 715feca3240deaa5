import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, runCommand } from '../helpers/daemon';

// The build cache in `system df` and `builder prune`: what a cache record holds is measured
// against a step that writes a file of known size.
let d: TestDaemon;
let dir: string;

const MiB = 1024 * 1024;
// the first stage's 3 MiB layer is held by the build cache alone: the image has only what it copies
const DOCKERFILE = `FROM busybox AS blob
RUN dd if=/dev/zero of=/blob bs=1M count=3 2>/dev/null && wc -c < /blob > /size
FROM busybox
ENV KIND=cache-test
COPY --from=blob /size /size
CMD ["cat", "/size"]
`;

interface CacheRecord {
  ID: string;
  Parents: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

interface DiskUsage {
  LayersSize: number;
  BuildCache: CacheRecord[];
  BuilderSize: number;
}

before(async () => {
  d = await TestDaemon.start();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-bcache-'));
  await fsp.writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
});

after(async () => {
  await d?.cleanup();
  if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

async function df(): Promise<DiskUsage> {
  const r = await d.api('GET', '/system/df');
  assert.equal(r.status, 200, r.body);
  return r.json() as DiskUsage;
}

async function build(tag: string): Promise<string> {
  const b = await d.berth(['build', '-t', tag, dir]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  return b.stdout;
}

/** The output of the numbered step ("Step 2/6 : RUN ..." up to the next step). */
const stepOutput = (out: string, n: number) => out.split(/(?=Step \d+\/)/).find((s) => s.startsWith(`Step ${n}/`)) ?? '';

/** "Total reclaimed space: 3.146MB" → bytes (docker's decimal units). */
function reclaimedBytes(out: string): number {
  const m = /Total reclaimed space: ([\d.]+)(B|kB|MB|GB)\n/.exec(out);
  assert.ok(m, out);
  return Number(m[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'B']!;
}

test('system df lists the build cache records with the bytes their steps wrote', async () => {
  const before = await df();
  assert.deepEqual(before.BuildCache, [], 'a new daemon has no build cache');
  assert.equal(before.BuilderSize, 0);
  await build('bcache:1');
  assert.equal((await d.berth(['run', '--rm', 'bcache:1'])).stdout.trim(), String(3 * MiB));

  const u = await df();
  const blob = u.BuildCache.find((r) => /^RUN dd /.test(r.Description));
  assert.ok(blob, JSON.stringify(u.BuildCache, null, 1));
  assert.ok(blob.Size >= 3 * MiB && blob.Size < 4 * MiB, `the RUN record holds its layer: ${blob.Size}`);
  assert.equal(blob.Type, 'regular');
  assert.equal(blob.Shared, false, 'no image has the first stage layer');
  assert.equal(blob.InUse, false);
  assert.equal(blob.UsageCount, 0);
  assert.equal(blob.LastUsedAt, null);
  assert.ok(Math.abs(Date.parse(blob.CreatedAt) - Date.now()) < 120_000, blob.CreatedAt);
  assert.match(blob.ID, /^[0-9a-f]{64}$/);

  const copy = u.BuildCache.find((r) => /^COPY --from=blob/.test(r.Description));
  assert.ok(copy, JSON.stringify(u.BuildCache, null, 1));
  assert.equal(copy.Shared, true, 'the final stage layer is the image one');
  const env = u.BuildCache.find((r) => /^ENV KIND/.test(r.Description));
  assert.ok(env);
  assert.equal(env.Size, 0, 'a step that changes only the config holds no bytes');
  assert.deepEqual(copy.Parents, [env.ID], 'COPY started from the state the ENV step left');
  assert.equal(u.BuildCache.length, 4, 'RUN, ENV, COPY, CMD: FROM is no step of the cache');
  assert.equal(u.BuilderSize, u.BuildCache.filter((r) => !r.Shared).reduce((n, r) => n + r.Size, 0));
  assert.ok(u.BuilderSize >= 3 * MiB);
  // the cache's own bytes are not counted again as image layers
  assert.ok(u.LayersSize - before.LayersSize < MiB, `layers grew by ${u.LayersSize - before.LayersSize}`);

  const again = await build('bcache:1');
  assert.doesNotMatch(again, /Running in/);
  const used = (await df()).BuildCache.find((r) => r.ID === blob.ID)!;
  assert.equal(used.UsageCount, 1, 'a cache hit is counted');
  assert.ok(used.LastUsedAt && Date.parse(used.LastUsedAt) >= Date.parse(blob.CreatedAt));

  const row = (await d.berth(['system', 'df'])).stdout.split('\n').find((l) => l.startsWith('Build Cache'));
  assert.match(row ?? '', /^Build Cache\s+4\s+0\s+3\.1\d*MB\s+3\.1\d*MB$/);
  const verbose = await d.berth(['system', 'df', '-v']);
  assert.match(verbose.stdout, /\nBuild cache usage: 3\.1\d*MB\n\nCACHE ID\s+CACHE TYPE\s+SIZE\s+CREATED\s+LAST USED\s+USAGE\s+SHARED\n/);
  assert.match(verbose.stdout, new RegExp(`\\n${blob.ID.slice(0, 12)}\\s+regular\\s+3\\.1\\d*MB\\s+.*ago\\s+.*ago\\s+1\\s+false\\n`));
});

test('the docker CLI shows the build cache in system df', async () => {
  const r = await d.docker(['system', 'df']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\nBuild Cache\s+4\s+0\s+3\.1\d*MB\s+3\.1\d*MB\n/);
  const v = await d.docker(['system', 'df', '-v']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /Build cache usage: 3\.1\d*MB/);
  assert.match(v.stdout, /\s+regular\s+3\.1\d*MB\s+/);
});

test('builder prune: limits and filters that keep everything free nothing', async () => {
  const kept = await d.berth(['builder', 'prune', '-a', '-f', '--keep-storage', '100MB']);
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal(kept.stdout, 'Total reclaimed space: 0B\n');
  const recent = await d.berth(['builder', 'prune', '-a', '-f', '--filter', 'until=1h30m']);
  assert.equal(recent.stdout, 'Total reclaimed space: 0B\n', 'every record was used within the last 90 minutes');
  const byLabel = await d.api('POST', `/build/prune?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['a=b'] }))}`);
  assert.deepEqual(byLabel.json(), { CachesDeleted: null, SpaceReclaimed: 0 });
  const bad = await d.api('POST', `/build/prune?filters=${encodeURIComponent(JSON.stringify({ colour: ['red'] }))}`);
  assert.equal(bad.status, 400);
  assert.equal((await df()).BuildCache.length, 4);
});

test('builder prune -a frees the bytes, empties the cache, and the next build runs its steps again', async () => {
  const cached = await df();
  const p = await d.berth(['builder', 'prune', '-a', '-f']);
  assert.equal(p.code, 0, p.stderr);
  const deleted = p.stdout.split('\n\n')[0].split('\n');
  assert.equal(deleted[0], 'Deleted build cache objects:');
  assert.deepEqual(deleted.slice(1).sort(), cached.BuildCache.map((r) => r.ID).sort());
  assert.ok(reclaimedBytes(p.stdout) >= 3 * MiB, p.stdout);
  assert.ok(reclaimedBytes(p.stdout) <= cached.BuilderSize * 1.001 + 1000, `${p.stdout} of ${cached.BuilderSize}`);

  const after = await df();
  assert.deepEqual(after.BuildCache, []);
  assert.equal(after.BuilderSize, 0);
  assert.ok(cached.LayersSize - after.LayersSize < MiB, 'the image layers stay');
  assert.match((await d.berth(['system', 'df'])).stdout, /\nBuild Cache\s+0\s+0\s+0B\s+0B\n/);
  assert.equal((await d.berth(['run', '--rm', 'bcache:1'])).stdout.trim(), String(3 * MiB), 'the image still works');

  const rebuilt = await build('bcache:1');
  assert.doesNotMatch(rebuilt, /Using cache/, 'nothing is cached any more');
  assert.match(stepOutput(rebuilt, 2), /Running in/);
});

test('builder prune without -a keeps what tagged images are made of; system prune -a takes the rest', async () => {
  const p = await runCommand('docker', ['builder', 'prune', '-f'], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } });
  assert.equal(p.code, 0, p.stderr);
  assert.ok(reclaimedBytes(p.stdout) >= 3 * MiB, p.stdout);
  const left = (await df()).BuildCache;
  assert.deepEqual(left.map((r) => r.Description.split(' ')[0]).sort(), ['CMD', 'COPY', 'ENV'], 'the final stage records stay');
  assert.ok(left.every((r) => r.Shared));

  // the first stage runs again; the final stage copies the same bytes and is a hit
  const b = await runCommand('docker', ['build', '-t', 'bcache:1', dir], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } });
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assert.match(stepOutput(b.stdout, 2), /Running in/);
  assert.match(stepOutput(b.stdout, 5), /Using cache/);
  assert.match(stepOutput(b.stdout, 6), /Using cache/);

  const s = await d.berth(['system', 'prune', '-a', '-f']);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /Deleted build cache objects:\n/);
  assert.ok(reclaimedBytes(s.stdout) >= 3 * MiB, s.stdout);
  assert.deepEqual((await df()).BuildCache, []);
});
