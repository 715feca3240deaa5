import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, runCommand, BERTH } from '../helpers/daemon';
import { packTar } from '../../src/layer/tar-pack';

let d: TestDaemon;
let tmp: string;
before(async () => {
  d = await TestDaemon.start();
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-build-'));
});
after(async () => {
  await d?.cleanup();
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(tmp, name);
  for (const [rel, content] of Object.entries(files)) {
    await fsp.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fsp.writeFile(path.join(dir, rel), content);
  }
  return dir;
}

const APP = `FROM busybox AS base
ARG V=1
ENV APP=/app GREETING="hi there"
WORKDIR $APP
COPY a.txt sub/ ./
RUN echo "v=$V $GREETING" > built.txt && rm /bin/vi
LABEL team=x
EXPOSE 8080
USER nobody
CMD ["cat", "/app/built.txt"]

FROM base AS broken
RUN echo never-built && exit 9

FROM busybox
COPY --from=base /app/built.txt /b.txt
CMD ["cat", "/b.txt"]
`;

test('a Dockerfile builds into an image with its config, layers and history', async () => {
  const dir = await context('app', { Dockerfile: APP, 'a.txt': 'a\n', 'sub/b.txt': 'b\n', 'secret.txt': 's\n', '.dockerignore': 'secret.txt\n' });
  const b = await d.berth(['build', '-t', 'app:1', '--target', 'base', '--label', 'built=yes', dir]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assert.match(b.stdout, /Step 1\/10 : FROM busybox AS base/);
  assert.match(b.stdout, /Successfully tagged app:1/);
  assert.equal((await d.berth(['run', '--rm', 'app:1'])).stdout, 'v=1 hi there\n');
  assert.equal((await d.berth(['run', '--rm', 'app:1', 'id', '-u'])).stdout, '65534\n');
  const ls = await d.berth(['run', '--rm', 'app:1', 'ls', '/app']);
  assert.deepEqual(ls.stdout.trim().split('\n'), ['a.txt', 'b.txt', 'built.txt'], 'a directory source copies its content; .dockerignore keeps secret.txt out');
  assert.notEqual((await d.berth(['run', '--rm', 'app:1', 'ls', '/bin/vi'])).code, 0, 'a file deleted in a step is gone');
  const img = JSON.parse((await d.berth(['image', 'inspect', 'app:1'])).stdout)[0];
  assert.equal(img.Config.WorkingDir, '/app');
  assert.equal(img.Config.User, 'nobody');
  assert.deepEqual(img.Config.ExposedPorts, { '8080/tcp': {} });
  assert.deepEqual(img.Config.Labels, { team: 'x', built: 'yes' });
  assert.ok(img.Config.Env.includes('GREETING=hi there'));
  // WORKDIR, COPY and RUN change files: three layers on busybox's one
  assert.equal(img.RootFS.Layers.length, 4);
  const history = JSON.parse((await d.api('GET', '/images/app:1/history')).body) as { CreatedBy: string }[];
  assert.ok(history.some((h) => /\|1 V=1 \/bin\/sh -c echo/.test(h.CreatedBy)), 'RUN history names the args it used');
});

test('the cache: everything reused when nothing changed; a changed file rebuilds from its COPY on', async () => {
  const dir = path.join(tmp, 'app');
  const firstId = (await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).stdout.trim();
  const again = await d.berth(['build', '-t', 'app:1', '--target', 'base', '--label', 'built=yes', dir]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'app:1'])).stdout.trim(), firstId, 'a build that changed nothing gives the same image');
  assert.doesNotMatch(again.stdout, /Running in/);
  assert.equal(again.stdout.match(/Using cache/g)?.length, 9);
  await fsp.writeFile(path.join(dir, 'a.txt'), 'changed\n');
  const changed = await d.berth(['build', '-t', 'app:2', '--target', 'base', dir]);
  const steps = changed.stdout.split(/(?=Step \d+\/)/);
  assert.match(steps.find((s) => s.startsWith('Step 4/'))!, /Using cache/, 'WORKDIR before the change is reused');
  assert.doesNotMatch(steps.find((s) => s.startsWith('Step 5/'))!, /Using cache/, 'the COPY of the changed file runs');
  assert.match(steps.find((s) => s.startsWith('Step 6/'))!, /Running in/, 'and every step after it');
  const arg = await d.berth(['build', '-t', 'app:3', '--target', 'base', '--build-arg', 'V=2', dir]);
  assert.match(arg.stdout.split(/(?=Step \d+\/)/).find((s) => s.startsWith('Step 6/'))!, /Running in/, 'an ARG change reruns the RUN that uses it');
  assert.equal((await d.berth(['run', '--rm', 'app:3'])).stdout, 'v=2 hi there\n');
  const nocache = await d.berth(['build', '--no-cache', '-t', 'app:4', '--target', 'base', dir]);
  assert.doesNotMatch(nocache.stdout, /Using cache/);
});

test('multi-stage: only the stages the target needs are built', async () => {
  const dir = path.join(tmp, 'app');
  const b = await d.berth(['build', '-t', 'final:1', dir]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  assert.doesNotMatch(b.stdout, /never-built/, 'the broken stage is not needed by the last one');
  assert.equal((await d.berth(['run', '--rm', 'final:1'])).stdout, 'v=1 hi there\n');
});

test('a failing RUN stops the build with its exit code, tags nothing, leaves nothing behind', async () => {
  const dir = path.join(tmp, 'app');
  const b = await d.berth(['build', '-t', 'broken:1', '--target', 'broken', dir]);
  assert.equal(b.code, 9, b.stdout + b.stderr);
  assert.match(b.stderr, /The command '\/bin\/sh -c echo never-built && exit 9' returned a non-zero code: 9/);
  assert.equal((await d.berth(['image', 'inspect', 'broken:1'])).code, 1);
  assert.equal((await d.berth(['ps', '-aq'])).stdout.trim(), '');
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').filter((l) => l.includes(d.dataRoot) && l.includes('/build/'));
  assert.deepEqual(mounts, []);
});

test('heredocs, ADD of a local tar, SHELL and stdin Dockerfiles', async () => {
  const tar = await packTar([{ name: 'inside/', type: 'directory' }, { name: 'inside/f.txt', data: 'from tar\n' }]);
  const dir = await context('more', {
    Dockerfile: `FROM busybox
COPY <<EOF /greeting.txt
hello $HOSTNAME_UNSET-heredoc
EOF
RUN <<EOT
echo one > /one
echo two >> /one
EOT
ADD files.tar /unpacked/
SHELL ["/bin/sh", "-ec"]
RUN test -f /unpacked/inside/f.txt
CMD cat /greeting.txt /one /unpacked/inside/f.txt
`,
  });
  await fsp.writeFile(path.join(dir, 'files.tar'), tar);
  const b = await d.berth(['build', '-t', 'more:1', dir]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal((await d.berth(['run', '--rm', 'more:1'])).stdout, 'hello -heredoc\none\ntwo\nfrom tar\n');
  const fromStdin = await d.berth(['build', '-t', 'stdin:1', '-'], { input: 'FROM busybox\nRUN echo built-from-stdin > /x\nCMD ["cat", "/x"]\n' });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal((await d.berth(['run', '--rm', 'stdin:1'])).stdout, 'built-from-stdin\n');
});

test('bad Dockerfiles and contexts get clear errors', async () => {
  const unknown = await d.berth(['build', '-'], { input: 'FROM busybox\nRUNN echo x\n' });
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /dockerfile parse error on line 2: unknown instruction: RUNN/i);
  const outside = await context('outside', { Dockerfile: 'FROM busybox\nCOPY ../../etc/passwd /x\n' });
  const o = await d.berth(['build', outside]);
  assert.notEqual(o.code, 0);
  assert.match(o.stderr, /outside the build context|not found/);
  const missing = await context('missing', { Dockerfile: 'FROM busybox\nCOPY nothere.txt /x\n' });
  const m = await d.berth(['build', missing]);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /nothere.txt/);
  const noImage = await d.berth(['build', '-'], { input: 'FROM no-such-base-image\n' });
  assert.notEqual(noImage.code, 0);
  assert.match(noImage.stderr, /no-such-base-image/);
});

test('a symlink in the context pointing outside it is copied as a link, never followed', async () => {
  const dir = await context('links', { Dockerfile: 'FROM busybox\nCOPY . /ctx/\n' });
  await fsp.symlink('/etc/shadow', path.join(dir, 'shadow-link'));
  const b = await d.berth(['build', '-t', 'links:1', dir]);
  assert.equal(b.code, 0, b.stderr);
  const r = await d.berth(['run', '--rm', 'links:1', 'readlink', '/ctx/shadow-link']);
  assert.equal(r.stdout, '/etc/shadow\n');
});

test('the real docker CLI builds through berthd with the legacy builder', async () => {
  const dir = await context('dockercli', { Dockerfile: 'FROM busybox\nRUN echo via-docker > /v\nCMD ["cat", "/v"]\n' });
  const r = await runCommand('docker', ['build', '-t', 'viadocker:1', dir], { env: { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' } });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /Successfully tagged viadocker:1/);
  assert.equal((await d.berth(['run', '--rm', 'viadocker:1'])).stdout, 'via-docker\n');
});

test('a file deleted in a step is a whiteout in that layer of the saved image', async () => {
  const tarStream = await import('tar-stream');
  const dir = await context('whiteout', { Dockerfile: 'FROM busybox\nRUN rm /bin/vi && mkdir /d && echo x > /d/f\nRUN rm -r /d\n' });
  const b = await d.berth(['build', '-t', 'wh:1', dir]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const saved = await runCommand('sh', ['-c', `${BERTH} -H ${d.host} save wh:1 > ${path.join(tmp, 'wh.tar')}`]);
  assert.equal(saved.code, 0, saved.stderr);
  const entries = async (buf: Buffer) => {
    const names: { name: string; data: Buffer }[] = [];
    const ex = tarStream.extract();
    await new Promise<void>((resolve, reject) => {
      ex.on('entry', (h, s, next) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: unknown) => chunks.push(c as Buffer));
        s.on('end', () => {
          names.push({ name: h.name, data: Buffer.concat(chunks) });
          next();
        });
      });
      ex.on('finish', () => resolve());
      ex.on('error', reject);
      ex.end(buf);
    });
    return names;
  };
  const archive = await entries(await fsp.readFile(path.join(tmp, 'wh.tar')));
  const manifest = JSON.parse(archive.find((e) => e.name === 'manifest.json')!.data.toString())[0] as { Layers: string[] };
  assert.equal(manifest.Layers.length, 3);
  const second = (await entries(archive.find((e) => e.name === manifest.Layers[1])!.data)).map((e) => e.name);
  assert.ok(second.includes('bin/.wh.vi'), `the RUN that deleted /bin/vi carries its whiteout: ${second.join(' ')}`);
  const third = (await entries(archive.find((e) => e.name === manifest.Layers[2])!.data)).map((e) => e.name);
  assert.ok(third.includes('.wh.d'), `the removed directory is a whiteout in the last layer: ${third.join(' ')}`);
  assert.notEqual((await d.berth(['run', '--rm', 'wh:1', 'ls', '/d'])).code, 0);
});

test('COPY --chown/--chmod apply to what is copied; the folders made to hold it are root\'s, 0755', async () => {
  const dir = await context('chmod', { Dockerfile: 'FROM busybox\nCOPY --chown=1:2 --chmod=600 f.txt /made/deep/\n', 'f.txt': 'f\n' });
  const b = await d.berth(['build', '-t', 'chmod:1', dir]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
  const st = await d.berth(['run', '--rm', 'chmod:1', 'stat', '-c', '%n %a %u:%g', '/made', '/made/deep', '/made/deep/f.txt']);
  assert.equal(st.stdout, '/made 755 0:0\n/made/deep 755 0:0\n/made/deep/f.txt 600 1:2\n');
});

test('the COPY cache key is the files\' content: a new mtime alone reuses it, new content of the same size and mtime does not', async () => {
  const dir = await context('keyed', { Dockerfile: 'FROM busybox\nCOPY files/ /files/\nRUN cat /files/a /files/b > /both\nCMD ["cat", "/both"]\n', 'files/a': 'aaaa', 'files/b': 'bbbb' });
  const a = path.join(dir, 'files', 'a');
  const then = new Date('2020-01-02T03:04:05Z');
  await fsp.utimes(a, then, then);
  const first = await d.berth(['build', '-t', 'keyed:1', dir]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const id = (await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'keyed:1'])).stdout.trim();
  const copyStep = (out: string) => out.split(/(?=Step \d+\/)/).find((s) => s.startsWith('Step 2/')) ?? '';

  // only the time changed: the content is the same, so is the key
  await fsp.utimes(a, new Date('2024-05-06T07:08:09Z'), new Date('2024-05-06T07:08:09Z'));
  const touched = await d.berth(['build', '-t', 'keyed:1', dir]);
  assert.equal(touched.code, 0, touched.stderr + touched.stdout);
  assert.match(copyStep(touched.stdout), /Using cache/, 'an mtime-only change reuses the COPY');
  assert.equal((await d.berth(['image', 'inspect', '-f', '{{.Id}}', 'keyed:1'])).stdout.trim(), id);

  // same size, same mtime as the first build, other bytes: a metadata shortcut would miss this
  await fsp.writeFile(a, 'AAAA');
  await fsp.utimes(a, then, then);
  const changed = await d.berth(['build', '-t', 'keyed:2', dir]);
  assert.equal(changed.code, 0, changed.stderr + changed.stdout);
  assert.doesNotMatch(copyStep(changed.stdout), /Using cache/, 'new content runs the COPY again');
  assert.equal((await d.berth(['run', '--rm', 'keyed:2'])).stdout, 'AAAAbbbb');
  assert.equal((await d.berth(['run', '--rm', 'keyed:1'])).stdout, 'aaaabbbb', 'the first image keeps its bytes');
});
