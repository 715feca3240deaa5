import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { TestDaemon } from '../helpers/daemon';

// Managed plugins through the Engine API and the docker CLI: a plugin made from a directory
// (config.json + rootfs/), listed, inspected, enabled, configured and removed as dockerd does.
let d: TestDaemon;
let work: string;

const CONFIG = {
  description: 'a test plugin',
  documentation: 'https://example.invalid/doc',
  entrypoint: ['/dummy'],
  network: { type: 'host' },
  interface: { types: ['docker.volumedriver/1.0'], socket: 'dummy.sock' },
  linux: { capabilities: ['CAP_SYS_ADMIN'] },
  env: [
    { name: 'DEBUG', settable: ['value'], value: '0' },
    { name: 'FIXED', value: 'x' },
  ],
};

before(async () => {
  d = await TestDaemon.start();
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-plugin-'));
  await fsp.mkdir(path.join(work, 'rootfs', 'etc'), { recursive: true });
  await fsp.writeFile(path.join(work, 'rootfs', 'etc', 'file.txt'), 'hello\n');
  await fsp.writeFile(path.join(work, 'config.json'), JSON.stringify(CONFIG));
});

after(async () => {
  await d?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

const ok = async (args: string[]) => {
  const r = await d.docker(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

test('docker plugin create makes a disabled plugin named name:latest; inspect shows its config in the API shape', async () => {
  assert.equal((await ok(['plugin', 'create', 'team/dummy', work])).trim(), 'team/dummy');
  const p = (await d.api('GET', '/plugins/team/dummy/json')).json();
  assert.equal(p.Name, 'team/dummy:latest');
  assert.match(p.Id, /^[0-9a-f]{64}$/);
  assert.equal(p.Enabled, false);
  assert.deepEqual(p.Config.Entrypoint, ['/dummy']);
  // Go's PluginInterfaceType travels as its text form
  assert.deepEqual(p.Config.Interface.Types, ['docker.volumedriver/1.0']);
  assert.deepEqual(p.Settings.Env, ['DEBUG=0', 'FIXED=x']);
  // by ID prefix, as dockerd
  assert.equal((await d.api('GET', `/plugins/${p.Id.slice(0, 12)}/json`)).json().Name, 'team/dummy:latest');

  const again = await d.docker(['plugin', 'create', 'team/dummy:latest', work]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /plugin team\/dummy:latest already exists/);

  const ls = await ok(['plugin', 'ls', '--format', '{{.Name}} {{.Enabled}} {{.Description}}']);
  assert.equal(ls, 'team/dummy:latest false a test plugin\n');
  const missing = await d.api('GET', '/plugins/nope/json');
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.json(), { message: 'plugin "nope" not found' });
});

test('enable and disable flip Enabled; twice is a conflict; rm refuses an enabled plugin unless forced', async () => {
  await ok(['plugin', 'create', 'lifecycle', work]);
  await ok(['plugin', 'enable', 'lifecycle']);
  assert.equal(JSON.parse(await ok(['plugin', 'inspect', 'lifecycle']))[0].Enabled, true);
  const twice = await d.api('POST', '/plugins/lifecycle/enable');
  assert.equal(twice.status, 409);
  assert.deepEqual(twice.json(), { message: 'plugin already enabled: plugin lifecycle:latest is enabled' });

  const enabledOnly = await d.api('GET', `/plugins?filters=${encodeURIComponent(JSON.stringify({ enabled: ['true'] }))}`);
  assert.deepEqual(enabledOnly.json().map((p: { Name: string }) => p.Name), ['lifecycle:latest']);

  const rm = await d.docker(['plugin', 'rm', 'lifecycle']);
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /plugin lifecycle:latest is enabled/);

  await ok(['plugin', 'disable', 'lifecycle']);
  const off = await d.api('POST', '/plugins/lifecycle/disable');
  assert.equal(off.status, 409);
  await ok(['plugin', 'enable', 'lifecycle']);
  await ok(['plugin', 'rm', '-f', 'lifecycle']);
  assert.equal((await d.api('GET', '/plugins/lifecycle/json')).status, 404);
});

test('plugin set changes a settable env variable only, and only while disabled', async () => {
  await ok(['plugin', 'create', 'settable', work]);
  await ok(['plugin', 'set', 'settable', 'DEBUG=1']);
  assert.deepEqual((await d.api('GET', '/plugins/settable/json')).json().Settings.Env, ['FIXED=x', 'DEBUG=1']);
  const fixed = await d.api('POST', '/plugins/settable/set', ['FIXED=y']);
  assert.equal(fixed.status, 400);
  const unknown = await d.api('POST', '/plugins/settable/set', ['NOPE=1']);
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.json(), { message: 'setting "NOPE" not found in the plugin configuration' });
  await ok(['plugin', 'enable', 'settable']);
  const active = await d.api('POST', '/plugins/settable/set', ['DEBUG=2']);
  assert.equal(active.status, 409);
  await ok(['plugin', 'rm', '-f', 'settable']);
});

test('list filters by capability; privileges answer from an installed plugin, else an empty list as dockerd when it cannot fetch', async () => {
  await ok(['plugin', 'create', 'capable', work]);
  const q = (f: object) => `/plugins?filters=${encodeURIComponent(JSON.stringify(f))}`;
  const names = async (f: object) => (await d.api('GET', q(f))).json().map((p: { Name: string }) => p.Name);
  assert.ok((await names({ capability: ['volumedriver'] })).includes('capable:latest'));
  assert.deepEqual(await names({ capability: ['networkdriver'] }), []);
  assert.equal((await d.api('GET', q({ bogus: ['1'] }))).status, 400);

  const prv = await d.api('GET', '/plugins/privileges?remote=capable');
  assert.equal(prv.status, 200, prv.body);
  assert.deepEqual(prv.json(), [
    { Name: 'network', Description: 'permissions to access a network', Value: ['host'] },
    { Name: 'capabilities', Description: 'list of additional capabilities required', Value: ['CAP_SYS_ADMIN'] },
  ]);
  const remote = await d.api('GET', '/plugins/privileges?remote=vieux/sshfs:latest');
  assert.equal(remote.status, 200, remote.body);
  assert.deepEqual(remote.json(), []);
  await ok(['plugin', 'rm', 'capable']);
});

test('a plugin tar without config.json is refused and leaves nothing behind', async () => {
  const pack = tar.pack();
  pack.entry({ name: 'rootfs/', type: 'directory' });
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const r = await d.api('POST', '/plugins/create?name=broken', Buffer.concat(chunks));
  assert.equal(r.status, 400);
  assert.deepEqual(r.json(), { message: 'config not found' });
  assert.equal((await d.api('GET', '/plugins/broken/json')).status, 404);
  const left = (await fsp.readdir(path.join(d.dataRoot, 'plugins'))).filter((n) => n.startsWith('.create-'));
  assert.deepEqual(left, []);
});
