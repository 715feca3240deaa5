import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync, readdirSync, lstatSync, readlinkSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { TestDaemon, runCommand, BERTH } from '../helpers/daemon';

/**
 * `berth cp` and the archive API: both directions, running and stopped containers,
 * `-` for tars, the docker CLI, and the ways a container (or a tar) could try to reach
 * the host's files: symlinks to / and ../../.., `../` and absolute names in tars.
 */
let d: TestDaemon;
let tmp: string;
/** a name no host file has: whatever appears under it on the host came from a copy */
const unique = `berth-cp-${randomBytes(6).toString('hex')}`;

before(async () => {
  d = await TestDaemon.start();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-cp-'));
  const run = await d.berth(['run', '-d', '--name', 'web', '--hostname', 'cpbox', 'busybox', 'sleep', '300']);
  assert.equal(run.code, 0, run.stderr);
  const setup = await d.berth(['exec', 'web', 'sh', '-c', 'mkdir -p /data/sub && echo hello > /data/sub/f && chmod 741 /data/sub/f && ln -s sub/f /data/link && ln -s / /escape && ln -s ../../.. /up']);
  assert.equal(setup.code, 0, setup.stderr);
  // a local tree: a file with an odd mode, a symlink, a subdirectory
  await fsp.mkdir(path.join(tmp, 'tree', 'sub'), { recursive: true });
  await fsp.writeFile(path.join(tmp, 'tree', 'a'), 'one\n', { mode: 0o750 });
  await fsp.chmod(path.join(tmp, 'tree', 'a'), 0o750);
  await fsp.symlink('a', path.join(tmp, 'tree', 'lnk'));
  await fsp.writeFile(path.join(tmp, 'tree', 'sub', 'b'), 'two\n');
});

after(async () => {
  await d?.cleanup();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  for (const p of [`/tmp/${unique}`, `/tmp/${unique}-put`, `/tmp/${unique}-abs`, `/${unique}-dotdot`]) await fsp.rm(p, { force: true });
});

const sh = (cmd: string) => runCommand('sh', ['-c', cmd]);
const berthCmd = () => `${BERTH} -H ${d.host}`;

function makeTar(entries: { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; body?: string; linkname?: string; mode?: number }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.mode ?? 0o644 }, e.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
}

function modeOf(p: string): number {
  return lstatSync(p).mode & 0o7777;
}

test('a directory comes out of a running container with modes and symlinks; "/." copies its contents', async () => {
  const out = path.join(tmp, 'out1');
  let r = await d.berth(['cp', 'web:/data', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'no summary when stdout is not a terminal');
  assert.equal(readFileSync(path.join(out, 'sub', 'f'), 'utf8'), 'hello\n');
  assert.equal(modeOf(path.join(out, 'sub', 'f')), 0o741);
  assert.equal(readlinkSync(path.join(out, 'link')), 'sub/f');
  // into an existing directory: the directory itself goes in
  r = await d.berth(['cp', 'web:/data', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(out, 'data', 'sub', 'f'), 'utf8'), 'hello\n');
  // "/.": only what is inside
  const contents = path.join(tmp, 'contents');
  await fsp.mkdir(contents);
  r = await d.berth(['cp', 'web:/data/.', contents]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(contents).sort(), ['link', 'sub']);
  // -L copies what a link points to, under the link's name
  r = await d.berth(['cp', '-L', 'web:/data/link', path.join(tmp, 'followed')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(tmp, 'followed'), 'utf8'), 'hello\n');
  // to stdout: a tar whose top entry is the directory
  const t = await sh(`${berthCmd()} cp web:/data - | tar -t`);
  assert.deepEqual(t.stdout.trim().split('\n'), ['data/', 'data/link', 'data/sub/', 'data/sub/f']);
});

test('a tree goes into a running container and comes back the same', async () => {
  let r = await d.berth(['cp', path.join(tmp, 'tree'), 'web:/tmp/']);
  assert.equal(r.code, 0, r.stderr);
  const ls = await d.berth(['exec', 'web', 'sh', '-c', 'stat -c "%a %u %n" /tmp/tree/a /tmp/tree/sub/b; readlink /tmp/tree/lnk; cat /tmp/tree/a']);
  assert.equal(ls.stdout, '750 0 /tmp/tree/a\n644 0 /tmp/tree/sub/b\na\none\n');
  // a new name: the directory is created under that name
  r = await d.berth(['cp', path.join(tmp, 'tree'), 'web:/tmp/renamed']);
  assert.equal(r.code, 0, r.stderr);
  const back = path.join(tmp, 'back');
  r = await d.berth(['cp', 'web:/tmp/renamed', back]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(back, 'a'), 'utf8'), 'one\n');
  assert.equal(modeOf(path.join(back, 'a')), 0o750);
  assert.equal(readlinkSync(path.join(back, 'lnk')), 'a');
  assert.equal(readFileSync(path.join(back, 'sub', 'b'), 'utf8'), 'two\n');
  // a single file to a new name, then over an existing file
  r = await d.berth(['cp', path.join(tmp, 'tree', 'a'), 'web:/tmp/single']);
  assert.equal(r.code, 0, r.stderr);
  r = await d.berth(['cp', path.join(tmp, 'tree', 'sub', 'b'), 'web:/tmp/single']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.berth(['exec', 'web', 'cat', '/tmp/single'])).stdout, 'two\n');
});

test('cp - reads a tar from stdin into a container directory', async () => {
  const input = execFileSync('tar', ['-C', tmp, '-c', 'tree']);
  let r = await d.berth(['cp', '-', 'web:/tmp/fromstdin'], { input });
  assert.notEqual(r.code, 0, 'the destination must exist');
  assert.match(r.stderr, /destination "web:\/tmp\/fromstdin" must be a directory/);
  assert.equal((await d.berth(['exec', 'web', 'mkdir', '/tmp/fromstdin'])).code, 0);
  r = await d.berth(['cp', '-', 'web:/tmp/fromstdin'], { input });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.berth(['exec', 'web', 'cat', '/tmp/fromstdin/tree/sub/b'])).stdout, 'two\n');
});

test('a stopped container is copied from and into through its snapshot, mounted only meanwhile', async () => {
  const run = await d.berth(['run', '--name', 'cold', 'busybox', 'sh', '-c', 'mkdir /data && echo cold > /data/c && chmod 600 /data/c && ln -s / /escape']);
  assert.equal(run.code, 0, run.stderr);
  let r = await d.berth(['cp', 'cold:/data/c', path.join(tmp, 'cold-c')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(tmp, 'cold-c'), 'utf8'), 'cold\n');
  assert.equal(modeOf(path.join(tmp, 'cold-c')), 0o600);
  r = await d.berth(['cp', path.join(tmp, 'tree'), 'cold:/data/']);
  assert.equal(r.code, 0, r.stderr);
  r = await d.berth(['cp', path.join(tmp, 'tree', 'a'), 'cold:/escape/tmp/']);
  assert.equal(r.code, 0, r.stderr);
  const t = await sh(`${berthCmd()} cp cold:/data/tree - | tar -tv`);
  assert.match(t.stdout, /-rwxr-x--- .* tree\/a\n/);
  assert.match(t.stdout, /tree\/lnk -> a/);
  assert.equal((await sh(`${berthCmd()} cp cold:/tmp/a - | tar -xO`)).stdout, 'one\n');
  // nothing stays mounted, nothing stays in the daemon's tmp (released just after the answer)
  let mounts = '';
  let left: string[] = [];
  for (let i = 0; i < 40; i++) {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
    left = readdirSync(path.join(d.dataRoot, 'tmp')).filter((n) => n.startsWith('cp-'));
    if (!mounts.includes(`${d.dataRoot}/tmp/cp-`) && left.length === 0) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(!mounts.includes(`${d.dataRoot}/tmp/cp-`), 'the snapshot was unmounted');
  assert.deepEqual(left, []);
});

test('symlinks to / and ../../.. inside the container stay inside it', async () => {
  // the container's /etc/hostname (its bind-mounted file), not the host's
  for (const via of ['/escape', '/up']) {
    const out = path.join(tmp, `hostname${via.replace('/', '-')}`);
    const r = await d.berth(['cp', `web:${via}/etc/hostname`, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(out, 'utf8'), 'cpbox\n');
  }
  // a host file is not found through them
  await fsp.writeFile(`/tmp/${unique}`, 'host secret\n');
  let r = await d.berth(['cp', `web:/escape/tmp/${unique}`, path.join(tmp, 'stolen')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `Error response from daemon: Could not find the file /escape/tmp/${unique} in container web\n`);
  assert.ok(!existsSync(path.join(tmp, 'stolen')));
  await fsp.rm(`/tmp/${unique}`);
  // writing through them writes into the container
  const local = path.join(tmp, unique);
  await fsp.writeFile(local, 'mine\n');
  for (const via of ['/escape/tmp/', '/up/tmp/']) {
    r = await d.berth(['cp', local, `web:${via}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(`/tmp/${unique}`), `the host's /tmp is untouched (${via})`);
    assert.equal((await d.berth(['exec', 'web', 'cat', `/tmp/${unique}`])).stdout, 'mine\n');
  }
});

test('a tar with ../ names is refused, and an absolute name or a symlink entry cannot leave the container', async () => {
  const web = JSON.parse((await d.berth(['inspect', 'web'])).stdout)[0];
  const rootfs = path.join(d.execRoot, 'bundles', web.Id, 'rootfs');
  const dotdot = await makeTar([{ name: 'fine', body: 'ok' }, { name: `../../../../../../../../${unique}-dotdot`, body: 'pwned' }]);
  let res = await d.api('PUT', '/containers/web/archive?path=/tmp', dotdot);
  assert.equal(res.status, 400);
  assert.match(res.json().message, /is outside of "\/tmp"/);
  assert.ok(!existsSync(`/${unique}-dotdot`) && !existsSync(path.join(rootfs, `${unique}-dotdot`)));
  assert.ok(!existsSync(`/tmp/${unique}-dotdot`));

  // "/x" means the destination's x, as docker strips the leading slash
  res = await d.api('PUT', '/containers/web/archive?path=/', await makeTar([{ name: `/tmp/${unique}-abs`, body: 'abs' }]));
  assert.equal(res.status, 200, res.body);
  assert.ok(!existsSync(`/tmp/${unique}-abs`));
  assert.equal((await d.berth(['exec', 'web', 'cat', `/tmp/${unique}-abs`])).stdout, 'abs');

  // a symlink entry, then a file through it: followed inside the container only
  const swap = await makeTar([
    { name: 'evil', type: 'symlink', linkname: '/' },
    { name: `evil/tmp/${unique}-put`, body: 'through a link' },
    { name: 'evil2', type: 'symlink', linkname: '../../../../../../..' },
    { name: `evil2/tmp/${unique}-put2`, body: 'through dots' },
  ]);
  res = await d.api('PUT', '/containers/web/archive?path=/tmp', swap);
  assert.equal(res.status, 200, res.body);
  assert.ok(!existsSync(`/tmp/${unique}-put`) && !existsSync(`/tmp/${unique}-put2`));
  assert.equal((await d.berth(['exec', 'web', 'cat', `/tmp/${unique}-put`, `/tmp/${unique}-put2`])).stdout, 'through a linkthrough dots');

  // a hardlink to something outside the destination's reach is refused
  res = await d.api('PUT', '/containers/web/archive?path=/tmp', await makeTar([{ name: 'hl', type: 'link', linkname: '../../../../etc/shadow' }]));
  assert.equal(res.status, 400);

  // the extraction point must exist and be a directory
  res = await d.api('PUT', '/containers/web/archive?path=/nope', dotdot);
  assert.equal(res.status, 404);
  assert.equal(res.json().message, 'Could not find the file /nope in container web');
  res = await d.api('PUT', '/containers/web/archive?path=/data/sub/f', dotdot);
  assert.equal(res.status, 400);
});

test('errors read as docker words them', async () => {
  let r = await d.berth(['cp', 'web:/nope', path.join(tmp, 'x')]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error response from daemon: Could not find the file /nope in container web\n');
  r = await d.berth(['cp', 'ghost:/etc', path.join(tmp, 'x')]);
  assert.equal(r.stderr, 'Error response from daemon: No such container: ghost\n');
  r = await d.berth(['cp', path.join(tmp, 'missing'), 'web:/tmp']);
  assert.equal(r.stderr, `lstat ${path.join(tmp, 'missing')}: no such file or directory\n`);
  r = await d.berth(['cp', 'a', 'b']);
  assert.equal(r.stderr, 'must specify at least one container source\n');
  r = await d.berth(['cp', 'a:/x', 'b:/y']);
  assert.equal(r.stderr, 'copying between containers is not supported\n');
  r = await d.berth(['cp', path.join(tmp, 'tree'), 'web:/data/sub/f']);
  assert.equal(r.stderr, 'cannot copy directory\n');
  r = await d.berth(['cp', 'web:/data/sub/f', path.join(tmp, 'nodir') + '/']);
  assert.equal(r.stderr, 'no such directory\n');
  r = await d.berth(['cp', 'web:/data/sub/f', path.join(tmp, 'no', 'such', 'dir')]);
  assert.equal(r.stderr, `invalid output path: directory "${path.join(tmp, 'no', 'such')}" does not exist\n`);

  const stat = JSON.parse(Buffer.from(await headerOf('/data'), 'base64').toString());
  assert.equal(stat.name, 'data');
  assert.equal(stat.mode, 2 ** 31 + 0o755, 'Go os.ModeDir | 0755');
  const link = JSON.parse(Buffer.from(await headerOf('/escape'), 'base64').toString());
  assert.equal(link.mode, 2 ** 27 + 0o777, 'Go os.ModeSymlink | 0777');
  assert.equal(link.linkTarget, '/');
});

/** The X-Docker-Container-Path-Stat header of HEAD /containers/web/archive. */
function headerOf(p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method: 'HEAD', path: `/containers/web/archive?path=${encodeURIComponent(p)}` }, (res) => {
      res.resume();
      resolve(String(res.headers['x-docker-container-path-stat'] ?? ''));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the summary line appears when stdout is a terminal', { skip: !existsSync('/usr/bin/script') }, async () => {
  const r = await runCommand('script', ['-qc', `${berthCmd()} cp web:/data ${path.join(tmp, 'tty')}`, '/dev/null']);
  assert.match(r.stdout, new RegExp(`Successfully copied 3\\.58kB to ${path.join(tmp, 'tty').replace(/[/.]/g, '\\$&')}`));
});

test('read-only root file systems refuse writes; volumes take them', async () => {
  const run = await d.berth(['run', '-d', '--name', 'ro', '--read-only', '-v', 'cpvol:/vol', 'busybox', 'sleep', '300']);
  assert.equal(run.code, 0, run.stderr);
  let r = await d.berth(['cp', path.join(tmp, 'tree', 'a'), 'ro:/tmp/']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error response from daemon: container rootfs is marked read-only\n');
  r = await d.berth(['cp', path.join(tmp, 'tree'), 'ro:/vol/']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.berth(['exec', 'ro', 'cat', '/vol/tree/sub/b'])).stdout, 'two\n');
  r = await d.berth(['cp', 'ro:/vol/tree/a', path.join(tmp, 'from-vol')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(tmp, 'from-vol'), 'utf8'), 'one\n');
  await d.berth(['rm', '-f', 'ro']);
});

test('the docker CLI copies both ways', async () => {
  let r = await d.docker(['cp', path.join(tmp, 'tree'), 'web:/tmp/dk']);
  assert.equal(r.code, 0, r.stderr);
  r = await d.docker(['cp', `${path.join(tmp, 'tree')}/.`, 'web:/tmp/dkc']);
  assert.equal(r.code, 0, r.stderr);
  const ls = await d.berth(['exec', 'web', 'sh', '-c', 'stat -c "%a %n" /tmp/dk/a /tmp/dkc/a; readlink /tmp/dk/lnk']);
  assert.equal(ls.stdout, '750 /tmp/dk/a\n750 /tmp/dkc/a\na\n');
  const out = path.join(tmp, 'docker-out');
  r = await d.docker(['cp', 'web:/tmp/dk', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(out, 'sub', 'b'), 'utf8'), 'two\n');
  assert.equal(modeOf(path.join(out, 'a')), 0o750);
  assert.equal(readlinkSync(path.join(out, 'lnk')), 'a');
  r = await d.docker(['cp', '-L', 'web:/data/link', path.join(tmp, 'docker-followed')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(tmp, 'docker-followed'), 'utf8'), 'hello\n');
  r = await d.docker(['cp', 'web:/escape/etc/hostname', path.join(tmp, 'docker-hostname')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(path.join(tmp, 'docker-hostname'), 'utf8'), 'cpbox\n');
  r = await d.docker(['cp', 'web:/nope', path.join(tmp, 'x')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Could not find the file \/nope in container web/);
});

test('a copy from a stopped container holds it: a start waits until the copy ends', async () => {
  assert.equal((await d.berth(['run', '--name', 'held', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=40 2>/dev/null'])).code, 0);
  let received = 0;
  let resume!: () => void;
  const paused = new Promise<void>((r) => (resume = r));
  const copy = new Promise<void>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path: '/containers/held/archive?path=/big' }, (res) => {
      assert.equal(res.statusCode, 200);
      res.once('data', (chunk: Buffer) => {
        received += chunk.length;
        res.pause();
        void paused.then(() => res.resume());
      });
      res.on('data', (chunk: Buffer) => (received += chunk.length));
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  let startDone = false;
  const start = d.api('POST', '/containers/held/start').then((r) => {
    startDone = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(startDone, false, 'the start waits for the copy');
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'held'])).stdout.trim(), 'exited');
  resume();
  await copy;
  assert.ok(received > 40 * 1024 * 1024, `received ${received}`);
  assert.equal((await start).status, 204);
  assert.equal((await d.berth(['rm', '-f', 'held'])).code, 0);
});

test('a stopped container copies through its volumes with driver options, mounted meanwhile', async () => {
  const hostDir = path.join(tmp, 'bound-volume');
  await fsp.mkdir(hostDir);
  await fsp.writeFile(path.join(hostDir, 'inside'), 'from the device\n');
  assert.equal((await d.berth(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${hostDir}`, 'bound'])).code, 0);
  assert.equal((await d.berth(['create', '--name', 'vol-stopped', '-v', 'bound:/mnt/v', 'busybox', 'true'])).code, 0);
  const out = await d.berth(['cp', 'vol-stopped:/mnt/v/inside', '-']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /from the device/);
  const put = await runCommand(BERTH, ['-H', d.host, 'cp', path.join(hostDir, 'inside'), 'vol-stopped:/mnt/v/copied']);
  assert.equal(put.code, 0, put.stderr);
  assert.equal(readFileSync(path.join(hostDir, 'copied'), 'utf8'), 'from the device\n');
  // released just after the answer is sent
  const mounted = () => readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1]?.startsWith(path.join(d.dataRoot, 'volumes', 'bound')));
  for (let i = 0; i < 40 && mounted(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(mounted(), false, 'the volume is unmounted after the copy');
  assert.equal((await d.berth(['rm', 'vol-stopped'])).code, 0);
  assert.equal((await d.berth(['volume', 'rm', 'bound'])).code, 0);
});
