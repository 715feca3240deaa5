import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, runCommand } from '../helpers/daemon';
import { NetnsRegistry, pushedAndPulledBack } from '../helpers/registry';

// berthd pushing to and pulling from registries that run in its own network namespace: berth's
// own berth-registry (port 5000) and the CNCF Distribution registry (port 5001); the real docker
// CLI and skopeo as the other clients.
let d: TestDaemon;
let reg: NetnsRegistry;
let dist: NetnsRegistry;
let work: string;
const APP = '127.0.0.1:5000/team/app:1';

before(async () => {
  d = await TestDaemon.start();
  [reg, dist] = await Promise.all([NetnsRegistry.berth(d.netns, 5000), NetnsRegistry.distribution(d.netns, 5001)]);
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-dist-'));
  await fsp.writeFile(path.join(work, 'Dockerfile'), 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n');
  const b = await d.berth(['build', '-q', '-t', APP, work]);
  assert.equal(b.code, 0, b.stderr);
});

after(async () => {
  await Promise.all([reg?.stop(), dist?.stop()]);
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

const count = (s: string, needle: string) => s.split(needle).length - 1;
const inspectJson = async (ref: string) => {
  const r = await d.berth(['image', 'inspect', ref]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout)[0];
};

test('push sends every layer once, then only what the registry lacks, and mounts across repositories', async () => {
  const first = await d.berth(['push', APP]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /The push refers to repository \[127\.0\.0\.1:5000\/team\/app\]/);
  assert.equal(count(first.stdout, ': Pushed'), 3, first.stdout);
  const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(first.stdout)?.[1];
  assert.ok(digest, first.stdout);
  assert.deepEqual((await inspectJson(APP)).RepoDigests, [`127.0.0.1:5000/team/app@${digest}`]);

  const again = await d.berth(['push', APP]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(count(again.stdout, 'Layer already exists'), 3, again.stdout);
  assert.equal(count(again.stdout, ': Pushed'), 0);

  assert.equal((await d.berth(['tag', APP, '127.0.0.1:5000/other/app:7'])).code, 0);
  const mounted = await d.berth(['push', '127.0.0.1:5000/other/app:7']);
  assert.equal(mounted.code, 0, mounted.stderr);
  assert.equal(count(mounted.stdout, 'Mounted from team/app'), 3, mounted.stdout);

  const tags = await reg.curl([`http://${reg.addr}/v2/other/app/tags/list`]);
  assert.deepEqual(JSON.parse(tags.stdout), { name: 'other/app', tags: ['7'] });
  // The manifest the registry holds is the one whose digest push reported.
  const head = await reg.curl(['-I', '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', `http://${reg.addr}/v2/team/app/manifests/1`]);
  assert.match(head.stdout, new RegExp(`Docker-Content-Digest: ${digest}`, 'i'));
});

test('pull fetches only missing layers, records the digest, and the image runs', async () => {
  const pushed = await d.berth(['push', APP]);
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)![1];
  for (const t of [APP, '127.0.0.1:5000/other/app:7']) await d.berth(['rmi', t]);
  assert.notEqual((await d.berth(['image', 'inspect', APP])).code, 0);

  const pull = await d.berth(['pull', APP]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /Already exists/); // busybox's layer
  assert.equal(count(pull.stdout, 'Pull complete'), 2, pull.stdout);
  assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  assert.match(pull.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:5000\/team\/app:1/);
  assert.deepEqual((await inspectJson(APP)).RepoDigests, [`127.0.0.1:5000/team/app@${digest}`]);
  const run = await d.berth(['run', '--rm', APP, 'cat', '/one', '/two']);
  assert.equal(run.stdout, 'one\ntwo\n', run.stderr);

  const digests = await d.berth(['images', '--digests', '--format', '{{.Repository}} {{.Digest}}', '127.0.0.1:5000/team/app']);
  assert.equal(digests.stdout.trim(), `127.0.0.1:5000/team/app ${digest}`);

  const same = await d.berth(['pull', APP]);
  assert.match(same.stdout, /Status: Image is up to date for 127\.0\.0\.1:5000\/team\/app:1/);

  // by digest: no tag is made, the digest reference is
  await d.berth(['rmi', APP]);
  const byDigest = await d.berth(['pull', `127.0.0.1:5000/team/app@${digest}`]);
  assert.equal(byDigest.code, 0, byDigest.stderr);
  const img = await inspectJson(`127.0.0.1:5000/team/app@${digest}`);
  assert.deepEqual(img.RepoTags, []);
  assert.deepEqual(img.RepoDigests, [`127.0.0.1:5000/team/app@${digest}`]);
  const run2 = await d.berth(['run', '--rm', `127.0.0.1:5000/team/app@${digest}`, 'cat', '/two']);
  assert.equal(run2.stdout, 'two\n');
  assert.equal((await d.berth(['rmi', `127.0.0.1:5000/team/app@${digest}`])).code, 0);
});

test('run pulls an image it does not have', async () => {
  await d.berth(['rmi', APP]);
  const run = await d.berth(['run', '--rm', APP, 'cat', '/one']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /Unable to find image '127\.0\.0\.1:5000\/team\/app:1' locally/);
  assert.equal(run.stdout.split('\n').filter((l) => l === 'one').length, 1);
});

test('build pulls a base image it does not have', async () => {
  await d.berth(['rmi', APP]);
  const ctx = path.join(work, 'from-registry');
  await fsp.mkdir(ctx, { recursive: true });
  await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${APP}\nRUN cat /one /two > /three\n`);
  const b = await d.berth(['build', '-t', 'derived:1', ctx]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /Pulling from team\/app/);
  const run = await d.berth(['run', '--rm', 'derived:1', 'cat', '/three']);
  assert.equal(run.stdout, 'one\ntwo\n', run.stderr);
  assert.equal((await d.berth(['image', 'inspect', APP])).code, 0, 'the base image is kept, as docker build keeps it');
  assert.equal((await d.berth(['rmi', 'derived:1'])).code, 0);
});

test('a layer whose content does not match its digest is refused, and a retry resumes', async () => {
  const pushed = await d.berth(['push', APP]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const manifest = JSON.parse(
    (await reg.curl(['-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', `http://${reg.addr}/v2/team/app/manifests/1`])).stdout,
  );
  const top = manifest.layers[2].digest.replace('sha256:', '');
  const blob = path.join(reg.root, 'data', 'blobs', 'sha256', top.slice(0, 2), top, 'data');
  const good = await fsp.readFile(blob);
  const bad = Buffer.from(good);
  bad[bad.length - 10] ^= 0xff;
  await fsp.writeFile(blob, bad);
  await d.berth(['rmi', APP]);
  try {
    const pull = await d.berth(['pull', APP]);
    assert.equal(pull.code, 1, pull.stdout);
    assert.match(pull.stderr, /verification failed for digest sha256:/);
    assert.notEqual((await d.berth(['image', 'inspect', APP])).code, 0, 'no image from a bad pull');
  } finally {
    await fsp.writeFile(blob, good);
  }
  const retry = await d.berth(['pull', APP]);
  assert.equal(retry.code, 0, retry.stderr);
  // the layer below the bad one was unpacked by the failed pull and is kept
  assert.equal(count(retry.stdout, 'Already exists'), 2, retry.stdout);
  assert.equal(count(retry.stdout, 'Pull complete'), 1, retry.stdout);
});

test('an image index: the platform of the daemon is picked, others are refused, the index digest is recorded', async () => {
  const pushed = await d.berth(['push', APP]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const accept = ['-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json'];
  const head = await reg.curl(['-I', ...accept, `http://${reg.addr}/v2/team/app/manifests/1`]);
  const child = /docker-content-digest: (sha256:[a-f0-9]{64})/i.exec(head.stdout)![1];
  const size = Number(/content-length: (\d+)/i.exec(head.stdout)![1]);
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifests: [
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: child, size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: child, size, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  });
  const put = await reg.curl(['-X', 'PUT', '-H', 'Content-Type: application/vnd.docker.distribution.manifest.list.v2+json', '--data-binary', index, '-o', '/dev/null', '-w', '%{http_code}', `http://${reg.addr}/v2/team/app/manifests/multi`]);
  assert.equal(put.stdout, '201');
  const indexDigest = `sha256:${createHash('sha256').update(index).digest('hex')}`;

  const none = await d.berth(['pull', '--platform', 'linux/s390x', '127.0.0.1:5000/team/app:multi']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no matching manifest for linux\/s390x in the manifest list entries/);
  const pull = await d.berth(['pull', '127.0.0.1:5000/team/app:multi']);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, new RegExp(`Digest: ${indexDigest}`));
  assert.deepEqual((await inspectJson('127.0.0.1:5000/team/app:multi')).RepoDigests, [`127.0.0.1:5000/team/app@${indexDigest}`]);
  await d.berth(['rmi', '127.0.0.1:5000/team/app:multi']);
});

test('the docker CLI pushes to and pulls from the Distribution registry through berthd', async () => {
  const ref = '127.0.0.1:5001/docker/app:2';
  assert.equal((await d.docker(['tag', APP, ref])).code, 0);
  const push = await d.docker(['push', ref]);
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stdout, /2: digest: sha256:[a-f0-9]{64} size: \d+/);
  assert.equal((await d.docker(['rmi', ref])).code, 0);
  await d.berth(['rmi', APP]);
  const pull = await d.docker(['pull', ref]);
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /Downloaded newer image for 127\.0\.0\.1:5001\/docker\/app:2/);
  const run = await d.docker(['run', '--rm', ref, 'cat', '/two']);
  assert.equal(run.stdout, 'two\n', run.stderr);
  await d.docker(['tag', ref, APP]);
});

test('skopeo copies what berthd pushed from berth-registry to the Distribution registry, and berthd pulls it back', async () => {
  const pushed = await d.berth(['push', APP]);
  assert.equal(pushed.code, 0, pushed.stderr);
  const inNs = (...args: string[]) => runCommand('nsenter', [`--net=/run/netns/${d.netns}`, ...args], { timeoutMs: 60_000 });
  const inspect = await inNs('skopeo', 'inspect', '--tls-verify=false', `docker://${APP}`);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.equal(JSON.parse(inspect.stdout).Layers.length, 3);
  const copy = await inNs('skopeo', 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${APP}`, 'docker://127.0.0.1:5001/copied/app:3');
  assert.equal(copy.code, 0, copy.stderr);
  const pull = await d.berth(['pull', '127.0.0.1:5001/copied/app:3']);
  assert.equal(pull.code, 0, pull.stderr);
  const run = await d.berth(['run', '--rm', '127.0.0.1:5001/copied/app:3', 'cat', '/one']);
  assert.equal(run.stdout, 'one\n', run.stderr);
});

test('a pulled layer is kept as the gzip blob it came in: save gives its tar, a push elsewhere sends that same blob, rmi deletes it', async () => {
  const ctx = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-kept-'));
  try {
    const src = '127.0.0.1:5000/kept/blob:1';
    const pull = await pushedAndPulledBack(d, src, 'FROM busybox\nRUN head -c 300000 /dev/urandom > /r && echo kept > /k\n');
    assert.equal(pull.code, 0, pull.stderr);

    const inNs = (...args: string[]) => runCommand('nsenter', [`--net=/run/netns/${d.netns}`, ...args], { timeoutMs: 60_000 });
    const manifestAt = async (url: string) => {
      const r = await inNs('curl', '-sf', '-H', 'Accept: application/vnd.docker.distribution.manifest.v2+json', url);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { layers: { digest: string; size: number }[] };
    };
    const pulled = (await manifestAt('http://127.0.0.1:5000/v2/kept/blob/manifests/1')).layers;
    const top = pulled[pulled.length - 1];
    const blobs = path.join(d.dataRoot, 'content', 'blobs', 'sha256');
    const kept = path.join(blobs, top.digest.slice(7));
    assert.equal((await fsp.stat(kept)).size, top.size, 'the blob as pulled is kept');
    const diffIDs: string[] = (await inspectJson(src)).RootFS.Layers;
    const topDiff = diffIDs[diffIDs.length - 1];
    await assert.rejects(fsp.stat(path.join(blobs, topDiff.slice(7))), /ENOENT/, 'and not the tar beside it');

    // save decompresses it: each layer file of the archive is the tar its diff ID names
    const out = path.join(ctx, 'out');
    await fsp.mkdir(out);
    const saved = await d.berth(['save', '-o', path.join(ctx, 'img.tar'), src]);
    assert.equal(saved.code, 0, saved.stderr);
    assert.equal((await runCommand('tar', ['-xf', path.join(ctx, 'img.tar'), '-C', out])).code, 0);
    const legacy = JSON.parse(await fsp.readFile(path.join(out, 'manifest.json'), 'utf8'))[0] as { Layers: string[] };
    const hashes = await Promise.all(legacy.Layers.map(async (l) => `sha256:${createHash('sha256').update(await fsp.readFile(path.join(out, l))).digest('hex')}`));
    assert.deepEqual(hashes, diffIDs);

    // a push to another registry sends the kept blob itself: the same digest, not a new gzip
    const dst = '127.0.0.1:5001/kept/blob:1';
    assert.equal((await d.berth(['tag', src, dst])).code, 0);
    const push = await d.berth(['push', dst]);
    assert.equal(push.code, 0, push.stderr);
    const sent = (await manifestAt('http://127.0.0.1:5001/v2/kept/blob/manifests/1')).layers;
    assert.deepEqual(sent[sent.length - 1], { ...sent[sent.length - 1], digest: top.digest, size: top.size });

    // and when the image goes, so does the blob
    for (const t of [src, dst]) assert.equal((await d.berth(['rmi', t])).code, 0);
    await assert.rejects(fsp.stat(kept), /ENOENT/);
  } finally {
    await fsp.rm(ctx, { recursive: true, force: true });
  }
});

test('search lists the repositories of a registry whose name holds the term', async () => {
  const r = await d.berth(['search', '--format', '{{.Name}}', '127.0.0.1:5000/app']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['127.0.0.1:5000/other/app', '127.0.0.1:5000/team/app']);
  const table = await d.docker(['search', '127.0.0.1:5000/other']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL/);
  assert.match(table.stdout, /127\.0\.0\.1:5000\/other\/app\s+0/);
});

test('bad references and missing things get Docker\'s errors', async () => {
  const missing = await d.berth(['pull', '127.0.0.1:5000/team/app:nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /manifest for 127\.0\.0\.1:5000\/team\/app:nope not found: manifest unknown/);

  const upper = await d.berth(['push', '127.0.0.1:5000/Team/app:1']);
  assert.notEqual(upper.code, 0);
  assert.match(upper.stderr, /invalid reference format/);

  const notLocal = await d.berth(['push', '127.0.0.1:5000/team/absent:1']);
  assert.equal(notLocal.code, 1);
  assert.match(notLocal.stderr, /An image does not exist locally with the tag: 127\.0\.0\.1:5000\/team\/absent/);

  const refused = await d.berth(['pull', '127.0.0.1:5999/team/app:1']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /connection refused/);

  const api = await d.api('POST', '/images/create?fromImage=127.0.0.1:5000/team/app&tag=nope');
  assert.equal(api.status, 404);
  assert.match(api.json().message, /manifest unknown/);
});
