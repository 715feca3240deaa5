import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { TestDaemon } from '../helpers/daemon';

let d: TestDaemon;
let docker: Docker;
before(async () => {
  d = await TestDaemon.start();
  docker = new Docker({ socketPath: d.socket });
});
after(async () => {
  await d?.cleanup();
});

test('dockerode: create, start, wait, logs, inspect, remove', async () => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 5'], name: 'dode' });
  await c.start();
  const res = await c.wait();
  assert.equal(res.StatusCode, 5);
  const buf = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  const out = new PassThrough();
  const err = new PassThrough();
  let outText = '';
  let errText = '';
  out.on('data', (x: Buffer) => (outText += x.toString()));
  err.on('data', (x: Buffer) => (errText += x.toString()));
  const src = new PassThrough();
  docker.modem.demuxStream(src, out, err);
  src.end(buf);
  await new Promise((r) => setImmediate(r));
  assert.equal(outText, 'out\n');
  assert.equal(errText, 'err\n');
  const info = await c.inspect();
  assert.equal(info.State.ExitCode, 5);
  assert.equal(info.Name, '/dode');
  await c.remove();
  await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test('dockerode: list containers and images, tag and remove an image', async () => {
  const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'] });
  await c.start();
  const running = await docker.listContainers();
  assert.ok(running.some((x) => x.Id === c.id && x.State === 'running'));
  await c.stop({ t: 1 });
  await c.remove();
  const images = await docker.listImages();
  assert.ok(images.some((i) => i.RepoTags?.includes('busybox:latest')));
  await docker.getImage('busybox').tag({ repo: 'dode', tag: 'x' });
  const removed = await docker.getImage('dode:x').remove();
  assert.deepEqual(removed, [{ Untagged: 'dode:x' }]);
});
