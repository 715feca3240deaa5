import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, runCommand, BERTH } from '../helpers/daemon';
import { packTar } from '../../src/layer/tar-pack';

/**
 * What a build reads stays inside the roots it reads from (the context, a stage, an
 * image), whatever symlinks those hold; and a build whose client goes away stops.
 */
let d: TestDaemon;
let tmp: string;
/** a host directory with a secret no build may read; the same path exists in no image */
let hostDir: string;
const SECRET = `HOST-SECRET-${randomBytes(8).toString('hex')}`;

before(async () => {
  d = await TestDaemon.start();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-build-iso-'));
  hostDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-host-secret-'));
  await fsp.writeFile(path.join(hostDir, 'secret-host'), `${SECRET}\n`);
  await fsp.writeFile(path.join(hostDir, 'x'), `${SECRET}\n`);
});
after(async () => {
  // a build container that a broken cancellation left running (the helper cleans the run containers' runtime root only)
  const buildRuntime = path.join(d?.execRoot ?? '/nonexistent', 'build-runtime');
  if (existsSync(buildRuntime)) for (const id of runcList(buildRuntime)) runcDeleteQuietly(buildRuntime, id);
  await d?.cleanup();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  if (hostDir) await fsp.rm(hostDir, { recursive: true, force: true });
});

async function contextDir(name: string, dockerfile: string): Promise<string> {
  const dir = path.join(tmp, name);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** The bytes of `berth save IMAGE`: every layer of the image, uncompressed. */
async function savedImage(image: string): Promise<Buffer> {
  const file = path.join(tmp, `${randomBytes(4).toString('hex')}.tar`);
  const r = await runCommand('sh', ['-c', `${BERTH} -H ${d.host} save ${image} > ${file}`]);
  assert.equal(r.code, 0, r.stderr);
  return fsp.readFile(file);
}

test('COPY --from a stage with a symlink to / reads the stage, never the host (globs, directories)', async () => {
  const dir = await contextDir(
    'stage-link',
    `FROM busybox AS a
RUN ln -s / /evil && mkdir -p ${hostDir} && echo stage-own > ${hostDir}/secret-stage
FROM busybox
COPY --from=a /evil${hostDir}/secre* /loot/
COPY --from=a /evil${hostDir}/ /tree/
`,
  );
  const b = await d.berth(['build', '-t', 'loot:1', dir]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal((await d.berth(['run', '--rm', 'loot:1', 'ls', '/loot'])).stdout, 'secret-stage\n', 'the glob matched the stage\'s own files only');
  assert.equal((await d.berth(['run', '--rm', 'loot:1', 'cat', '/loot/secret-stage'])).stdout, 'stage-own\n');
  assert.equal((await d.berth(['run', '--rm', 'loot:1', 'ls', '/tree'])).stdout, 'secret-stage\n', 'a directory through the link is the stage\'s directory');
  assert.ok(!(await savedImage('loot:1')).includes(SECRET), 'the host file is nowhere in the image');

  const onlyOnHost = await contextDir('stage-link-host-only', `FROM busybox AS a\nRUN ln -s / /evil\nFROM busybox\nCOPY --from=a /evil${hostDir}/secret-hos[t] /loot/\n`);
  const miss = await d.berth(['build', '-t', 'loot:2', onlyOnHost]);
  assert.notEqual(miss.code, 0, miss.stdout);
  assert.match(miss.stderr, /no source files were specified/);
  assert.equal((await d.berth(['image', 'inspect', 'loot:2'])).code, 1);

  const plain = await contextDir('stage-link-plain', `FROM busybox AS a\nRUN ln -s / /evil\nFROM busybox\nCOPY --from=a /evil${hostDir}/secret-host /loot\n`);
  const p = await d.berth(['build', '-t', 'loot:3', plain]);
  assert.notEqual(p.code, 0, p.stdout);
  assert.match(p.stderr, /file not found/);
  assert.doesNotMatch(p.stdout + p.stderr, new RegExp(SECRET));
});

test('COPY --from an image holding a symlink to / reads the image, never the host', async () => {
  const mk = await d.berth(['build', '-t', 'evil-img:1', '-'], { input: `FROM busybox\nRUN ln -s / /evil && mkdir -p ${hostDir} && echo image-own > ${hostDir}/secret-image\n` });
  assert.equal(mk.code, 0, mk.stdout + mk.stderr);
  const dir = await contextDir('image-link', `FROM busybox\nCOPY --from=evil-img:1 /evil${hostDir}/secre* /loot/\n`);
  const b = await d.berth(['build', '-t', 'loot-img:1', dir]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal((await d.berth(['run', '--rm', 'loot-img:1', 'ls', '/loot'])).stdout, 'secret-image\n');
  assert.ok(!(await savedImage('loot-img:1')).includes(SECRET), 'the host file is nowhere in the image');
});

test('a context tar with a symlink to / and an entry below it: COPY gets the entry, the host is untouched', async () => {
  const ctx = await packTar([
    { name: 'Dockerfile', data: `FROM busybox\nCOPY evil${hostDir}/x /leak\nCOPY evil${hostDir}/secret-h* /leak-glob/\n` },
    { name: 'evil', type: 'symlink', linkname: '/' },
    { name: `evil${hostDir}/x`, data: 'from-the-tar\n' },
    { name: `evil${hostDir}/secret-here`, data: 'also-from-the-tar\n' },
  ]);
  const r = await d.api('POST', '/build?t=ctx-leak:1', ctx);
  assert.equal(r.status, 200);
  assert.doesNotMatch(r.body, /errorDetail/, r.body);
  assert.equal((await d.berth(['run', '--rm', 'ctx-leak:1', 'cat', '/leak'])).stdout, 'from-the-tar\n');
  assert.equal((await d.berth(['run', '--rm', 'ctx-leak:1', 'ls', '/leak-glob'])).stdout, 'secret-here\n');
  assert.equal(await fsp.readFile(path.join(hostDir, 'x'), 'utf8'), `${SECRET}\n`, 'extracting the context did not write through the link');
  assert.deepEqual((await fsp.readdir(hostDir)).sort(), ['secret-host', 'x']);
  assert.ok(!(await savedImage('ctx-leak:1')).includes(SECRET), 'the host file is nowhere in the image');
});

test('ADD of a tar reached through a symlink to / takes the stage\'s tar, not the host\'s', async () => {
  const hostTar = await packTar([{ name: 'from-host.txt', data: `${SECRET}\n` }]);
  await fsp.writeFile(path.join(hostDir, 'layer.tar'), hostTar);
  try {
    const ctx = await packTar([
      { name: 'Dockerfile', data: `FROM busybox\nADD evil${hostDir}/layer.tar /unpacked/\n` },
      { name: 'evil', type: 'symlink', linkname: '/' },
      { name: `evil${hostDir}/layer.tar`, data: await packTar([{ name: 'from-context.txt', data: 'ctx\n' }]) },
    ]);
    const r = await d.api('POST', '/build?t=add-leak:1', ctx);
    assert.doesNotMatch(r.body, /errorDetail/, r.body);
    assert.equal((await d.berth(['run', '--rm', 'add-leak:1', 'ls', '/unpacked'])).stdout, 'from-context.txt\n');
  } finally {
    await fsp.rm(path.join(hostDir, 'layer.tar'), { force: true });
  }
});

/** Builds a context tar through the API; what the image holds at /out. */
async function buildOut(tag: string, entries: Parameters<typeof packTar>[0]): Promise<string> {
  const r = await d.api('POST', `/build?t=${tag}`, await packTar(entries));
  assert.doesNotMatch(r.body, /errorDetail/, r.body);
  return (await d.berth(['run', '--rm', tag, 'cat', '/out'])).stdout;
}

test('a symlink inside the context is followed inside it', async () => {
  const build = buildOut;
  const linked = [{ name: 'Dockerfile', data: 'FROM busybox\nCOPY link/f /out\n' }, { name: 'link', type: 'symlink' as const, linkname: 'sub' }];
  assert.equal(await build('ctx-link:1', [...linked, { name: 'sub/f', data: 'inside\n' }]), 'inside\n');
  assert.equal(await build('ctx-link:2', [...linked, { name: 'sub/f', data: 'changed\n' }]), 'changed\n', 'a changed file behind the link misses the cache');
});

test('the cache key covers the content a step copies, also when an entry was written through a link', async () => {
  const build = buildOut;
  // "evil/a" is written to the context's own a, and then a is written again
  const aliased = (last: string) => [
    { name: 'Dockerfile', data: 'FROM busybox\nCOPY evil/a /out\n' },
    { name: 'evil', type: 'symlink' as const, linkname: '/' },
    { name: 'evil/a', data: 'first\n' },
    { name: 'a', data: last },
  ];
  assert.equal(await build('ctx-alias:1', aliased('one\n')), 'one\n');
  assert.equal(await build('ctx-alias:2', aliased('two\n')), 'two\n', 'the key covers the content copied, not the entry named');
});

test('a hardlink\'s cache key covers the content of the file it names', async () => {
  const build = buildOut;
  const hardlinked = (content: string) => [
    { name: 'Dockerfile', data: 'FROM busybox\nCOPY h /out\n' },
    { name: 't', data: content },
    { name: 'h', type: 'link' as const, linkname: 't' },
  ];
  assert.equal(await build('ctx-hard:1', hardlinked('one\n')), 'one\n');
  assert.equal(await build('ctx-hard:2', hardlinked('two\n')), 'two\n', 'a hardlink\'s key covers the content of the file it names');
});

function runcList(root: string): string[] {
  try {
    return ((JSON.parse(execFileSync('runc', ['--root', root, 'list', '--format', 'json']).toString() || 'null') as { id: string }[] | null) ?? []).map((c) => c.id);
  } catch {
    return [];
  }
}

function runcDeleteQuietly(root: string, id: string): void {
  try {
    execFileSync('runc', ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
  } catch {
    /* gone */
  }
}

/** Host pids in the cgroups of build steps under the daemon's cgroup parent. */
function buildStepPids(): number[] {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified'];
  const pids = new Set<number>();
  for (const root of roots) {
    const parent = path.join(root, d.cgroupParent);
    if (!existsSync(parent)) continue;
    for (const child of readdirSync(parent).filter((c) => c.startsWith('build-'))) {
      const procs = path.join(parent, child, 'cgroup.procs');
      if (!existsSync(procs)) continue;
      for (const l of readFileSync(procs, 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    }
  }
  return [...pids];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a build whose client disconnects is cancelled: its RUN killed, nothing tagged, nothing left', async () => {
  const ctx = await packTar([{ name: 'Dockerfile', data: 'FROM busybox\nRUN echo step-started && sleep 600\n' }]);
  let output = '';
  const req = http.request({ socketPath: d.socket, path: '/build?t=cancelled:1', method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': ctx.length } });
  const responded = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  req.end(ctx);
  const res = await responded;
  res.on('data', (c: Buffer) => (output += c.toString()));
  res.on('error', () => undefined); // the abort below ends it
  await waitFor('the RUN to start', () => output.includes('step-started'));
  let pids: number[] = [];
  await waitFor('the RUN\'s processes in their cgroup', () => (pids = buildStepPids()).length > 0);
  assert.ok(pids.every(alive));
  req.destroy();
  await waitFor('the RUN\'s processes to be killed', () => !pids.some(alive));
  const buildRuntime = path.join(d.execRoot, 'build-runtime');
  await waitFor('the build container to be deleted', () => runcList(buildRuntime).length === 0);
  await waitFor('the build mounts to go', () => !readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.includes(d.dataRoot) && l.includes('/build/')));
  await waitFor('the build work folder to be emptied', () => readdirSync(path.join(d.dataRoot, 'build', 'work')).length === 0);
  assert.equal((await d.berth(['image', 'inspect', 'cancelled:1'])).code, 1, 'nothing is tagged');
  assert.equal((await d.api('GET', '/_ping')).status, 200, 'the daemon is fine');
  const again = await d.berth(['build', '-t', 'after:1', '-'], { input: 'FROM busybox\nRUN echo ok > /ok\n' });
  assert.equal(again.code, 0, again.stdout + again.stderr);
});

test('a build whose client disconnects while sending the context leaves nothing behind', async () => {
  const ctx = await packTar([
    { name: 'Dockerfile', data: 'FROM busybox\nCOPY big /big\n' },
    { name: 'big', data: Buffer.alloc(4 << 20, 1) },
  ]);
  const work = path.join(d.dataRoot, 'build', 'work');
  const req = http.request({ socketPath: d.socket, path: '/build?t=half-sent:1', method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': ctx.length } });
  req.on('error', () => undefined); // destroyed below
  req.write(ctx.subarray(0, ctx.length / 2));
  await waitFor('the daemon to receive the context', () => readdirSync(work).length > 0);
  req.destroy();
  await waitFor('the build work folder to be emptied', () => readdirSync(work).length === 0);
  assert.equal((await d.berth(['image', 'inspect', 'half-sent:1'])).code, 1, 'nothing is tagged');
});

test('USER and COPY --chown look users up in the image, never through a link to the host\'s files', async () => {
  const host = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-host-passwd-'));
  try {
    await fsp.writeFile(path.join(host, 'passwd'), 'hostonly:x:4242:4242::/:/bin/sh\n');
    const cases = [
      `RUN ln -sf ${host}/passwd /etc/passwd\nUSER hostonly\nRUN true\n`,
      `RUN rm -rf /etc && ln -s ${host} /etc\nUSER hostonly\nRUN true\n`,
      `RUN ln -sf ${host}/passwd /etc/passwd\nCOPY --chown=hostonly Dockerfile /owned\n`,
    ];
    for (const [i, steps] of cases.entries()) {
      const ctx = await packTar([{ name: 'Dockerfile', data: `FROM busybox\n${steps}` }]);
      const r = await d.api('POST', `/build?t=passwd-link:${i}`, ctx);
      assert.match(r.body, /unable to find user hostonly: no matching entries in passwd file/, `case ${i}: ${r.body}`);
      assert.equal((await d.berth(['image', 'inspect', `passwd-link:${i}`])).code, 1);
    }
  } finally {
    await fsp.rm(host, { recursive: true, force: true });
  }
});

test('a FIFO at /etc/passwd does not hang the user lookup of a later step', async () => {
  const ctx = await packTar([{ name: 'Dockerfile', data: 'FROM busybox\nRUN rm /etc/passwd && mkfifo /etc/passwd\nUSER someone\nRUN true\n' }]);
  const r = await d.api('POST', '/build?t=passwd-fifo:1', ctx);
  assert.match(r.body, /unable to find user someone: no matching entries in passwd file/, r.body);
});

test('a build whose client disconnects during a COPY of many files stops in the COPY: no layer, no cache record', async () => {
  const dockerfile = 'FROM busybox AS a\nRUN mkdir /many && cd /many && seq 1 40000 | xargs touch\nFROM busybox\nCOPY --from=a /many /many\n';
  // the stage with the files, built and cached first: the cancelled build reaches the COPY at once
  const prep = await d.api('POST', '/build', await packTar([{ name: 'Dockerfile', data: 'FROM busybox AS a\nRUN mkdir /many && cd /many && seq 1 40000 | xargs touch\n' }]));
  assert.doesNotMatch(prep.body, /errorDetail/, prep.body);
  const ctx = await packTar([{ name: 'Dockerfile', data: dockerfile }]);
  let output = '';
  const req = http.request({ socketPath: d.socket, path: '/build?t=cancelled-copy:1', method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': ctx.length } });
  const responded = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  req.end(ctx);
  const res = await responded;
  res.on('data', (c: Buffer) => (output += c.toString()));
  res.on('error', () => undefined); // the abort below ends it
  await waitFor('the COPY to start', () => output.includes('Step 4/4 : COPY'));
  req.destroy();
  await waitFor('the build work folder to be emptied', () => readdirSync(path.join(d.dataRoot, 'build', 'work')).length === 0, 120_000);
  assert.equal((await d.berth(['image', 'inspect', 'cancelled-copy:1'])).code, 1, 'nothing is tagged');
  // had the COPY run to its end, its layer and cache record would serve this build
  const again = await d.api('POST', '/build?t=copied:1', ctx);
  assert.doesNotMatch(again.body, /errorDetail/, again.body);
  const copyStep = again.body.slice(again.body.indexOf('Step 4/4 : COPY'));
  assert.doesNotMatch(copyStep, /Using cache/, 'the cancelled COPY left no cache record');
});

test('a source climbing above its tree is refused for the context and for a stage, also after a leading "/"', async () => {
  for (const [from, src] of [['', '../Dockerfile'], ['', '/../Dockerfile'], ['--from=a ', '/../etc/passwd'], ['--from=a ', '../etc/passwd']]) {
    const ctx = await packTar([{ name: 'Dockerfile', data: `FROM busybox AS a\nFROM busybox\nCOPY ${from}${src} /got\n` }]);
    const r = await d.api('POST', '/build?t=climb:1', ctx);
    assert.match(r.body, /forbidden path outside the build context: \.\.\/(Dockerfile|etc\/passwd) \(\)/, `${from}${src}: ${r.body}`);
  }
  assert.equal((await d.berth(['image', 'inspect', 'climb:1'])).code, 1);
});

test('ADD of a tar unpacks it as if chrooted at the destination, as Docker\'s builders do: its absolute links mean the destination\'s paths', async () => {
  const inner = await packTar([
    { name: 'etc/', type: 'directory' },
    { name: 'l', type: 'symlink', linkname: '/etc' },
    { name: 'l/through-link', data: 'unpacked\n' },
  ]);
  const ctx = await packTar([
    { name: 'Dockerfile', data: 'FROM busybox\nADD inner.tar /dst/\n' },
    { name: 'inner.tar', data: inner },
  ]);
  const r = await d.api('POST', '/build?t=add-chroot:1', ctx);
  assert.doesNotMatch(r.body, /errorDetail/, r.body);
  assert.equal((await d.berth(['run', '--rm', 'add-chroot:1', 'cat', '/dst/etc/through-link'])).stdout, 'unpacked\n');
  assert.equal((await d.berth(['run', '--rm', 'add-chroot:1', 'ls', '/etc/through-link'])).code, 1, 'the image\'s own /etc is untouched');
});
