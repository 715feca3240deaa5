import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { TestDaemon, runCommand, BERTH } from '../helpers/daemon';
import { until } from '../helpers/wait';

let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('diff lists what a container added, changed and deleted, without the mount points', async () => {
  const r = await d.berth(['run', '--name', 'changer', 'busybox', 'sh', '-c', 'echo hi > /hello; rm /bin/vi; mkdir -p /new/dir']);
  assert.equal(r.code, 0, r.stderr);
  const diff = await d.berth(['diff', 'changer']);
  assert.deepEqual(diff.stdout.trim().split('\n'), ['C /bin', 'D /bin/vi', 'A /hello', 'A /new', 'A /new/dir']);
  assert.equal((await d.berth(['diff', 'nope'])).code, 1);
});

test('commit makes a new image from the changes, with --change and a message', async () => {
  const c = await d.berth(['commit', '-c', 'CMD ["cat","/hello"]', '-m', 'first commit', '-a', 'berth tests', 'changer', 'snap:1']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const run = await d.berth(['run', '--rm', 'snap:1']);
  assert.equal(run.stdout, 'hi\n');
  const gone = await d.berth(['run', '--rm', 'snap:1', 'ls', '/bin/vi']);
  assert.notEqual(gone.code, 0, 'the deletion is a whiteout in the new layer');
  const inspect = JSON.parse((await d.berth(['image', 'inspect', 'snap:1'])).stdout)[0];
  assert.equal(inspect.Comment, 'first commit');
  assert.equal(inspect.Author, 'berth tests');
  assert.equal(inspect.RootFS.Layers.length, 2);
  const history = await d.api('GET', '/images/snap:1/history');
  assert.equal(history.status, 200, history.body);
  assert.equal(history.json()[0].Comment, 'first commit', 'the newest entry is the commit, with its message');
  const table = await d.berth(['history', 'snap:1']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout.split('\n')[1], /\sfirst commit$/);
});

/** The entries of a tar, by name, with their contents. */
async function tarEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tar.extract();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.set(e.header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

/** The names in an image's newest layer, read from `GET /images/{name}/get` (docker save). */
async function topLayerNames(image: string): Promise<string[]> {
  const archive = await new Promise<Buffer>((resolve, reject) => {
    http.get({ socketPath: d.socket, path: `/images/${image}/get` }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`save answered ${res.statusCode}`))));
    }).on('error', reject);
  });
  const files = await tarEntries(archive);
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Layers: string[] }[];
  const top = files.get(manifest[0].Layers[manifest[0].Layers.length - 1])!;
  return [...(await tarEntries(top)).keys()].map((n) => n.replace(/\/$/, ''));
}

test('commit leaves out what volumes, binds and tmpfs hold, and the /etc files the runtime mounts', async () => {
  const bindDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-commit-bind-'));
  try {
    const r = await d.berth([
      'run', '--name', 'mounter', '--hostname', 'mounter-host', '-v', 'commitvol:/data', '-v', `${bindDir}:/bound`, '--tmpfs', '/scratch', 'busybox', 'sh', '-c',
      'echo layer > /in-layer && echo v > /data/in-volume && echo b > /bound/in-bind && echo t > /scratch/in-tmpfs && echo changed > /etc/hostname && echo 1.2.3.4 extra >> /etc/hosts',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fsp.readFile(path.join(bindDir, 'in-bind'), 'utf8'), 'b\n', 'the bind was written through');
    const c = await d.berth(['commit', 'mounter', 'mounted:1']);
    assert.equal(c.code, 0, c.stderr);

    const names = await topLayerNames('mounted:1');
    assert.ok(names.includes('in-layer'), `the container's own change is committed: ${names.join(' ')}`);
    const leaked = names.filter((n) => /^(data|bound|scratch)\/./.test(n) || ['etc/hostname', 'etc/hosts', 'etc/resolv.conf'].includes(n));
    assert.deepEqual(leaked, [], `the layer holds nothing from mounts: ${names.join(' ')}`);

    // a container of the new image gets its own /etc files, not the committed container's
    const run = await d.berth(['run', '--rm', '--hostname', 'fresh', 'mounted:1', 'sh', '-c', 'cat /etc/hostname; grep -c extra /etc/hosts; ls -A /data /bound /scratch']);
    assert.equal(run.stdout, 'fresh\n0\n/bound:\n\n/data:\n\n/scratch:\n', run.stderr);
  } finally {
    await d.berth(['rm', '-f', 'mounter']);
    await d.berth(['rmi', 'mounted:1']);
    await d.berth(['volume', 'rm', 'commitvol']);
    await fsp.rm(bindDir, { recursive: true, force: true });
  }
});

test('export streams the whole filesystem of a stopped and of a running container', async () => {
  const stopped = await runCommand('sh', ['-c', `${BERTH} -H ${d.host} export changer | tar -t`]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const names = stopped.stdout.split('\n');
  assert.ok(names.includes('hello'));
  assert.ok(names.includes('bin/busybox'));
  assert.ok(!names.includes('bin/vi'));
  const run = await d.berth(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'echo live > /live; sleep 300']);
  assert.equal(run.code, 0, run.stderr);
  // the export is of a running container: it sees /live once the shell has written it
  const live = await until('the running container to have written /live', async () => {
    const r = await runCommand('sh', ['-c', `${BERTH} -H ${d.host} export live | tar -xO live`]);
    return r.stdout === 'live\n' ? r.stdout : undefined;
  });
  assert.equal(live, 'live\n');
  await d.berth(['rm', '-f', 'live']);
});

test('pause freezes a container and unpause thaws it', async () => {
  await d.berth(['run', '-d', '--name', 'frozen', 'busybox', 'sleep', '300']);
  assert.equal((await d.berth(['pause', 'frozen'])).code, 0);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'frozen'])).stdout.trim(), 'paused true');
  const exec = await d.berth(['exec', 'frozen', 'true']);
  assert.equal(exec.code, 1);
  assert.equal(exec.stderr.trim(), 'Error response from daemon: Container frozen is paused, unpause the container before exec');
  const api = await d.api('POST', '/containers/frozen/exec', { Cmd: ['true'] });
  assert.equal(api.status, 409);
  assert.deepEqual(api.json(), { message: 'Container frozen is paused, unpause the container before exec' });
  assert.equal((await d.berth(['unpause', 'frozen'])).code, 0);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Status}}', 'frozen'])).stdout.trim(), 'running');
  await d.berth(['rm', '-f', 'frozen']);
});
