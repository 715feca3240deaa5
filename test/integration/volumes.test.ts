import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

// Volumes of the local driver, bind mounts and tmpfs mounts, for real.
let d: TestDaemon;
let work: string;

before(async () => {
  d = await TestDaemon.start();
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-vol-'));
  await fsp.writeFile(path.join(work, 'Dockerfile'), 'FROM busybox\nRUN mkdir -p /app/conf && echo seeded > /app/conf/a.txt\nVOLUME /app/conf\n');
  const b = await d.berth(['build', '-q', '-t', 'withvol', work]);
  assert.equal(b.code, 0, b.stderr);
});

after(async () => {
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

const json = async (args: string[]) => {
  const r = await d.berth(args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

test('a named volume outlives its container and is seen by the next one; it is seeded from the image once', async () => {
  const w = await d.berth(['run', '--rm', '-v', 'data:/var/lib/app', 'busybox', 'sh', '-c', 'echo kept > /var/lib/app/f']);
  assert.equal(w.code, 0, w.stderr);
  const r = await d.berth(['run', '--rm', '-v', 'data:/var/lib/app', 'busybox', 'cat', '/var/lib/app/f']);
  assert.equal(r.stdout, 'kept\n');
  const v = (await json(['volume', 'inspect', 'data']))[0];
  assert.equal(v.Driver, 'local');
  assert.equal(await fsp.readFile(path.join(v.Mountpoint, 'f'), 'utf8'), 'kept\n');

  const seeded = await d.berth(['run', '--rm', '-v', 'conf:/app/conf', 'withvol', 'sh', '-c', 'cat /app/conf/a.txt; echo changed > /app/conf/a.txt']);
  assert.equal(seeded.stdout, 'seeded\n', seeded.stderr);
  const again = await d.berth(['run', '--rm', '-v', 'conf:/app/conf', 'withvol', 'cat', '/app/conf/a.txt']);
  assert.equal(again.stdout, 'changed\n', 'seeding happens only into an empty volume');
  const nocopy = await d.berth(['run', '--rm', '-v', 'empty:/app/conf:nocopy', 'withvol', 'ls', '/app/conf']);
  assert.equal(nocopy.stdout, '');
});

test('anonymous volumes (the image VOLUME, -v /path) go with rm -v and --rm; a volume in use cannot be removed', async () => {
  const c = await d.berth(['run', '-d', '--name', 'anon', '-v', '/scratch', 'withvol', 'sleep', '300']);
  assert.equal(c.code, 0, c.stderr);
  const mounts = await json(['inspect', '-f', '{{json .Mounts}}', 'anon']);
  const names = mounts.filter((m: { Type: string }) => m.Type === 'volume').map((m: { Name: string }) => m.Name);
  assert.equal(names.length, 2, JSON.stringify(mounts));
  assert.deepEqual(mounts.map((m: { Destination: string }) => m.Destination).sort(), ['/app/conf', '/scratch']);
  const seeded = await d.berth(['exec', 'anon', 'cat', '/app/conf/a.txt']);
  assert.equal(seeded.stdout, 'seeded\n');

  assert.equal((await d.berth(['volume', 'create', 'busyvol'])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--name', 'user', '-v', 'busyvol:/x', 'busybox', 'sleep', '300'])).code, 0);
  const inUse = await d.berth(['volume', 'rm', 'busyvol']);
  assert.notEqual(inUse.code, 0);
  assert.match(inUse.stderr, /volume is in use/);
  assert.equal((await d.berth(['rm', '-f', 'user'])).code, 0);
  assert.equal((await d.berth(['volume', 'rm', 'busyvol'])).code, 0);

  assert.equal((await d.berth(['rm', '-f', '-v', 'anon'])).code, 0);
  const ls = (await d.berth(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  for (const n of names) assert.ok(!ls.includes(n), `anonymous volume ${n} removed with rm -v`);

  const rmRun = await d.berth(['run', '--rm', '-v', '/tmpdata', 'busybox', 'true']);
  assert.equal(rmRun.code, 0);
  const after = (await d.berth(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  assert.ok(after.every((n) => !/^[0-9a-f]{64}$/.test(n)), `--rm removes anonymous volumes: ${after}`);
});

test('bind mounts: read-only refuses writes, -v makes a missing host path, --mount refuses it; tmpfs has its size', async () => {
  const host = path.join(work, 'site');
  await fsp.mkdir(host);
  await fsp.writeFile(path.join(host, 'index.html'), 'hello\n');
  const ro = await d.berth(['run', '--rm', '-v', `${host}:/www:ro`, 'busybox', 'sh', '-c', 'cat /www/index.html; echo x > /www/new']);
  assert.equal(ro.stdout, 'hello\n');
  assert.match(ro.stderr, /Read-only file system/);
  assert.equal(await fsp.access(path.join(host, 'new')).then(() => true, () => false), false);
  const rw = await d.berth(['run', '--rm', '-v', `${host}:/www`, 'busybox', 'sh', '-c', 'echo written > /www/new']);
  assert.equal(rw.code, 0);
  assert.equal(await fsp.readFile(path.join(host, 'new'), 'utf8'), 'written\n');

  const made = path.join(work, 'made', 'by', 'v');
  assert.equal((await d.berth(['run', '--rm', '-v', `${made}:/m`, 'busybox', 'true'])).code, 0);
  assert.ok((await fsp.stat(made)).isDirectory());
  const missing = await d.berth(['run', '--rm', '--mount', `type=bind,src=${path.join(work, 'nope')},dst=/m`, 'busybox', 'true']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /bind source path does not exist/);

  const tmpfs = await d.berth(['run', '--rm', '--mount', 'type=tmpfs,dst=/cache,tmpfs-size=1048576', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/cache/z bs=1024 count=2048 2>&1; ls -l /cache/z']);
  assert.match(tmpfs.stdout, /No space left on device/);
  const flag = await d.berth(['run', '--rm', '--tmpfs', '/run:size=512k', 'busybox', 'sh', '-c', 'grep " /run " /proc/mounts']);
  assert.match(flag.stdout, /tmpfs \/run tmpfs .*size=512k/);

  const vmount = await d.berth(['run', '--rm', '--mount', 'type=volume,src=mv,dst=/d,readonly', 'busybox', 'sh', '-c', 'touch /d/x']);
  assert.match(vmount.stderr, /Read-only file system/);
});

test('bad input: invalid volume names, mounts over /proc, relative paths; prune removes only what is unused', async () => {
  const bad = await d.berth(['volume', 'create', 'bad!name']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /includes invalid characters for a local volume name/);
  const proc = await d.berth(['run', '--rm', '-v', `${work}:/proc`, 'busybox', 'true']);
  assert.notEqual(proc.code, 0);
  assert.match(proc.stderr, /\/proc/);
  const rel = await d.berth(['run', '--rm', '--mount', 'type=volume,src=x,dst=relative', 'busybox', 'true']);
  assert.notEqual(rel.code, 0);
  const api = await d.api('POST', '/volumes/create', { Name: 'x/y' });
  assert.equal(api.status, 400);

  assert.equal((await d.berth(['volume', 'create', '--label', 'keep=no', 'prunable'])).code, 0);
  const anon = await d.api('POST', '/volumes/create', {});
  assert.equal(anon.status, 201);
  const pruned = await d.api('POST', `/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ all: ['true'], label: ['keep=no'] }))}`);
  assert.equal(pruned.status, 200);
  assert.deepEqual(pruned.json().VolumesDeleted, ['prunable']);
  assert.equal((await d.api('GET', '/volumes/data')).status, 200, 'not matched by the filter: kept');
});

test('--volumes-from shares the other container\'s volumes and binds, read-only on request', async () => {
  assert.equal((await d.berth(['create', '--name', 'owner', '-v', 'shared:/s', '-v', '/anon', 'busybox', 'true'])).code, 0);
  const rw = await d.berth(['run', '--rm', '--volumes-from', 'owner', 'busybox', 'sh', '-c', 'echo from-peer > /s/f && ls -d /anon']);
  assert.equal(rw.stdout, '/anon\n', rw.stderr);
  const ro = await d.berth(['run', '--rm', '--volumes-from', 'owner:ro', 'busybox', 'sh', '-c', 'cat /s/f; touch /s/g']);
  assert.equal(ro.stdout, 'from-peer\n');
  assert.match(ro.stderr, /Read-only file system/);
  const anonName = JSON.parse((await d.berth(['inspect', '-f', '{{json .Mounts}}', 'owner'])).stdout).find((m: { Destination: string }) => m.Destination === '/anon').Name;
  assert.equal((await d.api('GET', `/volumes/${anonName}`)).status, 200, "the owner's anonymous volume survives the --rm of a borrower");
  assert.equal((await d.berth(['rm', '-v', 'owner'])).code, 0);
  assert.equal((await d.api('GET', `/volumes/${anonName}`)).status, 404);
});

test('the docker CLI: volume create/ls/inspect/rm and run -v', async () => {
  assert.equal((await d.docker(['volume', 'create', 'dvol'])).stdout.trim(), 'dvol');
  const ls = await d.docker(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']);
  assert.match(ls.stdout, /^local dvol$/m);
  const run = await d.docker(['run', '--rm', '-v', 'dvol:/v', 'busybox', 'sh', '-c', 'echo d > /v/f && cat /v/f']);
  assert.equal(run.stdout, 'd\n', run.stderr);
  const insp = JSON.parse((await d.docker(['volume', 'inspect', 'dvol'])).stdout)[0];
  assert.equal(insp.Name, 'dvol');
  assert.equal((await d.docker(['volume', 'rm', 'dvol'])).stdout.trim(), 'dvol');
});

test('system df counts images, containers and volumes; container and image prune remove exactly the unused', async () => {
  assert.equal((await d.berth(['run', '--name', 'stopped', '-v', 'dfvol:/d', 'busybox', 'sh', '-c', 'head -c 200000 /dev/zero > /d/z; head -c 100000 /dev/zero > /rw'])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--name', 'running', 'busybox', 'sleep', '300'])).code, 0);
  const df = (await d.api('GET', '/system/df')).json();
  const stopped = df.Containers.find((c: { Names: string[] }) => c.Names[0] === '/stopped');
  assert.ok(stopped.SizeRw >= 100000, `SizeRw ${stopped.SizeRw}`);
  const vol = df.Volumes.find((v: { Name: string }) => v.Name === 'dfvol');
  assert.ok(vol.UsageData.Size >= 200000 && vol.UsageData.RefCount === 1, JSON.stringify(vol.UsageData));
  assert.ok(df.Images.some((i: { RepoTags: string[]; Containers: number }) => i.RepoTags.includes('busybox:latest') && i.Containers >= 2));
  assert.ok(df.LayersSize > 0);

  const pruned = (await d.api('POST', '/containers/prune')).json();
  const stoppedId = stopped.Id;
  assert.ok(pruned.ContainersDeleted.includes(stoppedId));
  assert.ok(pruned.SpaceReclaimed >= 100000);
  assert.equal((await d.berth(['inspect', 'running'])).code, 0, 'a running container is not pruned');

  await fsp.writeFile(path.join(work, 'Dockerfile.d'), 'FROM busybox\nRUN echo one > /v\n');
  assert.equal((await d.berth(['build', '-q', '-f', path.join(work, 'Dockerfile.d'), '-t', 'dang', work])).code, 0);
  await fsp.writeFile(path.join(work, 'Dockerfile.d'), 'FROM busybox\nRUN echo two > /v\n');
  assert.equal((await d.berth(['build', '-q', '-f', path.join(work, 'Dockerfile.d'), '-t', 'dang', work])).code, 0);
  const images = (await d.api('POST', '/images/prune')).json();
  assert.equal(images.ImagesDeleted.filter((i: { Deleted?: string }) => i.Deleted?.startsWith('sha256:')).length >= 1, true, JSON.stringify(images));
  assert.equal((await d.berth(['image', 'inspect', 'dang'])).code, 0, 'the tagged image stays');
  assert.equal((await d.berth(['image', 'inspect', 'busybox'])).code, 0);
  await d.berth(['rm', '-f', 'running']);
});
