import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

/**
 * The `filters` of list and prune routes: every key Docker accepts narrows the result, the
 * `until` time is Docker's GetTimestamp, and an unknown key is a 400.
 */

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

const q = (filters: Record<string, string[]>) => `filters=${encodeURIComponent(JSON.stringify(filters))}`;

async function ok(cmd: string[]): Promise<string> {
  const r = await d.berth(cmd);
  assert.equal(r.code, 0, `${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The names `GET /containers/json?all=1` gives for these filters, sorted. */
async function psNames(filters: Record<string, string[]>): Promise<string[]> {
  const r = await d.api('GET', `/containers/json?all=1&${q(filters)}`);
  assert.equal(r.status, 200, r.body);
  return (r.json() as { Names: string[] }[]).map((c) => c.Names[0].slice(1)).sort();
}

test('network prune: until=24h keeps a network made just now; a later time removes it', async () => {
  await ok(['network', 'create', 'fresh']);
  const kept = await d.api('POST', `/networks/prune?${q({ until: ['24h'] })}`);
  assert.equal(kept.status, 200, kept.body);
  assert.deepEqual(kept.json().NetworksDeleted, []);
  assert.equal((await d.api('GET', '/networks/fresh')).status, 200, 'the network made just now is still there');

  const later = new Date(Date.now() + 60_000).toISOString();
  const removed = await d.api('POST', `/networks/prune?${q({ until: [later] })}`);
  assert.equal(removed.status, 200, removed.body);
  assert.deepEqual(removed.json().NetworksDeleted, ['fresh']);
  assert.equal((await d.api('GET', '/networks/fresh')).status, 404);
});

test('prune and list routes refuse a bad until with Docker words', async () => {
  for (const path of ['/networks/prune', '/containers/prune', '/images/prune']) {
    const r = await d.api('POST', `${path}?${q({ until: ['yesterday'] })}`);
    assert.equal(r.status, 400, `${path}: ${r.body}`);
    assert.equal(r.json().message, 'failed to parse value as time or duration: "yesterday"');
  }
  const two = await d.api('POST', `/networks/prune?${q({ until: ['1h', '2h'] })}`);
  assert.equal(two.status, 400);
  assert.equal(two.json().message, 'more than one until filter specified');
  const list = await d.api('GET', `/images/json?${q({ until: ['2006-13-01'] })}`);
  assert.equal(list.status, 400);
  assert.equal(list.json().message, 'parsing time "2006-13-01": month out of range');
});

test('an unknown filter key is refused on every list and prune route', async () => {
  const routes: [string, string][] = [
    ['GET', '/containers/json'],
    ['GET', '/images/json'],
    ['GET', '/networks'],
    ['GET', '/volumes'],
    ['GET', '/events?until=1'],
    ['POST', '/containers/prune'],
    ['POST', '/images/prune'],
    ['POST', '/networks/prune'],
    ['POST', '/volumes/prune'],
    ['POST', '/build/prune'],
  ];
  for (const [method, path] of routes) {
    const r = await d.api(method, `${path}${path.includes('?') ? '&' : '?'}${q({ colour: ['red'] })}`);
    assert.equal(r.status, 400, `${method} ${path}: ${r.body}`);
    assert.equal(r.json().message, "invalid filter 'colour'", `${method} ${path}`);
  }
});

test('images: until keeps only images created by then', async () => {
  const all = (await d.api('GET', '/images/json')).json() as { Id: string; Created: number }[];
  assert.ok(all.length > 0, 'the built-in busybox image is there');
  const oldest = Math.min(...all.map((i) => i.Created));
  const none = await d.api('GET', `/images/json?${q({ until: [String(oldest - 1)] })}`);
  assert.equal(none.status, 200, none.body);
  assert.deepEqual(none.json(), []);
  const some = await d.api('GET', `/images/json?${q({ until: [String(oldest)] })}`);
  assert.ok((some.json() as unknown[]).length >= 1);
  const bad = await d.api('GET', `/images/json?${q({ dangling: ['maybe'] })}`);
  assert.equal(bad.status, 400);
  assert.equal(bad.json().message, "invalid filter 'dangling=[maybe]'");
});

test('containers: volume, publish, expose, is-task and isolation narrow the list', async () => {
  await ok(['create', '--name', 'with-vol', '-v', 'data1:/srv/data', 'busybox', 'true']);
  await ok(['create', '--name', 'with-bind', '-v', '/tmp:/hostdir:ro', 'busybox', 'true']);
  await ok(['create', '--name', 'task', '--label', 'com.docker.swarm.task.id=abc', 'busybox', 'true']);
  await ok(['run', '-d', '--name', 'web', '-p', '8080:80', '--expose', '9000/udp', 'busybox', 'sleep', '300']);

  assert.deepEqual(await psNames({ volume: ['data1'] }), ['with-vol']);
  assert.deepEqual(await psNames({ volume: ['/srv/data'] }), ['with-vol']);
  assert.deepEqual(await psNames({ volume: ['/hostdir'] }), ['with-bind']);
  assert.deepEqual(await psNames({ volume: ['/tmp'] }), ['with-bind']);
  assert.deepEqual(await psNames({ volume: ['nothing'] }), []);

  assert.deepEqual(await psNames({ publish: ['8080'] }), ['web']);
  assert.deepEqual(await psNames({ publish: ['8000-8090/tcp'] }), ['web']);
  assert.deepEqual(await psNames({ publish: ['8080/udp'] }), []);
  assert.deepEqual(await psNames({ publish: ['80'] }), [], 'publish is the host port');
  assert.deepEqual(await psNames({ expose: ['80'] }), ['web']);
  assert.deepEqual(await psNames({ expose: ['9000/udp'] }), ['web']);
  assert.deepEqual(await psNames({ expose: ['9001-9010/udp'] }), []);
  assert.deepEqual(await psNames({ expose: ['9000'] }), [], 'the exposed 9000 is udp');

  assert.deepEqual(await psNames({ 'is-task': ['true'] }), ['task']);
  assert.deepEqual(await psNames({ 'is-task': ['false'] }), ['web', 'with-bind', 'with-vol']);
  assert.deepEqual(await psNames({ isolation: ['default'] }), ['task', 'web', 'with-bind', 'with-vol']);
  assert.deepEqual(await psNames({ isolation: ['hyperv'] }), []);

  const refusals: [Record<string, string[]>, string][] = [
    [{ publish: ['80:80'] }, "filter for 'publish' should not contain ':': 80:80"],
    [{ expose: ['eighty'] }, 'error while looking up for expose eighty: strconv.ParseUint: parsing "eighty": invalid syntax'],
    [{ 'is-task': ['yes'] }, "Invalid filter 'is-task=[yes]'"],
    [{ exited: ['x'] }, `invalid filter 'exited=x': strconv.Atoi: parsing "x": invalid syntax`],
  ];
  for (const [filters, message] of refusals) {
    const r = await d.api('GET', `/containers/json?all=1&${q(filters)}`);
    assert.equal(r.status, 400, JSON.stringify(filters));
    assert.equal(r.json().message, message);
  }
  await ok(['rm', '-f', 'with-vol', 'with-bind', 'task', 'web']);
});
