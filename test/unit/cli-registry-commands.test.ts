/**
 * login, logout, push, pull and search run in-process against a fake Engine API
 * on a temp unix socket: the requests they make (paths, queries, X-Registry-Auth,
 * bodies), what they print, their exit statuses and the config file they leave.
 */
import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { PassThrough } from 'node:stream';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { Capture, FakeEngine, json, runCli } from '../helpers/fake-engine';
import { decodeAuthConfig } from '../../src/cli/credentials';
import { SearchContext, searchListFormat, searchRows } from '../../src/cli/format/search';
import { prepareFormat, renderList } from '../../src/cli/format/render';
import { searchRegistry } from '../../src/cli/commands/search';
import { parsePlatform } from '../../src/cli/platform';

const engine = new FakeEngine('berth-cli-registry-');
const { seen, answers } = engine;
let dir: string;
let socketPath: string;
let configDir: string;

before(async () => {
  ({ dir, socketPath } = await engine.listen());
});

after(() => engine.stop());

beforeEach(() => {
  engine.reset();
  configDir = mkdtempSync(join(dir, 'cfg-'));
});

/** A fake terminal input: records raw mode switches. */
class FakeTty extends PassThrough {
  isTTY = true;
  rawModes: boolean[] = [];
  setRawMode(mode: boolean) {
    this.rawModes.push(mode);
    return this;
  }
}

function berth(args: string[], opts: { stdin?: PassThrough; env?: Record<string, string> } = {}) {
  return runCli(args, { stdin: opts.stdin, host: engine.host, env: { BERTH_CONFIG: configDir, ...(opts.env ?? {}) } });
}

const configFile = () => join(configDir, 'config.json');
const readConfig = () => JSON.parse(readFileSync(configFile(), 'utf8')) as { auths: Record<string, { auth?: string; identitytoken?: string }> };
const b64 = (s: string) => Buffer.from(s).toString('base64');

function authOk(res: http.ServerResponse, token = '') {
  json(res, 200, { Status: 'Login Succeeded', IdentityToken: token });
}

// ---------------------------------------------------------------- login

test('login -u -p: warns, POSTs /auth with the AuthConfig, stores user:pass, prints Login Succeeded', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res);
  const r = await berth(['login', '-u', 'alice', '-p', 'pw', '127.0.0.1:5000']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Login Succeeded\n');
  assert.match(r.stderr, /^WARNING! Using --password via the CLI is insecure\. Use --password-stdin\.\n/);
  assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), ['POST /auth']);
  assert.deepEqual(JSON.parse(seen[0].body), { username: 'alice', password: 'pw', serveraddress: '127.0.0.1:5000' });
  assert.deepEqual(readConfig(), { auths: { '127.0.0.1:5000': { auth: b64('alice:pw') } } });
  assert.equal(statSync(configFile()).mode & 0o777, 0o600);
});

test('login --password-stdin reads the password without its line ending; no warning', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res);
  const stdin = new PassThrough();
  stdin.end('from stdin\r\n');
  const r = await berth(['login', '--username', 'bob', '--password-stdin', 'https://reg.example.com:5000/'], { stdin });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Using --password via the CLI/);
  assert.deepEqual(JSON.parse(seen[0].body), { username: 'bob', password: 'from stdin', serveraddress: 'reg.example.com:5000' });
  assert.deepEqual(Object.keys(readConfig().auths), ['reg.example.com:5000']);
});

test('login -p - reads the password from stdin too', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res);
  const stdin = new PassThrough();
  stdin.end('dash\n');
  const r = await berth(['login', '-u', 'bob', '-p', '-', 'reg:5000'], { stdin });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(seen[0].body).password, 'dash');
});

test('login flag errors are docker\'s', async () => {
  let r = await berth(['login', '-u', 'a', '-p', 'x', '--password-stdin', 'reg:5000']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n--password and --password-stdin are mutually exclusive\n');
  r = await berth(['login', '--password-stdin', 'reg:5000']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Must provide --username with --password-stdin\n');
  r = await berth(['login', 'reg:5000']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: Cannot perform an interactive login from a non TTY device\n');
  r = await berth(['login', '-u', 'a', 'reg:5000']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: Cannot perform an interactive login from a non TTY device\n');
  r = await berth(['login', 'a', 'b']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /'berth login' requires at most 1 argument/);
  assert.deepEqual(seen, []);
  assert.equal(existsSync(configFile()), false);
});

test('login refused by the daemon: "Error response from daemon", status 1, nothing stored', async () => {
  answers['POST /auth'] = (_s, res) => json(res, 401, { message: 'login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized' });
  const r = await berth(['login', '-u', 'alice', '-p', 'bad', '127.0.0.1:5000']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Error response from daemon: login attempt to http:\/\/127\.0\.0\.1:5000\/v2\/ failed with status: 401 Unauthorized\n$/);
  assert.equal(existsSync(configFile()), false);
});

test('login without SERVER is Docker Hub: key https://index.docker.io/v1/', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res);
  const r = await berth(['login', '-u', 'hubuser', '-p', 'pw']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(seen[0].body).serveraddress, 'https://index.docker.io/v1/');
  assert.deepEqual(Object.keys(readConfig().auths), ['https://index.docker.io/v1/']);
  await berth(['login', '-u', 'hubuser', '-p', 'pw2', 'docker.io']);
  assert.deepEqual(Object.keys(readConfig().auths), ['https://index.docker.io/v1/']);
});

test('login with an identity token from the daemon stores the token, not the password', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res, 'tok-xyz');
  const r = await berth(['login', '-u', 'carol', '-p', 'pw', 'reg:5000']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readConfig().auths['reg:5000'], { auth: b64('carol:'), identitytoken: 'tok-xyz' });
  // Pushing then sends the token.
  answers['POST /images/reg:5000/app/push'] = (_s, res) => json(res, 200, { status: 'done' });
  await berth(['push', 'reg:5000/app:1']);
  assert.deepEqual(decodeAuthConfig(seen[1].auth ?? ''), { username: 'carol', serveraddress: 'reg:5000', identitytoken: 'tok-xyz' });
});

test('login without -u/-p tries the stored credentials first', async () => {
  writeFileSync(configFile(), JSON.stringify({ auths: { 'reg:5000': { auth: b64('dave:stored') } } }));
  answers['POST /auth'] = (_s, res) => authOk(res);
  let r = await berth(['login', 'reg:5000']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Login Succeeded\n');
  assert.match(r.stderr, /^Authenticating with existing credentials\.\.\. \[Username: dave\]\n/);
  assert.deepEqual(JSON.parse(seen[0].body), { username: 'dave', password: 'stored', serveraddress: 'reg:5000' });
  // Stale credentials: reported, then the non-TTY error.
  answers['POST /auth'] = (_s, res) => json(res, 401, { message: 'unauthorized' });
  r = await berth(['login', 'reg:5000']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Stored credentials invalid or expired\nError: Cannot perform an interactive login from a non TTY device\n$/);
});

test('login on a terminal prompts for Username and Password (not echoed)', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res);
  const stdin = new FakeTty();
  stdin.write('erin\n');
  setTimeout(() => stdin.write('se\x7fecret\r'), 20);
  const r = await berth(['login', 'reg:5000'], { stdin });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Username: Password: \nLogin Succeeded\n');
  assert.deepEqual(stdin.rawModes, [true, false]);
  assert.deepEqual(JSON.parse(seen[0].body), { username: 'erin', password: 'secret', serveraddress: 'reg:5000' });
});

test('login on a terminal: empty answers are docker\'s errors', async () => {
  let stdin = new FakeTty();
  stdin.write('\n');
  let r = await berth(['login', 'reg:5000'], { stdin });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: Non-null Username Required\n');
  stdin = new FakeTty();
  stdin.write('\r');
  r = await berth(['login', '-u', 'x', 'reg:5000'], { stdin });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error: Password Required\n');
  assert.deepEqual(seen, []);
});

// ---------------------------------------------------------------- logout

test('logout removes the entry; when not logged in it says so and succeeds', async () => {
  writeFileSync(configFile(), JSON.stringify({ auths: { 'reg:5000': { auth: b64('a:b') }, 'https://index.docker.io/v1/': { auth: b64('c:d') } }, other: true }));
  let r = await berth(['logout', 'http://reg:5000']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'Removing login credentials for reg:5000\n');
  assert.deepEqual(readConfig(), { auths: { 'https://index.docker.io/v1/': { auth: b64('c:d') } }, other: true });
  r = await berth(['logout', 'reg:5000']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'Not logged in to reg:5000\n');
  r = await berth(['logout']);
  assert.equal(r.stdout, 'Removing login credentials for https://index.docker.io/v1/\n');
  assert.deepEqual(readConfig().auths, {});
  assert.deepEqual(seen, []);
});

// ---------------------------------------------------------------- push

function pushStream(res: http.ServerResponse, tail: object[] = []) {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const msgs = [
    { status: 'The push refers to repository [127.0.0.1:5000/team/app]' },
    { status: 'Preparing', progressDetail: {}, id: 'a1b2c3d4e5f6' },
    { status: 'Pushing', progressDetail: { current: 512, total: 1024 }, progress: '[=====>     ]     512B/1.024kB', id: 'a1b2c3d4e5f6' },
    { status: 'Pushed', progressDetail: {}, id: 'a1b2c3d4e5f6' },
    { status: `latest: digest: sha256:${'d'.repeat(64)} size: 527` },
    { progressDetail: {}, aux: { Tag: 'latest', Digest: `sha256:${'d'.repeat(64)}`, Size: 527 } },
    ...tail,
  ];
  res.end(msgs.map((m) => JSON.stringify(m)).join('\r\n') + '\r\n');
}

test('push NAME: default tag latest, credentials of the registry, progress lines without a terminal', async () => {
  writeFileSync(configFile(), JSON.stringify({ auths: { '127.0.0.1:5000': { auth: b64('alice:pw') } } }));
  answers['POST /images/127.0.0.1:5000/team/app/push'] = (_s, res) => pushStream(res);
  const r = await berth(['push', '127.0.0.1:5000/team/app']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(seen.map((s) => `${s.method} ${s.url}`), ['POST /images/127.0.0.1:5000/team/app/push?tag=latest']);
  assert.deepEqual(decodeAuthConfig(seen[0].auth ?? ''), { username: 'alice', password: 'pw', serveraddress: '127.0.0.1:5000' });
  assert.equal(
    r.stdout,
    'Using default tag: latest\n' +
      'The push refers to repository [127.0.0.1:5000/team/app]\n' +
      'a1b2c3d4e5f6: Preparing\n' +
      'a1b2c3d4e5f6: Pushed\n' +
      `latest: digest: sha256:${'d'.repeat(64)} size: 527\n`,
  );
});

test('push without credentials sends X-Registry-Auth "{}"; Docker Hub names go by their familiar name', async () => {
  answers['POST /images/me/app/push'] = (_s, res) => pushStream(res);
  const r = await berth(['image', 'push', 'me/app:v2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(seen[0].url, '/images/me/app/push?tag=v2');
  assert.equal(seen[0].auth, 'e30=');
  assert.doesNotMatch(r.stdout, /Using default tag/);
});

test('push -q prints only the reference; -a pushes without a tag', async () => {
  answers['POST /images/127.0.0.1:5000/team/app/push'] = (_s, res) => pushStream(res);
  let r = await berth(['push', '-q', '127.0.0.1:5000/team/app']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '127.0.0.1:5000/team/app:latest\n');
  answers['POST /images/busybox/push'] = (_s, res) => pushStream(res);
  r = await berth(['push', '-q', 'busybox:1.36']);
  assert.equal(r.stdout, 'docker.io/library/busybox:1.36\n');
  assert.equal(seen[1].url, '/images/busybox/push?tag=1.36');
  r = await berth(['push', '--all-tags', '127.0.0.1:5000/team/app']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(seen[2].url, '/images/127.0.0.1:5000/team/app/push');
  assert.doesNotMatch(r.stdout, /Using default tag/);
});

test('push errors: tag with -a, digest, a stream error, a daemon error', async () => {
  let r = await berth(['push', '-a', 'reg:5000/app:1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "tag can't be used with --all-tags/-a\n");
  r = await berth(['push', `reg:5000/app@sha256:${'a'.repeat(64)}`]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'cannot push a digest reference\n');
  r = await berth(['push', 'UPPER']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid reference format/);
  assert.deepEqual(seen, []);

  answers['POST /images/reg:5000/app/push'] = (_s, res) =>
    pushStream(res, [{ errorDetail: { message: 'unauthorized: authentication required' }, error: 'unauthorized: authentication required' }]);
  r = await berth(['push', 'reg:5000/app:1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'unauthorized: authentication required\n');
  assert.match(r.stdout, /a1b2c3d4e5f6: Pushed\n/);

  answers['POST /images/reg:5000/app/push'] = (_s, res) => json(res, 404, { message: 'An image does not exist locally with the tag: reg:5000/app' });
  r = await berth(['push', 'reg:5000/app:1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error response from daemon: An image does not exist locally with the tag: reg:5000/app\n');
});

test('push --platform sends the OCI platform as JSON', async () => {
  answers['POST /images/reg:5000/app/push'] = (_s, res) => pushStream(res);
  const r = await berth(['push', '--platform', 'linux/arm64/v8', 'reg:5000/app:1']);
  assert.equal(r.code, 0, r.stderr);
  const q = new URL(seen[0].url, 'http://x').searchParams;
  assert.deepEqual(JSON.parse(q.get('platform') ?? ''), { architecture: 'arm64', os: 'linux' });
  assert.match(r.stderr, /only the linux\/arm64 manifest/);
  const bad = await berth(['push', '--platform', 'linux/a b', 'reg:5000/app:1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Invalid platform linux\/a b/);
});

test('push on a terminal redraws each layer line with its progress bar', async () => {
  answers['POST /images/reg:5000/app/push'] = (_s, res) => pushStream(res);
  const stdout = new Capture();
  stdout.isTTY = true;
  const code = await main(['push', 'reg:5000/app:1'], {
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new Capture() as unknown as NodeJS.WriteStream,
    env: { BERTH_HOST: `unix://${socketPath}`, BERTH_CONFIG: configDir },
  });
  assert.equal(code, 0);
  assert.match(stdout.text, /\x1b\[1A\r\x1b\[2Ka1b2c3d4e5f6: Pushing \[=====>     \]     512B\/1\.024kB/);
});

// ---------------------------------------------------------------- pull

test('pull sends the stored credentials of the image\'s registry; Docker Hub under its key', async () => {
  writeFileSync(configFile(), JSON.stringify({ auths: { 'reg:5000': { auth: b64('p:q') }, 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } }));
  answers['POST /images/create'] = (_s, res) => json(res, 200, { status: 'Status: Downloaded newer image for reg:5000/app:1' });
  let r = await berth(['pull', 'reg:5000/app:1']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(decodeAuthConfig(seen[0].auth ?? ''), { username: 'p', password: 'q', serveraddress: 'reg:5000' });
  r = await berth(['pull', '-q', 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(decodeAuthConfig(seen[1].auth ?? ''), { username: 'hub', password: 'pw', serveraddress: 'https://index.docker.io/v1/' });
  r = await berth(['pull', 'other:5000/x']);
  assert.equal(seen[2].auth, 'e30=');
});

test('pull with an unreadable config file warns and pulls without credentials', async () => {
  writeFileSync(configFile(), 'not json');
  answers['POST /images/create'] = (_s, res) => json(res, 200, { status: 'ok' });
  const r = await berth(['pull', 'reg:5000/app:1']);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^WARNING: Error loading config file .*config\.json/);
  assert.equal(seen[0].auth, 'e30=');
});

test('run pulls a missing image with the stored credentials', async () => {
  writeFileSync(configFile(), JSON.stringify({ auths: { 'reg:5000': { auth: b64('p:q') } } }));
  answers['POST /containers/create'] = (_s, res) => json(res, 404, { message: 'No such image: reg:5000/app:1' });
  answers['POST /images/create'] = (_s, res) => json(res, 200, { errorDetail: { message: 'stop here' }, error: 'stop here' });
  const r = await berth(['run', '-d', 'reg:5000/app:1']);
  assert.notEqual(r.code, 0);
  const pull = seen.find((s) => s.url.startsWith('/images/create'));
  assert.ok(pull);
  assert.deepEqual(decodeAuthConfig(pull.auth ?? ''), { username: 'p', password: 'q', serveraddress: 'reg:5000' });
});

// ---------------------------------------------------------------- search

const results = [
  { name: 'busybox', description: 'Busybox base image.', star_count: 325, is_official: true, is_automated: false },
  { name: 'radial/busyboxplus', description: 'Full-chain, Internet enabled, busybox made from scratch. Comes in git and cURL flavors.', star_count: 8, is_official: false },
  { name: 'progrium/busybox', description: '', star_count: 50, is_official: false },
];

test('search table: NAME DESCRIPTION STARS OFFICIAL, description cut to 45 columns', () => {
  const prepared = prepareFormat('', searchListFormat);
  assert.equal(
    renderList(prepared, searchRows(results, { trunc: true }), searchListFormat),
    'NAME                 DESCRIPTION                                     STARS     OFFICIAL\n' +
      'busybox              Busybox base image.                             325       [OK]\n' +
      'radial/busyboxplus   Full-chain, Internet enabled, busybox made f…   8         \n' +
      'progrium/busybox                                                     50        \n',
  );
  assert.equal(
    renderList(prepared, searchRows(results.slice(1, 2), { trunc: false }), searchListFormat),
    'NAME                 DESCRIPTION                                                                               STARS     OFFICIAL\n' +
      'radial/busyboxplus   Full-chain, Internet enabled, busybox made from scratch. Comes in git and cURL flavors.   8         \n',
  );
  const desc = new SearchContext({ name: 'x', description: 'two\r\nlines' }, false).Description();
  assert.equal(desc, 'two  lines');
});

test('search --format templates, table templates and json', () => {
  const rows = searchRows(results, { trunc: true });
  assert.equal(renderList(prepareFormat('{{.Name}}: {{.StarCount}}', searchListFormat), rows, searchListFormat), 'busybox: 325\nradial/busyboxplus: 8\nprogrium/busybox: 50\n');
  assert.equal(
    renderList(prepareFormat('table {{.Name}}\\t{{.IsOfficial}}', searchListFormat), rows.slice(0, 2), searchListFormat),
    'NAME                 OFFICIAL\nbusybox              [OK]\nradial/busyboxplus   \n',
  );
  assert.equal(
    renderList(prepareFormat('json', searchListFormat), rows.slice(0, 1), searchListFormat),
    '{"Description":"Busybox base image.","IsAutomated":"","IsOfficial":"[OK]","Name":"busybox","StarCount":"325"}\n',
  );
});

test('search: the registry whose credentials are sent', () => {
  assert.equal(searchRegistry('busybox'), 'https://index.docker.io/v1/');
  assert.equal(searchRegistry('library/busybox'), 'https://index.docker.io/v1/');
  assert.equal(searchRegistry('docker.io/busybox'), 'https://index.docker.io/v1/');
  assert.equal(searchRegistry('reg.example.com/app'), 'reg.example.com');
  assert.equal(searchRegistry('localhost/app'), 'localhost');
  assert.equal(searchRegistry('127.0.0.1:5000/app'), '127.0.0.1:5000');
});

test('search: GET /images/search with term, limit, filters and X-Registry-Auth; table on stdout', async () => {
  writeFileSync(configFile(), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } }));
  answers['GET /images/search'] = (_s, res) => json(res, 200, results.slice(0, 1));
  let r = await berth(['search', '--limit', '5', '-f', 'is-official=true', '--filter', 'stars=3', 'busybox']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'NAME      DESCRIPTION           STARS     OFFICIAL\nbusybox   Busybox base image.   325       [OK]\n');
  const q = new URL(seen[0].url, 'http://x').searchParams;
  assert.equal(new URL(seen[0].url, 'http://x').pathname, '/images/search');
  assert.equal(q.get('term'), 'busybox');
  assert.equal(q.get('limit'), '5');
  assert.deepEqual(JSON.parse(q.get('filters') ?? ''), { 'is-official': ['true'], stars: ['3'] });
  assert.deepEqual(decodeAuthConfig(seen[0].auth ?? ''), { username: 'hub', password: 'pw', serveraddress: 'https://index.docker.io/v1/' });

  r = await berth(['search', '--format', '{{.Name}}', 'reg:5000/bu']);
  assert.equal(r.stdout, 'busybox\n');
  assert.equal(seen[1].url, '/images/search?term=reg%3A5000%2Fbu');
  assert.equal(seen[1].auth, 'e30=');

  r = await berth(['search', '-f', 'is-automated=true', 'busybox']);
  assert.match(r.stderr, /WARNING: the "is-automated" filter is deprecated/);
});

test('search errors: arguments, filters, templates, the daemon', async () => {
  let r = await berth(['search']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /'berth search' requires 1 argument/);
  r = await berth(['search', '-f', 'stars', 'x']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /bad format of filter \(expected name=value\)/);
  r = await berth(['search', '--limit', 'x', 'b']);
  assert.equal(r.code, 125);
  r = await berth(['search', '--format', '{{.Nope}}', 'b']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /template/);
  assert.deepEqual(seen, []);
  answers['GET /images/search'] = (_s, res) => json(res, 500, { message: 'Limit 500 is outside the range of [1, 100]' });
  r = await berth(['search', '--limit', '500', 'b']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error response from daemon: Limit 500 is outside the range of [1, 100]\n');
});

// ---------------------------------------------------------------- help and config

test('help lists login, logout, push and search; image push is an alias', async () => {
  const r = await berth(['--help']);
  const common = r.stdout.slice(r.stdout.indexOf('Common Commands:'), r.stdout.indexOf('Management Commands:'));
  for (const c of ['login', 'logout', 'push', 'search', 'pull']) assert.match(common, new RegExp(`\\n  ${c} +\\S`), c);
  const img = await berth(['image', '--help']);
  assert.match(img.stdout, /\n  push +Upload an image to a registry\n/);
  const h = await berth(['push', '--help']);
  assert.match(h.stdout, /Aliases:\n  berth image push, berth push\n/);
  assert.match(h.stdout, /-a, --all-tags/);
  const l = await berth(['login', '--help']);
  assert.match(l.stdout, /Usage:  berth login \[OPTIONS\] \[SERVER\]/);
  assert.match(l.stdout, /--password-stdin/);
});

test('--config chooses the config directory, before BERTH_CONFIG', async () => {
  answers['POST /auth'] = (_s, res) => authOk(res);
  const other = join(dir, 'flag-config');
  mkdirSync(other, { recursive: true });
  const r = await berth(['--config', other, 'login', '-u', 'f', '-p', 'g', 'reg:5000']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(other, 'config.json')));
  assert.equal(existsSync(configFile()), false);
});

test('platform specifiers are normalized as containerd does', () => {
  assert.deepEqual(parsePlatform('linux/amd64'), { architecture: 'amd64', os: 'linux' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { architecture: 'amd64', os: 'linux' });
  assert.deepEqual(parsePlatform('linux/arm'), { architecture: 'arm', os: 'linux', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/arm/6'), { architecture: 'arm', os: 'linux', variant: 'v6' });
  assert.deepEqual(parsePlatform('arm64'), { architecture: 'arm64', os: 'linux' });
  assert.throws(() => parsePlatform('nonsense'), /unknown operating system or architecture/);
});
