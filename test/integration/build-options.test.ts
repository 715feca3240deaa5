import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tar from 'tar-stream';
import { TestDaemon } from '../helpers/daemon';

// POST /build's options for RUN steps and the cache, as docker-py's build tests use them.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

async function contextOf(dockerfile: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile' }, dockerfile);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Builds and returns the stream's messages. */
async function build(dockerfile: string, query: string): Promise<{ stream?: string; errorDetail?: { code: number; message: string } }[]> {
  const r = await d.api('POST', `/build?${query}`, await contextOf(dockerfile));
  assert.equal(r.status, 200, r.body);
  return r.body.split('\r\n').filter(Boolean).map((l) => JSON.parse(l));
}

const failure = (msgs: { errorDetail?: unknown }[]) => msgs.find((m) => m.errorDetail);
const cacheHits = (msgs: { stream?: string }[]) => msgs.filter((m) => m.stream?.includes('Using cache')).length;

async function output(image: string, cmd: string[]): Promise<string> {
  const r = await d.berth(['run', '--rm', image, ...cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('extrahosts are in the RUN steps\' /etc/hosts', async () => {
  const hosts = encodeURIComponent('extrahost.local.test:127.0.0.1');
  const msgs = await build('FROM busybox\nRUN ping -c1 extrahost.local.test\nRUN cp /etc/hosts /hosts-file\n', `t=extrahosts&extrahosts=${hosts}&extrahosts=${encodeURIComponent('hello.world.test:127.0.0.2')}`);
  assert.equal(failure(msgs), undefined, JSON.stringify(msgs));
  const file = await output('extrahosts', ['cat', '/hosts-file']);
  assert.match(file, /^127\.0\.0\.1\textrahost\.local\.test$/m);
  assert.match(file, /^127\.0\.0\.2\thello\.world\.test$/m);
});

test('networkmode: a user network\'s containers are reached by alias; none has no network', async () => {
  assert.equal((await d.api('POST', '/networks/create', { Name: 'buildnet' })).status, 201);
  const c = await d.api('POST', '/containers/create?name=pingtarget', { Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'buildnet' }, NetworkingConfig: { EndpointsConfig: { buildnet: { Aliases: ['pingtarget.docker'] } } } });
  assert.equal(c.status, 201, c.body);
  assert.equal((await d.api('POST', '/containers/pingtarget/start')).status, 204);
  try {
    const onNet = await build('FROM busybox\nRUN ping -c1 pingtarget.docker\n', 't=onnet&networkmode=buildnet');
    assert.equal(failure(onNet), undefined, JSON.stringify(onNet));
    const none = await build('FROM busybox\nRUN ping -c1 pingtarget.docker\n', 't=nonet&networkmode=none&nocache=1');
    assert.equal((failure(none) as { errorDetail: { code: number } } | undefined)?.errorDetail.code, 1, JSON.stringify(none));
    assert.equal((await d.api('GET', '/images/nonet/json')).status, 404);
  } finally {
    await d.api('DELETE', '/containers/pingtarget?force=1');
  }
  // the build's endpoint is gone with the build: the network has no one left on it
  assert.deepEqual(Object.keys((await d.api('GET', '/networks/buildnet')).json().Containers ?? {}), []);
  assert.equal((await d.api('DELETE', '/networks/buildnet')).status, 204);
});

test('cachefrom: only the named images\' lines are cache; a name that is no image leaves none', async () => {
  const df = 'FROM busybox\nENV FOO=cachefrom\nRUN touch baz\nRUN touch bax\n';
  assert.equal(failure(await build(df, 't=build1')), undefined);
  assert.equal(cacheHits(await build(df, `t=build2&cachefrom=${encodeURIComponent('["build1"]')}`)), 3);
  assert.equal(cacheHits(await build(df, `t=build3&cachefrom=${encodeURIComponent('["nosuchtag"]')}`)), 0);
});

test('cachefrom: an image\'s history serves as cache where the step cache has no record', async () => {
  const df = 'FROM busybox\nENV FOO=history\nRUN echo one > /one\n';
  assert.equal(failure(await build(df, 't=hist1')), undefined);
  const id = (await d.api('GET', '/images/hist1/json')).json().Id;
  // the builder's own records go; the image stays
  assert.equal((await d.api('POST', '/build/prune?all=1')).status, 200);
  const msgs = await build(df, `t=hist2&cachefrom=${encodeURIComponent('["hist1"]')}`);
  assert.equal(cacheHits(msgs), 2, JSON.stringify(msgs));
  assert.equal((await d.api('GET', '/images/hist2/json')).json().Id, id, 'the same steps from the same source give the same image');
});
