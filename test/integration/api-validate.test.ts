import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

// issue 15 item 5: malformed bodies are refused at the door with dockerd's words and never
// stored, so that listings keep decoding for every client; and dockerd's create-time checks.

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

async function create(body: unknown, name?: string) {
  return d.api('POST', `/containers/create${name ? `?name=${name}` : ''}`, body);
}

/** `docker ps -a` with the real CLI and the raw listing both still decode. */
async function assertListingDecodes(): Promise<void> {
  const list = await d.api('GET', '/containers/json?all=1');
  assert.equal(list.status, 200, list.body);
  for (const c of list.json() as { Image: unknown; Labels: Record<string, unknown> }[]) {
    assert.equal(typeof c.Image, 'string');
    for (const v of Object.values(c.Labels)) assert.equal(typeof v, 'string');
  }
  const ps = await d.docker(['ps', '-a']);
  assert.equal(ps.code, 0, ps.stderr);
}

const REFUSED: [string, unknown, RegExp][] = [
  ['Image as a list', { Image: ['busybox'] }, /^invalid JSON: json: cannot unmarshal array into Go struct field ContainerConfigWrapper\.Image of type string$/],
  ['a label holding an object', { Image: 'busybox', Cmd: ['true'], Labels: { a: { b: 1 } } }, /json: cannot unmarshal object into Go struct field ContainerConfigWrapper\.Labels\.a of type string/],
  ['Memory as a string', { Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 'abc' } }, /json: cannot unmarshal string into Go struct field HostConfig\.HostConfig\.Memory of type int64/],
  ['ShmSize beyond int64', { Image: 'busybox', Cmd: ['true'], HostConfig: { ShmSize: 1e20 } }, /json: cannot unmarshal number 100000000000000000000 into Go struct field HostConfig\.HostConfig\.ShmSize of type int64/],
  ['Env as an object', { Image: 'busybox', Cmd: ['true'], Env: { A: 'b' } }, /json: cannot unmarshal object into Go struct field ContainerConfigWrapper\.Env of type \[\]string/],
  ['ExposedPorts as a string', { Image: 'busybox', Cmd: ['true'], ExposedPorts: 'x' }, /json: cannot unmarshal string into Go struct field ContainerConfigWrapper\.ExposedPorts of type map\[string\]/],
  ['a port binding that is a string', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: { '80/tcp': 'x' } } }, /json: cannot unmarshal string into Go struct field HostConfig\.HostConfig\.PortBindings\.80\/tcp of type \[\]PortBinding/],
  ['WorkingDir as a number', { Image: 'busybox', Cmd: ['true'], WorkingDir: 5 }, /json: cannot unmarshal number into Go struct field ContainerConfigWrapper\.WorkingDir of type string/],
  ['a null Env entry (Go makes it "")', { Image: 'busybox', Cmd: ['true'], Env: [null] }, /^invalid environment variable: $/],
  ['a null body', null, /^config cannot be empty in order to create a container$/],
];

for (const [what, body, message] of REFUSED) {
  test(`create refuses ${what} with a 400 in dockerd's words, and stores nothing`, async () => {
    const before = (await d.api('GET', '/containers/json?all=1')).json().length;
    const r = await create(body);
    assert.equal(r.status, 400, r.body);
    assert.match(r.json().message, message);
    assert.equal((await d.api('GET', '/containers/json?all=1')).json().length, before);
    await assertListingDecodes();
  });
}

test('unparseable bodies are 400 "invalid JSON", not 500', async () => {
  for (const raw of ['{"Image":', '{Image: 1}', '[1,', 'nul']) {
    const r = await d.api('POST', '/containers/create', Buffer.from(raw));
    assert.equal(r.status, 400, `${raw}: ${r.body}`);
    assert.match(r.json().message, /^invalid JSON: /, raw);
  }
  const extra = await d.api('POST', '/containers/create', Buffer.from('{"Image":"busybox"} {}'));
  assert.equal(extra.status, 400);
  assert.equal(extra.json().message, 'unexpected content after JSON');
});

test('a string Cmd is one argument, as Docker takes it', async () => {
  const r = await create({ Image: 'busybox', Cmd: 'true' }, 'strcmd');
  assert.equal(r.status, 201, r.body);
  const inspect = (await d.api('GET', '/containers/strcmd/json')).json();
  assert.deepEqual(inspect.Config.Cmd, ['true']);
  assert.equal(inspect.Path, 'true');
  assert.equal((await d.api('POST', '/containers/strcmd/start')).status, 204);
  const wait = await d.api('POST', '/containers/strcmd/wait');
  assert.equal(wait.json().StatusCode, 0);
  await d.api('DELETE', '/containers/strcmd?force=1');
});

test('query integers are strict, as strconv parses them', async () => {
  for (const bad of ['1.9', '1e3', '0x10', ' 5', 'abc']) {
    const r = await d.api('GET', `/containers/json?all=1&limit=${encodeURIComponent(bad)}`);
    assert.equal(r.status, 400, bad);
    assert.equal(r.json().message, `strconv.Atoi: parsing ${JSON.stringify(bad)}: invalid syntax`);
  }
  assert.equal((await d.api('GET', '/containers/json?all=1&limit=2')).status, 200);
  const filters = await d.api('GET', `/containers/json?filters=${encodeURIComponent('{"label":"x"}')}`);
  assert.equal(filters.status, 400);
  assert.equal(filters.json().message, 'invalid filter');
});

test('create-time checks: stop signal, MAC address, hostname, relative bind source', async () => {
  const cases: [unknown, string][] = [
    [{ Image: 'busybox', Cmd: ['true'], StopSignal: 'SIGFOO' }, 'Invalid signal: SIGFOO'],
    [{ Image: 'busybox', Cmd: ['true'], NetworkingConfig: { EndpointsConfig: { bridge: { MacAddress: 'zz:zz' } } } }, 'invalid MAC address zz:zz'],
    [{ Image: 'busybox', Cmd: ['true'], Hostname: 'h'.repeat(65) }, `hostname "${'h'.repeat(65)}" is too long (maximum 64 bytes)`],
    [{ Image: 'busybox', Cmd: ['true'], HostConfig: { Mounts: [{ Type: 'bind', Source: 'rel', Target: '/x' }] } }, `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`],
  ];
  for (const [body, message] of cases) {
    const r = await create(body);
    assert.equal(r.status, 400, r.body);
    assert.equal(r.json().message, message);
  }
  // -v with a relative path is not a volume name either
  const rel = await create({ Image: 'busybox', Cmd: ['true'], HostConfig: { Binds: ['./rel:/x'] } });
  assert.equal(rel.status, 400, rel.body);
  assert.match(rel.json().message, /includes invalid characters for a local volume name.*use absolute path/);
  await fsp.rm(path.resolve('rel'), { recursive: true, force: true });
});

test('CpuShares is brought into 2..262144 as Docker does on Linux', async () => {
  for (const [asked, kept] of [[300000, 262144], [1, 2], [1024, 1024]]) {
    const r = await create({ Image: 'busybox', Cmd: ['true'], HostConfig: { CpuShares: asked } });
    assert.equal(r.status, 201, r.body);
    const inspect = (await d.api('GET', `/containers/${r.json().Id}/json`)).json();
    assert.equal(inspect.HostConfig.CpuShares, kept, `asked ${asked}`);
    await d.api('DELETE', `/containers/${r.json().Id}?force=1`);
  }
});

test('stop with an unknown signal is a 400 and leaves the container running', async () => {
  const r = await create({ Image: 'busybox', Cmd: ['sleep', '60'] }, 'badsig');
  assert.equal(r.status, 201, r.body);
  assert.equal((await d.api('POST', '/containers/badsig/start')).status, 204);
  const stop = await d.api('POST', '/containers/badsig/stop?signal=BAD&t=1');
  assert.equal(stop.status, 400, stop.body);
  assert.equal(stop.json().message, 'Invalid signal: BAD');
  assert.equal((await d.api('GET', '/containers/badsig/json')).json().State.Running, true);
  await d.api('DELETE', '/containers/badsig?force=1');
});

test('one damaged record does not break the listing: it is skipped', async () => {
  const good = await create({ Image: 'busybox', Cmd: ['true'] }, 'goodone');
  const bad = await create({ Image: 'busybox', Cmd: ['true'] }, 'damaged');
  assert.equal(good.status, 201);
  assert.equal(bad.status, 201);
  await d.stopProcess();
  const file = path.join(d.dataRoot, 'containers', bad.json().Id, 'container.json');
  const rec = JSON.parse(await fsp.readFile(file, 'utf8'));
  rec.Config.Image = ['busybox'];
  rec.Config.Labels = { a: { b: 1 } };
  await fsp.writeFile(file, JSON.stringify(rec));
  await d.startProcess();
  const list = await d.api('GET', '/containers/json?all=1');
  assert.equal(list.status, 200, list.body);
  const names = (list.json() as { Names: string[] }[]).map((c) => c.Names[0]);
  assert.ok(names.includes('/goodone'), names.join(','));
  assert.ok(!names.includes('/damaged'), names.join(','));
  await assertListingDecodes();
  assert.match(d.output, /skipping container [0-9a-f]{64}/);
  await d.api('DELETE', `/containers/${bad.json().Id}?force=1`);
  await d.api('DELETE', '/containers/goodone?force=1');
});
