/**
 * `berth secret ...` and `berth config ...` run in-process against a fake Engine API on a
 * temp unix socket: the requests they make (the spec's Name, Labels and base64 Data, the
 * filters), the tables and JSON they print for canned answers, their messages and exit
 * statuses.
 */
import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeEngine, json, noContent, runCli } from '../helpers/fake-engine';
import { mainHelp, groups } from '../../src/cli/registry';

const engine = new FakeEngine('berth-cli-secret-');
const { seen, answers } = engine;

before(() => engine.listen());
after(() => engine.stop());
beforeEach(() => engine.reset());

const berth = (args: string[], stdin?: string) => runCli(['-H', engine.host, ...args], { stdin });
const calls = () => seen.map((s) => `${s.method} ${s.url}`);
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

const SECRET_ID = 'onakdyv307se2tl7nl20anokv';
const CONFIG_ID = 'dg426haahpi5ezmkkj5kyl3sn';

// ---------------------------------------------------------------- create

test('secret create NAME -: stdin sent base64-encoded with the labels; the new ID printed', async () => {
  answers['POST /secrets/create'] = (_s, res) => json(res, 201, { ID: SECRET_ID });
  const r = await berth(['secret', 'create', '-l', 'env=dev', '--label', 'rev=20170324', '--label', 'bare', 'my_secret', '-'], 'my super secret\npassword');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${SECRET_ID}\n`);
  assert.equal(r.stderr, '');
  assert.deepEqual(calls(), ['POST /secrets/create']);
  assert.deepEqual(JSON.parse(seen[0].body), {
    Name: 'my_secret',
    Labels: { env: 'dev', rev: '20170324', bare: '' },
    Data: Buffer.from('my super secret\npassword').toString('base64'),
  });
});

test('secret create NAME FILE: the file\'s bytes (binary too); no labels is an empty map', async () => {
  answers['POST /secrets/create'] = (_s, res) => json(res, 201, { ID: SECRET_ID });
  const file = join(engine.dir, 'secret.bin');
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 10]);
  writeFileSync(file, bytes);
  const r = await berth(['secret', 'create', 'bin_secret', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${SECRET_ID}\n`);
  const body = JSON.parse(seen[0].body);
  assert.deepEqual(body, { Name: 'bin_secret', Labels: {}, Data: bytes.toString('base64') });
  assert.deepEqual(Buffer.from(body.Data, 'base64'), bytes);
});

test('secret create: a missing file, a bad label, a driver with data, too few arguments; the daemon\'s refusal', async () => {
  const missing = join(engine.dir, 'nope.txt');
  const f = await berth(['secret', 'create', 's', missing]);
  assert.equal(f.code, 1);
  assert.equal(f.stderr, `Error reading content from "${missing}": open ${missing}: no such file or directory\n`);
  const l = await berth(['secret', 'create', '-l', '=x', 's', '-'], 'x');
  assert.equal(l.code, 125);
  assert.match(l.stderr, /^invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name\n/);
  const d = await berth(['secret', 'create', '-d', 'vault', 's', '-'], 'x');
  assert.equal(d.code, 1);
  assert.equal(d.stderr, 'When using secret driver secret data must be empty\n');
  const a = await berth(['secret', 'create']);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /^berth: 'berth secret create' requires at least 1 and at most 2 arguments\n/);
  const c = await berth(['config', 'create', 'only_name']);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /^berth: 'berth config create' requires 2 arguments\n/);
  assert.equal(seen.length, 0);

  answers['POST /secrets/create'] = (_s, res) => json(res, 409, { message: 'rpc error: code = AlreadyExists desc = secret s already exists' });
  const dup = await berth(['secret', 'create', 's', '-'], 'x');
  assert.equal(dup.code, 1);
  assert.equal(dup.stdout, '');
  assert.equal(dup.stderr, 'Error response from daemon: rpc error: code = AlreadyExists desc = secret s already exists\n');
});

test('config create: POST /configs/create with the data and labels; the ID printed', async () => {
  answers['POST /configs/create'] = (_s, res) => json(res, 201, { ID: CONFIG_ID });
  const r = await berth(['config', 'create', '--label', 'env=prod', 'my_config', '-'], 'hello\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${CONFIG_ID}\n`);
  assert.deepEqual(calls(), ['POST /configs/create']);
  assert.deepEqual(JSON.parse(seen[0].body), { Name: 'my_config', Labels: { env: 'prod' }, Data: 'aGVsbG8K' });
  const d = await berth(['config', 'create', '-d', 'x', 'c', '-'], 'x');
  assert.equal(d.code, 125);
  assert.match(d.stderr, /^unknown shorthand flag: 'd' in -d\n/);
});

// ---------------------------------------------------------------- ls

const secretList = () => [
  { ID: 'mem02h8n73mybpgqjf0kfi1n0', Version: { Index: 3 }, CreatedAt: ago(3_500), UpdatedAt: ago(3_500), Spec: { Name: 'test_secret10', Labels: { project: 'a' } } },
  { ID: '9u9hk4br2ej0wgngkga6rp4hq', Version: { Index: 2 }, CreatedAt: ago(5 * 7 * 86_400_000), UpdatedAt: ago(2 * 3_600_000), Spec: { Name: 'my_secret', Labels: {}, Driver: { Name: 'vault' } } },
  { ID: '6697bflskwj1998km1gnnjr38', Version: { Index: 1 }, CreatedAt: ago(60_500), UpdatedAt: ago(60_500), Spec: { Name: 'test_secret9', Labels: { b: '2', a: '1' } } },
];

test('secret ls: docker\'s table (full IDs, DRIVER, times ago), names in natural order, filters passed', async () => {
  answers['GET /secrets'] = (_s, res) => json(res, 200, secretList());
  const r = await berth(['secret', 'ls', '--filter', 'name=test', '-f', 'label=project']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'ID                          NAME            DRIVER    CREATED              UPDATED\n' +
      '9u9hk4br2ej0wgngkga6rp4hq   my_secret       vault     5 weeks ago          2 hours ago\n' +
      '6697bflskwj1998km1gnnjr38   test_secret9              About a minute ago   About a minute ago\n' +
      'mem02h8n73mybpgqjf0kfi1n0   test_secret10             3 seconds ago        3 seconds ago\n',
  );
  assert.equal(seen[0].url.split('?')[0], '/secrets');
  assert.deepEqual(JSON.parse(seen[0].query.get('filters')!), { name: ['test'], label: ['project'] });

  const q = await berth(['secret', 'list', '-q']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, '9u9hk4br2ej0wgngkga6rp4hq\n6697bflskwj1998km1gnnjr38\nmem02h8n73mybpgqjf0kfi1n0\n');
  assert.equal(seen[1].query.get('filters'), null);

  const f = await berth(['secret', 'ls', '--format', '{{.Name}}: {{.Labels}} [{{.Label "project"}}]']);
  assert.equal(f.stdout, 'my_secret:  []\ntest_secret9: a=1,b=2 []\ntest_secret10: project=a [a]\n');

  const t = await berth(['secret', 'ls', '--format', 'table {{.ID}}\\t{{.Name}}']);
  assert.equal(
    t.stdout,
    'ID                          NAME\n9u9hk4br2ej0wgngkga6rp4hq   my_secret\n6697bflskwj1998km1gnnjr38   test_secret9\nmem02h8n73mybpgqjf0kfi1n0   test_secret10\n',
  );

  const j = await berth(['secret', 'ls', '--format', 'json', '-f', 'id=mem']);
  const objs = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(objs[2]), ['CreatedAt', 'Driver', 'ID', 'Labels', 'Name', 'UpdatedAt']);
  assert.deepEqual(objs[2], { CreatedAt: '3 seconds ago', Driver: '', ID: 'mem02h8n73mybpgqjf0kfi1n0', Labels: 'project=a', Name: 'test_secret10', UpdatedAt: '3 seconds ago' });
});

test('secret ls: an empty answer is the header alone; a bad filter or template is refused', async () => {
  answers['GET /secrets'] = (_s, res) => json(res, 200, []);
  const r = await berth(['secret', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ID        NAME      DRIVER    CREATED   UPDATED\n');
  const bad = await berth(['secret', 'ls', '-f', 'name']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /bad format of filter \(expected name=value\)/);
  const tpl = await berth(['secret', 'ls', '--format', '{{.Name']);
  assert.equal(tpl.code, 1);
  assert.match(tpl.stderr, /^template parsing error: /);
});

test('secret ls outside a swarm manager: the daemon\'s message, exit 1', async () => {
  answers['GET /secrets'] = (_s, res) => json(res, 503, { message: 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.' });
  const r = await berth(['secret', 'ls']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^Error response from daemon: This node is not a swarm manager\./);
});

test('config ls: no DRIVER column; configs sorted by name; --format json without Driver', async () => {
  answers['GET /configs'] = (_s, res) =>
    json(res, 200, [
      { ID: 'zzz', CreatedAt: ago(10_500), UpdatedAt: ago(10_500), Spec: { Name: 'web', Data: 'aGVsbG8K' } },
      { ID: CONFIG_ID, CreatedAt: ago(7_500), UpdatedAt: ago(7_500), Spec: { Name: 'my_config', Labels: { env: 'dev' }, Data: 'aGVsbG8K' } },
    ]);
  const r = await berth(['config', 'ls', '-f', 'name=my']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'ID                          NAME        CREATED          UPDATED\n' +
      `${CONFIG_ID}   my_config   7 seconds ago    7 seconds ago\n` +
      'zzz                         web         10 seconds ago   10 seconds ago\n',
  );
  assert.equal(seen[0].url.split('?')[0], '/configs');
  assert.deepEqual(JSON.parse(seen[0].query.get('filters')!), { name: ['my'] });
  const j = await berth(['config', 'list', '--format', 'json']);
  assert.deepEqual(JSON.parse(j.stdout.split('\n')[0]), { CreatedAt: '7 seconds ago', ID: CONFIG_ID, Labels: 'env=dev', Name: 'my_config', UpdatedAt: '7 seconds ago' });
  const q = await berth(['config', 'ls', '-q']);
  assert.equal(q.stdout, `${CONFIG_ID}\nzzz\n`);
});

// ---------------------------------------------------------------- inspect

const mySecret = {
  ID: 'eo7jnzguqgtpdah3cm5srfb97',
  Version: { Index: 17 },
  CreatedAt: '2017-03-24T08:15:09.735271783Z',
  UpdatedAt: '2017-03-24T08:15:10Z',
  Spec: { Name: 'my_secret', Labels: { rev: '20170324', env: 'dev', flag: '' } },
};

test('secret inspect: a JSON array like docker\'s; --format; missing ones reported after the others, exit 1', async () => {
  answers['GET /secrets/my_secret'] = (_s, res) => json(res, 200, mySecret);
  answers['GET /secrets/gone'] = (_s, res) => json(res, 404, { message: 'secret gone not found' });
  const r = await berth(['secret', 'inspect', 'my_secret', 'gone']);
  assert.equal(r.code, 1);
  assert.equal(
    r.stdout,
    '[\n    {\n        "ID": "eo7jnzguqgtpdah3cm5srfb97",\n        "Version": {\n            "Index": 17\n        },\n' +
      '        "CreatedAt": "2017-03-24T08:15:09.735271783Z",\n        "UpdatedAt": "2017-03-24T08:15:10Z",\n' +
      '        "Spec": {\n            "Name": "my_secret",\n            "Labels": {\n                "rev": "20170324",\n                "env": "dev",\n                "flag": ""\n            }\n        }\n    }\n]\n',
  );
  assert.equal(r.stderr, 'Error response from daemon: secret gone not found\n');
  assert.deepEqual(calls(), ['GET /secrets/my_secret', 'GET /secrets/gone']);

  const f = await berth(['secret', 'inspect', '-f', '{{.Spec.Name}} {{.Version.Index}}', 'my_secret']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, 'my_secret 17\n');
  const none = await berth(['secret', 'inspect', 'gone']);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '[]\n');
});

test('secret inspect --pretty: docker\'s template, labels sorted, Go time; --format pretty too', async () => {
  answers['GET /secrets/my_secret'] = (_s, res) => json(res, 200, mySecret);
  const expected =
    'ID:              eo7jnzguqgtpdah3cm5srfb97\n' +
    'Name:              my_secret\n' +
    'Labels:\n - env=dev\n - flag\n - rev=20170324\n' +
    'Driver:            \n' +
    'Created at:        2017-03-24 08:15:09.735271783 +0000 UTC\n' +
    'Updated at:        2017-03-24 08:15:10 +0000 UTC\n';
  const r = await berth(['secret', 'inspect', '--pretty', 'my_secret']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, expected);
  // --pretty wins over --format, as in docker
  const both = await berth(['secret', 'inspect', '--pretty', '--format', '{{.ID}}', 'my_secret', 'my_secret']);
  assert.equal(both.stdout, expected + expected);
  const fp = await berth(['secret', 'inspect', '--format', 'pretty', 'my_secret']);
  assert.equal(fp.stdout, expected);
  const extra = await berth(['secret', 'inspect', '--format', 'pretty {{.ID}}', 'my_secret']);
  assert.equal(extra.code, 1);
  assert.equal(extra.stderr, 'cannot supply extra formatting options to the pretty template\n');
  answers['GET /secrets/gone'] = (_s, res) => json(res, 404, { message: 'secret gone not found' });
  const g = await berth(['secret', 'inspect', '--pretty', 'my_secret', 'gone']);
  assert.equal(g.code, 1);
  assert.equal(g.stdout, '');
  assert.equal(g.stderr, 'Error response from daemon: secret gone not found\n');
});

test('config inspect: JSON with Spec.Data; --pretty shows the data decoded', async () => {
  const cfg = { ID: CONFIG_ID, Version: { Index: 4 }, CreatedAt: '2017-03-24T08:15:09Z', UpdatedAt: '2017-03-24T08:15:09Z', Spec: { Name: 'my_config', Labels: { env: 'dev' }, Data: 'aGVsbG8K' } };
  answers[`GET /configs/${CONFIG_ID}`] = (_s, res) => json(res, 200, cfg);
  const r = await berth(['config', 'inspect', CONFIG_ID]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [cfg]);
  assert.match(r.stdout, /\n {12}"Data": "aGVsbG8K"\n/);
  const p = await berth(['config', 'inspect', '--pretty', CONFIG_ID]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(
    p.stdout,
    `ID:\t\t\t${CONFIG_ID}\nName:\t\t\tmy_config\nLabels:\n - env=dev\n` +
      'Created at:            \t2017-03-24 08:15:09 +0000 UTC\nUpdated at:            \t2017-03-24 08:15:09 +0000 UTC\nData:\nhello\n\n',
  );
  const miss = await berth(['config', 'inspect', 'nope']);
  assert.equal(miss.code, 1);
  assert.equal(miss.stderr, 'Error response from daemon: config nope not found\n');
});

// ---------------------------------------------------------------- rm

test('secret rm / remove: prints each name removed; failures reported after, exit 1', async () => {
  answers['DELETE /secrets/my_secret'] = (_s, res) => noContent(res);
  answers['DELETE /secrets/eo7jnzguqgtpdah3cm5srfb97'] = (_s, res) => noContent(res);
  answers['DELETE /secrets/used'] = (_s, res) => json(res, 400, { message: "rpc error: code = InvalidArgument desc = secret 'used' is in use by the following service: web" });
  const r = await berth(['secret', 'rm', 'my_secret', 'gone', 'used', 'eo7jnzguqgtpdah3cm5srfb97']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'my_secret\neo7jnzguqgtpdah3cm5srfb97\n');
  assert.equal(
    r.stderr,
    "Error response from daemon: page not found\nError response from daemon: rpc error: code = InvalidArgument desc = secret 'used' is in use by the following service: web\n",
  );
  assert.deepEqual(calls(), ['DELETE /secrets/my_secret', 'DELETE /secrets/gone', 'DELETE /secrets/used', 'DELETE /secrets/eo7jnzguqgtpdah3cm5srfb97']);
  seen.length = 0;
  const ok = await berth(['secret', 'remove', 'my_secret']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'my_secret\n');
  const none = await berth(['secret', 'rm']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^berth: 'berth secret rm' requires at least 1 argument\n/);
});

test('config rm / remove: DELETE /configs/{name}', async () => {
  answers['DELETE /configs/my_config'] = (_s, res) => noContent(res);
  const r = await berth(['config', 'remove', 'my_config', 'other']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'my_config\n');
  assert.equal(r.stderr, 'Error response from daemon: page not found\n');
  assert.deepEqual(calls(), ['DELETE /configs/my_config', 'DELETE /configs/other']);
});

// ---------------------------------------------------------------- help

test('help: secret and config listed as management commands, their subcommands and aliases', async () => {
  assert.match(mainHelp('berth'), /\n  config +Manage Swarm configs\n/);
  assert.match(mainHelp('berth'), /\n  secret +Manage Swarm secrets\n/);
  assert.deepEqual(Object.keys(groups.secret.subcommands), ['create', 'inspect', 'ls', 'rm']);
  const g = await berth(['secret']);
  assert.equal(g.code, 0);
  assert.match(g.stdout, /^Usage:  berth secret COMMAND\n\nManage Swarm secrets\n\nCommands:\n  create +Create a secret from a file or STDIN as content\n/);
  const h = await berth(['config', 'ls', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^Usage:  berth config ls \[OPTIONS\]\n\nList configs\n\nAliases:\n  berth config ls, berth config list\n/);
  assert.match(h.stdout, /-q, --quiet +Only display IDs/);
  const c = await berth(['secret', 'create', '--help']);
  assert.match(c.stdout, /-d, --driver string +Secret driver\n/);
  assert.match(c.stdout, /-l, --label list +Secret labels\n/);
  assert.equal(seen.length, 0);
});
