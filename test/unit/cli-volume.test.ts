/**
 * `berth volume ...`, `system df`, `system prune`, `image prune`, `container
 * prune` and `builder prune` run in-process against a fake Engine API on a temp
 * unix socket: the requests they make, what they print (tables, prompts,
 * reports), and their exit statuses, errors included.
 */
import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { FakeEngine, json, noContent, runCli } from '../helpers/fake-engine';
import { diskUsageRows, sortBuildCache } from '../../src/cli/format/disk-usage';
import { systemPruneWarning } from '../../src/cli/commands/prune';

const engine = new FakeEngine('berth-cli-volume-');
const { seen, answers } = engine;

before(() => engine.listen());
after(() => engine.stop());
beforeEach(() => engine.reset());

function berth(args: string[], opts: { stdin?: string } = {}) {
  return runCli(['-H', engine.host, ...args], { stdin: opts.stdin });
}

const calls = () => seen.map((s) => `${s.method} ${s.url.replace(/\?.*$/, '')}`);
const bodyOf = (i = 0) => JSON.parse(seen[i].body) as Record<string, unknown>;
const filtersOf = (i = 0) => JSON.parse(seen[i].query.get('filters') ?? 'null') as Record<string, string[]> | null;

const ANON = '07c7bdf3e34ab76d921894c2b834f073721fccfbbcba792aa7648e3a7a664c2e';

function volume(name: string, extra: Record<string, unknown> = {}) {
  return { Name: name, Driver: 'local', Mountpoint: `/var/lib/berth/volumes/${name}/_data`, CreatedAt: '2024-05-01T10:00:00Z', Labels: null, Scope: 'local', Options: null, ...extra };
}

// ---------------------------------------------------------------- create

test('volume create NAME: POSTs the driver and name, prints the name the daemon gives back', async () => {
  answers['POST /volumes/create'] = (s, res) => json(res, 201, volume((JSON.parse(s.body) as { Name?: string }).Name ?? ANON));
  const r = await berth(['volume', 'create', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hello\n');
  assert.equal(r.stderr, '');
  assert.deepEqual(calls(), ['POST /volumes/create']);
  assert.deepEqual(bodyOf(), { Driver: 'local', Name: 'hello' });

  // No name: the daemon names it; empty fields are left out as docker's client does.
  seen.length = 0;
  const anon = await berth(['volume', 'create']);
  assert.equal(anon.stdout, `${ANON}\n`);
  assert.deepEqual(bodyOf(), { Driver: 'local' });
});

test('volume create with -d, --label, -o and --name: labels and options as maps', async () => {
  answers['POST /volumes/create'] = (s, res) => json(res, 201, volume((JSON.parse(s.body) as { Name: string }).Name));
  const r = await berth([
    'volume', 'create', '-d', 'local',
    '--label', 'is-timelord=yes', '--label', 'bare',
    '-o', 'type=tmpfs', '--opt=device=tmpfs', '-o', 'o=size=100m,uid=1000',
    '--name', 'foo',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'foo\n');
  assert.deepEqual(bodyOf(), {
    Driver: 'local',
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=100m,uid=1000' },
    Labels: { 'is-timelord': 'yes', bare: '' },
    Name: 'foo',
  });
});

test('volume create: --name and a name argument conflict; bad labels and extra arguments are usage errors', async () => {
  const both = await berth(['volume', 'create', '--name', 'a', 'b']);
  assert.equal(both.code, 1);
  assert.equal(both.stderr, 'conflicting options: cannot specify a volume-name through both --name and as a positional arg\n');
  const label = await berth(['volume', 'create', '--label', '=x', 'v']);
  assert.equal(label.code, 125);
  assert.match(label.stderr, /^invalid argument "=x" for "--label" flag: invalid label '=x': empty name\n\nUsage:  berth volume create \[OPTIONS\] \[VOLUME\]\n/);
  const two = await berth(['volume', 'create', 'a', 'b']);
  assert.equal(two.code, 1);
  assert.match(two.stderr, /'berth volume create' requires at most 1 argument/);
  assert.deepEqual(seen, []);
});

test('volume create: the daemon refusing is "Error response from daemon: ..." with status 1', async () => {
  const msg = 'create bad!name: "bad!name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path';
  answers['POST /volumes/create'] = (_s, res) => json(res, 400, { message: msg });
  const r = await berth(['volume', 'create', 'bad!name']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `Error response from daemon: ${msg}\n`);
});

// ---------------------------------------------------------------- ls

const listed = {
  Volumes: [
    volume('vol10', { Labels: { 'com.example.b': '2', 'com.example.a': '1' } }),
    volume('tyler'),
    volume(ANON),
    volume('vol9', { Driver: 'other', Scope: 'global' }),
  ],
  Warnings: [],
};

test('volume ls: DRIVER and VOLUME NAME, names in natural order', async () => {
  answers['GET /volumes'] = (_s, res) => json(res, 200, listed);
  const r = await berth(['volume', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'DRIVER    VOLUME NAME\n' +
      `local     ${ANON}\n` +
      'local     tyler\n' +
      'other     vol9\n' +
      'local     vol10\n',
  );
  assert.deepEqual(calls(), ['GET /volumes']);
  assert.equal(seen[0].query.get('filters'), null);
});

test('volume list (alias) -q and -f: names only; filters sent as the API filters', async () => {
  answers['GET /volumes'] = (_s, res) => json(res, 200, listed);
  const r = await berth(['volume', 'list', '-q', '-f', 'dangling=true', '--filter', 'driver=local', '-f', 'label=is-timelord=yes', '-f', 'name=rose']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${ANON}\ntyler\nvol9\nvol10\n`);
  assert.deepEqual(filtersOf(), { dangling: ['true'], driver: ['local'], label: ['is-timelord=yes'], name: ['rose'] });

  const bad = await berth(['volume', 'ls', '-f', 'dangling']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^invalid argument "dangling" for "-f, --filter" flag: bad format of filter \(expected name=value\)\n/);
  const extra = await berth(['volume', 'ls', 'x']);
  assert.equal(extra.code, 1);
  assert.match(extra.stderr, /accepts no arguments/);
});

test('volume ls --format: fields, Label, Links and Size (N/A outside df), json, table TEMPLATE, raw', async () => {
  answers['GET /volumes'] = (_s, res) => json(res, 200, { Volumes: [listed.Volumes[0], listed.Volumes[3]], Warnings: null });
  const t = await berth(['volume', 'ls', '--format', '{{.Name}}: {{.Driver}} {{.Scope}} {{.Mountpoint}} [{{.Labels}}] {{.Label "com.example.b"}} {{.Links}} {{.Size}} {{.CreatedAt}}']);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(
    t.stdout,
    'vol9: other global /var/lib/berth/volumes/vol9/_data []  N/A N/A 2024-05-01T10:00:00Z\n' +
      'vol10: local local /var/lib/berth/volumes/vol10/_data [com.example.a=1,com.example.b=2] 2 N/A N/A 2024-05-01T10:00:00Z\n',
  );

  const j = await berth(['volume', 'ls', '--format', 'json']);
  assert.equal(
    j.stdout.split('\n')[1],
    '{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"com.example.a=1,com.example.b=2","Links":"N/A","Mountpoint":"/var/lib/berth/volumes/vol10/_data","Name":"vol10","Scope":"local","Size":"N/A","Status":"N/A"}',
  );

  const tt = await berth(['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Mountpoint}}\\t{{.Labels}}']);
  assert.equal(
    tt.stdout,
    'VOLUME NAME   MOUNTPOINT                           LABELS\n' +
      'vol9          /var/lib/berth/volumes/vol9/_data    \n' +
      'vol10         /var/lib/berth/volumes/vol10/_data   com.example.a=1,com.example.b=2\n',
  );

  const raw = await berth(['volume', 'ls', '--format', 'raw']);
  assert.equal(raw.stdout, 'name: vol9\ndriver: other\n\nname: vol10\ndriver: local\n\n');
  const rawQ = await berth(['volume', 'ls', '--format', 'raw', '-q']);
  assert.equal(rawQ.stdout, 'name: vol9\nname: vol10\n');

  const bad = await berth(['volume', 'ls', '--format', '{{.Nope}}']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /can't evaluate field Nope in type \*formatter.volumeContext/);
});

test('volume ls with no volumes (or a null list) prints only the header', async () => {
  answers['GET /volumes'] = (_s, res) => json(res, 200, { Volumes: null, Warnings: null });
  const r = await berth(['volume', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'DRIVER    VOLUME NAME\n');
});

// ---------------------------------------------------------------- inspect

const inspected = { CreatedAt: '2020-04-19T11:00:21Z', Driver: 'local', Labels: {}, Mountpoint: '/var/lib/berth/volumes/myvolume/_data', Name: 'myvolume', Options: {}, Scope: 'local' };

test('volume inspect: a JSON array indented like docker; -f templates; a missing one is reported, status 1', async () => {
  answers['GET /volumes/myvolume'] = (_s, res) => json(res, 200, inspected);
  answers['GET /volumes/nope'] = (_s, res) => json(res, 404, { message: 'get nope: no such volume' });
  const r = await berth(['volume', 'inspect', 'myvolume']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, JSON.stringify([inspected], null, 4) + '\n');
  assert.deepEqual(calls(), ['GET /volumes/myvolume']);

  const f = await berth(['volume', 'inspect', '--format', '{{ .Mountpoint }}', 'myvolume']);
  assert.equal(f.stdout, '/var/lib/berth/volumes/myvolume/_data\n');
  const short = await berth(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'myvolume', 'myvolume']);
  assert.equal(short.stdout, 'myvolume local\nmyvolume local\n');

  const both = await berth(['volume', 'inspect', 'myvolume', 'nope']);
  assert.equal(both.code, 1);
  assert.equal(both.stdout, JSON.stringify([inspected], null, 4) + '\n');
  assert.equal(both.stderr, 'Error response from daemon: get nope: no such volume\n');

  const only = await berth(['volume', 'inspect', 'nope']);
  assert.equal(only.code, 1);
  assert.equal(only.stdout, '[]\n');

  const none = await berth(['volume', 'inspect']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /'berth volume inspect' requires at least 1 argument/);
});

// ---------------------------------------------------------------- rm

test('volume rm: each name printed once removed; failures reported together at the end, status 1', async () => {
  answers['DELETE /volumes/a'] = (_s, res) => noContent(res);
  answers['DELETE /volumes/b'] = (_s, res) => noContent(res);
  answers['DELETE /volumes/busy'] = (_s, res) => json(res, 409, { message: 'remove busy: volume is in use - [3695c422697f]' });
  answers['DELETE /volumes/gone'] = (_s, res) => json(res, 404, { message: 'get gone: no such volume' });
  const r = await berth(['volume', 'rm', 'a', 'busy', 'gone', 'b']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'a\nb\n');
  assert.equal(r.stderr, 'Error response from daemon: remove busy: volume is in use - [3695c422697f]\nError response from daemon: get gone: no such volume\n');
  assert.deepEqual(calls(), ['DELETE /volumes/a', 'DELETE /volumes/busy', 'DELETE /volumes/gone', 'DELETE /volumes/b']);
  assert.equal(seen[0].query.get('force'), null, 'no force unless asked');
});

test('volume remove -f: force=1 is sent; an empty name is refused by the client', async () => {
  answers['DELETE /volumes/a'] = (_s, res) => noContent(res);
  const r = await berth(['volume', 'remove', '-f', 'a', ' ']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'a\n');
  assert.equal(r.stderr, 'invalid volume name or ID: value is empty\n');
  assert.deepEqual(calls(), ['DELETE /volumes/a']);
  assert.equal(seen[0].query.get('force'), '1');
  const none = await berth(['volume', 'rm']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /'berth volume rm' requires at least 1 argument/);
});

// ---------------------------------------------------------------- volume prune

const volumesPruned = (res: http.ServerResponse) => json(res, 200, { VolumesDeleted: [ANON, 'my-named-vol'], SpaceReclaimed: 1_234_567 });

test('volume prune: asks, y prunes anonymous volumes, lists them and the space', async () => {
  answers['POST /volumes/prune'] = (_s, res) => volumesPruned(res);
  const r = await berth(['volume', 'prune', '--filter', 'label=foo', '--filter', 'label!=bar'], { stdin: 'y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'WARNING! This will remove anonymous local volumes not used by at least one container.\n' +
      'Are you sure you want to continue? [y/N] ' +
      `Deleted Volumes:\n${ANON}\nmy-named-vol\n\nTotal reclaimed space: 1.235MB\n`,
  );
  assert.deepEqual(calls(), ['POST /volumes/prune']);
  assert.deepEqual(filtersOf(), { label: ['foo'], 'label!': ['bar'] });
});

test('volume prune -a: the all=true filter and the "all local volumes" warning; -a with --filter all= conflicts', async () => {
  answers['POST /volumes/prune'] = (_s, res) => volumesPruned(res);
  const r = await berth(['volume', 'prune', '-a'], { stdin: 'Y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Volumes:\n'), r.stdout);
  assert.deepEqual(filtersOf(), { all: ['true'] });

  seen.length = 0;
  const clash = await berth(['volume', 'prune', '--all', '--filter', 'all=1', '-f']);
  assert.equal(clash.code, 1);
  assert.equal(clash.stderr, 'conflicting options: cannot specify both --all and --filter all=1\n');
  assert.deepEqual(seen, []);
});

test('volume prune: "n", "yes" and end of input cancel without a request; -f does not ask; nothing deleted is 0B', async () => {
  answers['POST /volumes/prune'] = (_s, res) => json(res, 200, { VolumesDeleted: null, SpaceReclaimed: 0 });
  for (const answer of ['n\n', 'yes\n', '']) {
    const r = await berth(['volume', 'prune'], { stdin: answer });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ');
    assert.equal(r.stderr, '');
  }
  assert.deepEqual(seen, []);
  const f = await berth(['volume', 'prune', '-f']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, 'Total reclaimed space: 0B\n');
  assert.equal(filtersOf(), null);
});

test('volume prune: a daemon error is reported with status 1', async () => {
  answers['POST /volumes/prune'] = (_s, res) => json(res, 400, { message: "invalid filter 'all=maybe'" });
  const r = await berth(['volume', 'prune', '-f', '--filter', 'all=maybe']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "Error response from daemon: invalid filter 'all=maybe'\n");
});

// ---------------------------------------------------------------- system df

const nowSec = () => Math.floor(Date.now() / 1000);
const isoAgo = (ms: number) => new Date(Date.now() - ms).toISOString();

function dfBody() {
  const t = nowSec();
  return {
    LayersSize: 16_430_000,
    Images: [
      { Id: 'sha256:b2789dd875bf427de7f9f6ae001940073b3201409b14aba7e5db71f408b8569e', RepoTags: ['my-curl:latest'], RepoDigests: [], Created: t - 360, Size: 11_000_000, SharedSize: 10_000_000, Containers: 0 },
      { Id: 'sha256:4e38e38c8ce0b8d9041a9c4fefe786631d1416225e13b0bfe8cfa2321aec4bba', RepoTags: ['alpine:latest', 'alpine:edge'], RepoDigests: [], Created: t - 360, Size: 4_799_000, SharedSize: 0, Containers: 1 },
      { Id: 'sha256:47cf20d8c26c46fff71be614d9f54997edacfe8d46d51769706e5aba94b16f2b', RepoTags: ['docker.io/library/alpine:3.3'], RepoDigests: [], Created: t - 360, Size: 4_797_000, SharedSize: 4_797_000, Containers: 2 },
      { Id: 'sha256:a0971c4015c1e898c60bf95781c6730a05b5d8a2ae6827f53837e6c9d38efdec', RepoTags: [], RepoDigests: [], Created: t - 360, Size: 1000, SharedSize: -1, Containers: -1 },
    ],
    Containers: [
      { Id: '4a7f7eebae0f5a1fb3d1d6a1e0b6ab3e0b5b8e21e27e7f25d6a0f5d5b5d5b5d5', Names: ['/hopeful_yalow'], Image: 'alpine:latest', ImageID: 'sha256:4e38', Command: 'sh', Created: t - 960, SizeRw: 100, SizeRootFs: 4_799_100, State: 'running', Status: 'Up 5 minutes', Mounts: [{ Type: 'volume', Name: ANON, Driver: 'local' }] },
      { Id: 'f98f9c2aa1eaf98f9c2aa1eaf98f9c2aa1eaf98f9c2aa1eaf98f9c2aa1eaf98f', Names: ['/anon-vol'], Image: 'alpine:3.3', ImageID: 'sha256:47cf', Command: 'sh', Created: t - 960, SizeRw: 212, SizeRootFs: 4_797_212, State: 'exited', Status: 'Exited (0) 48 seconds ago', Mounts: [] },
      { Id: 'c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3', Names: ['/p'], Image: 'alpine:3.3', Command: 'top', Created: t - 960, SizeRw: 0, State: 'paused', Status: 'Up 5 minutes (Paused)' },
      { Id: 'd4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4', Names: ['/c'], Image: 'alpine:3.3', Command: 'true', Created: t - 960, SizeRw: 5, State: 'created', Status: 'Created' },
    ],
    Volumes: [
      volume(ANON, { UsageData: { Size: 36, RefCount: 2 } }),
      volume('my-named-vol', { UsageData: { Size: 0, RefCount: 0 } }),
      volume('unsized', { UsageData: { Size: -1, RefCount: 0 } }),
      volume('big', { UsageData: { Size: 150_300_000, RefCount: 0 } }),
    ],
    BuildCache: [
      { ID: 'zzzzzzzzzzzzzzzzzzzzzzzzz', Type: 'regular', Description: 'mount / from exec', InUse: true, Shared: false, Size: 1000, CreatedAt: isoAgo(2 * 3600_000), LastUsedAt: isoAgo(3600_000), UsageCount: 3 },
      { ID: 'sharedsharedsharedshared', Type: 'source.local', Description: 'local source', InUse: false, Shared: true, Size: 500, CreatedAt: isoAgo(2 * 3600_000), LastUsedAt: null, UsageCount: 1 },
      { ID: 'aaaaaaaaaaaaaaaaaaaaaaaaa', Type: 'regular', Description: 'pulled', InUse: false, Shared: false, Size: 2000, CreatedAt: isoAgo(2 * 3600_000), LastUsedAt: isoAgo(2 * 3600_000), UsageCount: 1 },
    ],
  };
}

test('system df: the summary table with docker arithmetic for active, size and reclaimable', async () => {
  answers['GET /system/df'] = (_s, res) => json(res, 200, dfBody());
  const r = await berth(['system', 'df']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n' +
      // Images: 16.43MB of layers, less the unique size of images in use (alpine:latest's 4.799MB) → 70.79% shown as 70%.
      'Images          4         2         16.43MB   11.63MB (70%)\n' +
      // Containers: 317B in all; exited and created ones (212B + 5B) go → 68%.
      'Containers      4         2         317B      217B (68%)\n' +
      // Volumes: the -1 size is skipped; 150.3MB of 150.300036MB unused → 99% (truncated, not rounded).
      'Local Volumes   4         1         150.3MB   150.3MB (99%)\n' +
      // Build cache: shared records are not counted; the one in use stays; no percentage.
      'Build Cache     3         1         3kB       2kB\n',
  );
  assert.deepEqual(calls(), ['GET /system/df']);
});

test('system df with nothing: zeros and 0B without percentages', async () => {
  answers['GET /system/df'] = (_s, res) => json(res, 200, { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: null });
  const r = await berth(['system', 'df']);
  assert.equal(
    r.stdout,
    'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n' +
      'Images          0         0         0B        0B\n' +
      'Containers      0         0         0B        0B\n' +
      'Local Volumes   0         0         0B        0B\n' +
      'Build Cache     0         0         0B        0B\n',
  );
});

test('system df --format: json rows, a template, table TEMPLATE, raw', async () => {
  answers['GET /system/df'] = (_s, res) => json(res, 200, dfBody());
  const j = await berth(['system', 'df', '--format', 'json']);
  assert.equal(j.code, 0, j.stderr);
  assert.deepEqual(j.stdout.trim().split('\n'), [
    '{"Active":"2","Reclaimable":"11.63MB (70%)","Size":"16.43MB","TotalCount":"4","Type":"Images"}',
    '{"Active":"2","Reclaimable":"217B (68%)","Size":"317B","TotalCount":"4","Type":"Containers"}',
    '{"Active":"1","Reclaimable":"150.3MB (99%)","Size":"150.3MB","TotalCount":"4","Type":"Local Volumes"}',
    '{"Active":"1","Reclaimable":"2kB","Size":"3kB","TotalCount":"3","Type":"Build Cache"}',
  ]);
  const t = await berth(['system', 'df', '--format', '{{.Type}}: {{.TotalCount}}']);
  assert.equal(t.stdout, 'Images: 4\nContainers: 4\nLocal Volumes: 4\nBuild Cache: 3\n');
  const tt = await berth(['system', 'df', '--format', 'table {{.Type}}\\t{{.Reclaimable}}']);
  assert.equal(tt.stdout, 'TYPE            RECLAIMABLE\nImages          11.63MB (70%)\nContainers      217B (68%)\nLocal Volumes   150.3MB (99%)\nBuild Cache     2kB\n');
  const raw = await berth(['system', 'df', '--format', 'raw']);
  assert.ok(raw.stdout.startsWith('type: Images\ntotal: 4\nactive: 2\nsize: 16.43MB\nreclaimable: 11.63MB (70%)\n\ntype: Containers\n'), raw.stdout);
  const bad = await berth(['system', 'df', '--format', '{{.Nope}}']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /can't evaluate field Nope in type \*formatter.diskUsageImagesContext/);
});

test('system df -v: a table per kind; images by first tag, containers without virtual size, build cache by last use', async () => {
  answers['GET /system/df'] = (_s, res) => json(res, 200, dfBody());
  const r = await berth(['system', 'df', '-v']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'Images space usage:\n\n' +
      'REPOSITORY   TAG       IMAGE ID       CREATED         SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n' +
      'my-curl      latest    b2789dd875bf   6 minutes ago   11MB      10MB          1MB           0\n' +
      'alpine       latest    4e38e38c8ce0   6 minutes ago   4.8MB     0B            4.799MB       1\n' +
      'alpine       3.3       47cf20d8c26c   6 minutes ago   4.8MB     4.797MB       0B            2\n' +
      '<none>       <none>    a0971c4015c1   6 minutes ago   1kB       N/A           N/A           N/A\n' +
      '\nContainers space usage:\n\n' +
      'CONTAINER ID   IMAGE           COMMAND   LOCAL VOLUMES   SIZE      CREATED          STATUS                      NAMES\n' +
      '4a7f7eebae0f   alpine:latest   "sh"      1               100B      16 minutes ago   Up 5 minutes                hopeful_yalow\n' +
      'f98f9c2aa1ea   alpine:3.3      "sh"      0               212B      16 minutes ago   Exited (0) 48 seconds ago   anon-vol\n' +
      'c3c3c3c3c3c3   alpine:3.3      "top"     0               0B        16 minutes ago   Up 5 minutes (Paused)       p\n' +
      'd4d4d4d4d4d4   alpine:3.3      "true"    0               5B        16 minutes ago   Created                     c\n' +
      '\nLocal Volumes space usage:\n\n' +
      'VOLUME NAME                                                        LINKS     SIZE\n' +
      `${ANON}   2         36B\n` +
      'my-named-vol                                                       0         0B\n' +
      'unsized                                                            0         -1B\n' +
      'big                                                                0         150.3MB\n' +
      '\nBuild cache usage: 3kB\n\n' +
      'CACHE ID        CACHE TYPE     SIZE      CREATED       LAST USED           USAGE     SHARED\n' +
      'sharedshared    source.local   500B      2 hours ago                       1         true\n' +
      'aaaaaaaaaaaa    regular        2kB       2 hours ago   2 hours ago         1         false\n' +
      'zzzzzzzzzzzz*   regular        1kB       2 hours ago   About an hour ago   3         false\n',
  );
});

test('system df -v with other formats: one template over the lists, json, raw', async () => {
  answers['GET /system/df'] = (_s, res) => json(res, 200, dfBody());
  const t = await berth(['system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}}={{.Links}} {{end}}|{{len .BuildCache}}']);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout, `${ANON}=2 my-named-vol=0 unsized=0 big=0 |3`);

  const j = await berth(['system', 'df', '-v', '--format', 'json']);
  const parsed = JSON.parse(j.stdout) as { Images: { Repository: string; ID: string }[]; Containers: unknown[]; Volumes: { Size: string }[]; BuildCache: { ID: string }[] };
  assert.deepEqual(Object.keys(parsed), ['Images', 'Containers', 'Volumes', 'BuildCache']);
  assert.equal(parsed.Images[0].ID, 'sha256:b2789dd875bf427de7f9f6ae001940073b3201409b14aba7e5db71f408b8569e', 'not a table: IDs in full');
  assert.equal(parsed.Volumes[3].Size, '150.3MB');
  assert.equal(parsed.BuildCache[2].ID, 'zzzzzzzzzzzzzzzzzzzzzzzzz*');
  assert.ok(!j.stdout.endsWith('\n'));

  const raw = await berth(['system', 'df', '-v', '--format', 'raw']);
  assert.ok(raw.stdout.startsWith('type: Image\nrepository: my-curl\ntag: latest\ndigest: \nimage_id: sha256:b2789dd875bf'), raw.stdout);
  assert.match(raw.stdout, /\ntype: Container\ncontainer_id: 4a7f7eebae0f5a1f[0-9a-f]*\nimage: alpine:latest\ncommand: "sh"\n/);
  assert.match(raw.stdout, /\ntype: Volume\nname: big\ndriver: local\n\n/);
  assert.match(raw.stdout, /\ntype: Build Cache\nbuild_cache_id: zzzzzzzzzzzzzzzzzzzzzzzzz\*\nparent_id: \nbuild_cache_type: regular\n/);
});

test('system df: daemon errors and arguments', async () => {
  answers['GET /system/df'] = (_s, res) => json(res, 500, { message: 'a disk usage operation is already running' });
  const r = await berth(['system', 'df']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error response from daemon: a disk usage operation is already running\n');
  const extra = await berth(['system', 'df', 'x']);
  assert.equal(extra.code, 1);
  assert.match(extra.stderr, /accepts no arguments/);
});

test('disk usage rows: images in use with unknown sizes are skipped; volumes without usage data count as unsized', () => {
  const rows = diskUsageRows({
    LayersSize: 1000,
    Images: [{ Id: 'a', Size: -1, SharedSize: 0, Containers: 1 }, { Id: 'b', Size: 400, SharedSize: 100, Containers: 1 }],
    Volumes: [{ Name: 'v' }],
  });
  assert.deepEqual(rows.map((r) => r.toJSON()), [
    { Active: '2', Reclaimable: '700B (70%)', Size: '1kB', TotalCount: '2', Type: 'Images' },
    { Active: '0', Reclaimable: '0B', Size: '0B', TotalCount: '0', Type: 'Containers' },
    { Active: '0', Reclaimable: '0B', Size: '0B', TotalCount: '1', Type: 'Local Volumes' },
    { Active: '0', Reclaimable: '0B', Size: '0B', TotalCount: '0', Type: 'Build Cache' },
  ]);
  const order = sortBuildCache([
    { ID: 'b', LastUsedAt: '2024-01-02T00:00:00Z' },
    { ID: 'c', LastUsedAt: null },
    { ID: 'a', LastUsedAt: '2024-01-02T00:00:00Z' },
    { ID: 'd', LastUsedAt: '2024-01-01T00:00:00Z' },
    { ID: 'a0' },
  ]).map((r) => r.ID);
  assert.deepEqual(order, ['a0', 'c', 'd', 'a', 'b']);
});

// ---------------------------------------------------------------- system prune

function answerPrunes() {
  answers['POST /containers/prune'] = (_s, res) => json(res, 200, { ContainersDeleted: ['f44f9b81948b', '792776e68ac9'], SpaceReclaimed: 1000 });
  answers['POST /networks/prune'] = (_s, res) => json(res, 200, { NetworksDeleted: ['network1', 'network2'] });
  answers['POST /volumes/prune'] = (_s, res) => json(res, 200, { VolumesDeleted: [ANON], SpaceReclaimed: 36 });
  answers['POST /images/prune'] = (_s, res) =>
    json(res, 200, {
      ImagesDeleted: [{ Untagged: 'hello-world:latest' }, { Untagged: 'hello-world@sha256:f3b3' }, { Deleted: 'sha256:1815c826' }, { Deleted: 'sha256:45761469' }],
      SpaceReclaimed: 800,
    });
  answers['POST /build/prune'] = (_s, res) => json(res, 200, { CachesDeleted: ['q1', 'q2'], SpaceReclaimed: 5 });
}

const defaultWarning =
  'WARNING! This will remove:\n' +
  '  - all stopped containers\n' +
  '  - all networks not used by at least one container\n' +
  '  - all dangling images\n' +
  '  - unused build cache\n' +
  '\n' +
  'Are you sure you want to continue? [y/N] ';

test('system prune: the warning, then containers, networks, images and build cache, each report, the total', async () => {
  answerPrunes();
  const r = await berth(['system', 'prune'], { stdin: 'y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    defaultWarning +
      'Deleted Containers:\nf44f9b81948b\n792776e68ac9\n\n' +
      'Deleted Networks:\nnetwork1\nnetwork2\n\n' +
      'Deleted Images:\nuntagged: hello-world:latest\nuntagged: hello-world@sha256:f3b3\ndeleted: sha256:1815c826\ndeleted: sha256:45761469\n\n' +
      'Deleted build cache objects:\nq1\nq2\n\n' +
      'Total reclaimed space: 1.805kB\n',
  );
  assert.deepEqual(calls(), ['POST /containers/prune', 'POST /networks/prune', 'POST /images/prune', 'POST /build/prune']);
  assert.equal(seen[0].query.get('filters'), null);
  assert.deepEqual(filtersOf(2), { dangling: ['true'] });
  assert.equal(seen[3].query.get('all'), null);
});

test('system prune -a --volumes -f: no prompt; volumes too; every unused image and all build cache', async () => {
  answerPrunes();
  const r = await berth(['system', 'prune', '-a', '--volumes', '-f', '--filter', 'label=foo']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Deleted Containers:\n'), r.stdout);
  assert.match(r.stdout, /\n\nDeleted Volumes:\n07c7bdf3e34a[0-9a-f]+\n\nDeleted Images:\n/);
  assert.ok(r.stdout.endsWith('Total reclaimed space: 1.841kB\n'), r.stdout);
  assert.deepEqual(calls(), ['POST /containers/prune', 'POST /networks/prune', 'POST /volumes/prune', 'POST /images/prune', 'POST /build/prune']);
  assert.deepEqual(filtersOf(0), { label: ['foo'] });
  assert.deepEqual(filtersOf(1), { label: ['foo'] });
  assert.deepEqual(filtersOf(2), { label: ['foo'] }, 'anonymous volumes only: no all filter');
  assert.deepEqual(filtersOf(3), { label: ['foo'], dangling: ['false'] });
  assert.deepEqual(filtersOf(4), { label: ['foo'] });
  assert.equal(seen[4].query.get('all'), '1');
});

test('system prune: the warning lists volumes, all images, all build cache and the label/until filters', async () => {
  assert.equal(
    systemPruneWarning(true, true, ['until=24h', 'label!=keep', 'label=a=b', 'dangling=true']),
    'WARNING! This will remove:\n' +
      '  - all stopped containers\n' +
      '  - all networks not used by at least one container\n' +
      '  - all anonymous volumes not used by at least one container\n' +
      '  - all images without at least one container associated to them\n' +
      '  - all build cache\n' +
      '\n' +
      '  Items to be pruned will be filtered with:\n' +
      '  - label!=keep\n' +
      '  - label=a=b\n' +
      '  - until=24h\n' +
      '\n' +
      'Are you sure you want to continue?',
  );
  const r = await berth(['system', 'prune', '--filter', 'until=1h'], { stdin: 'n\n' });
  assert.equal(r.code, 0);
  assert.ok(r.stdout.endsWith('  - unused build cache\n\n  Items to be pruned will be filtered with:\n  - until=1h\n\nAre you sure you want to continue? [y/N] '), r.stdout);
  assert.deepEqual(seen, [], 'cancelled: nothing pruned');
});

test('system prune: until with --volumes is refused; a failing step stops with the daemon error', async () => {
  const until = await berth(['system', 'prune', '--volumes', '--filter', 'until=24h', '-f']);
  assert.equal(until.code, 1);
  assert.equal(until.stderr, 'ERROR: The "until" filter is not supported with "--volumes"\n');
  assert.deepEqual(seen, []);

  answerPrunes();
  answers['POST /images/prune'] = (_s, res) => json(res, 409, { message: 'a prune operation is already running' });
  const r = await berth(['system', 'prune', '-f']);
  assert.equal(r.code, 1);
  assert.ok(r.stdout.includes('Deleted Networks:'), r.stdout);
  assert.ok(!r.stdout.includes('Total reclaimed space'));
  assert.equal(r.stderr, 'Error response from daemon: a prune operation is already running\n');
  assert.ok(!calls().includes('POST /build/prune'));
});

test('system prune with nothing to remove prints only the total', async () => {
  answers['POST /containers/prune'] = (_s, res) => json(res, 200, { ContainersDeleted: null, SpaceReclaimed: 0 });
  answers['POST /networks/prune'] = (_s, res) => json(res, 200, { NetworksDeleted: null });
  answers['POST /images/prune'] = (_s, res) => json(res, 200, { ImagesDeleted: null, SpaceReclaimed: 0 });
  answers['POST /build/prune'] = (_s, res) => json(res, 200, { CachesDeleted: null, SpaceReclaimed: 0 });
  const r = await berth(['system', 'prune', '-f']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Total reclaimed space: 0B\n');
});

// ---------------------------------------------------------------- image / container / builder prune

test('image prune: dangling=true, or dangling=false with -a; untagged and deleted lines; the total', async () => {
  answerPrunes();
  const r = await berth(['image', 'prune', '--filter', 'until=240h'], { stdin: 'y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ' +
      'Deleted Images:\nuntagged: hello-world:latest\nuntagged: hello-world@sha256:f3b3\ndeleted: sha256:1815c826\ndeleted: sha256:45761469\n\n' +
      'Total reclaimed space: 800B\n',
  );
  assert.deepEqual(filtersOf(), { until: ['240h'], dangling: ['true'] });

  seen.length = 0;
  const all = await berth(['image', 'prune', '-a'], { stdin: 'n\n' });
  assert.equal(all.stdout, 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ');
  assert.deepEqual(seen, []);
  const forced = await berth(['image', 'prune', '-a', '-f']);
  assert.equal(forced.code, 0);
  assert.deepEqual(filtersOf(), { dangling: ['false'] });
});

test('container prune: the report and the total in 4 significant digits', async () => {
  answers['POST /containers/prune'] = (_s, res) => json(res, 200, { ContainersDeleted: ['a1', 'b2'], SpaceReclaimed: 16_430_000 });
  const r = await berth(['container', 'prune', '-f', '--filter', 'label=x']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Deleted Containers:\na1\nb2\n\nTotal reclaimed space: 16.43MB\n');
  assert.deepEqual(filtersOf(), { label: ['x'] });
});

test('builder prune: a one-line question; all=1 with -a; --keep-storage in bytes; the report', async () => {
  answerPrunes();
  const r = await berth(['builder', 'prune'], { stdin: 'y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] Deleted build cache objects:\nq1\nq2\n\nTotal reclaimed space: 5B\n');
  assert.deepEqual(calls(), ['POST /build/prune']);
  assert.equal(seen[0].query.get('all'), null);
  assert.equal(seen[0].query.get('keep-storage'), null);

  seen.length = 0;
  const all = await berth(['builder', 'prune', '-a', '--keep-storage', '1g', '--filter', 'until=24h', '-f']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(seen[0].query.get('all'), '1');
  assert.equal(seen[0].query.get('keep-storage'), String(1024 ** 3));
  assert.equal(seen[0].query.get('reserved-space'), String(1024 ** 3));
  assert.deepEqual(filtersOf(), { until: ['24h'] });

  seen.length = 0;
  const no = await berth(['builder', 'prune', '--all'], { stdin: 'n\n' });
  assert.equal(no.stdout, 'WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] ');
  assert.deepEqual(seen, []);
});

// ---------------------------------------------------------------- help

test('help: volume and builder are management commands; system has df and prune', async () => {
  const top = await berth(['--help']);
  assert.match(top.stdout, /Management Commands:\n  builder +Manage builds\n[\s\S]*\n  volume +Manage volumes\n/);
  const v = await berth(['volume']);
  assert.equal(v.code, 0);
  for (const sub of ['create', 'inspect', 'ls', 'prune', 'rm']) assert.match(v.stdout, new RegExp(`\\n  ${sub} `));
  const s = await berth(['system', '--help']);
  for (const sub of ['df', 'info', 'prune']) assert.match(s.stdout, new RegExp(`\\n  ${sub} `));
  const ls = await berth(['volume', 'ls', '--help']);
  assert.match(ls.stdout, /Aliases:\n  berth volume ls, berth volume list\n/);
  assert.match(ls.stdout, /-q, --quiet +Only display volume names/);
  const create = await berth(['volume', 'create', '--help']);
  assert.match(create.stdout, /-d, --driver string +Specify volume driver name \(default "local"\)/);
  assert.match(create.stdout, /-o, --opt map +Set driver specific options \(default map\[\]\)/);
  assert.ok(!create.stdout.includes('--name'), 'the --name flag is hidden');
  const prune = await berth(['system', 'prune', '--help']);
  assert.match(prune.stdout, /--volumes +Prune anonymous volumes/);
  const unknown = await berth(['volume', 'frob']);
  assert.equal(unknown.code, 1);
});
