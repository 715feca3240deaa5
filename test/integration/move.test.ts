import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { sleep, until } from '../helpers/wait';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineClient } from '../../src/client/engine';
import { packTar } from '../../src/layer/tar-pack';

// `berth container move` between two berth daemons, each in its own network namespace:
// the container's configuration, files (its own layer, deletions included), log, named
// volume, network and published port arrive; what the target lacks is all that is sent;
// a failure at any step leaves exactly one whole container.
let src: TestDaemon;
let dst: TestDaemon;
let tmp: string;
before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-move-'));
  [src, dst] = await Promise.all([TestDaemon.start(), TestDaemon.start()]);
});
after(async () => {
  await Promise.all([src?.cleanup(), dst?.cleanup()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const WEB = ['sh', '-c', 'mkdir -p /www && echo served-by-web > /www/index.html && echo started && exec httpd -f -p 80 -h /www'];

async function ok(d: TestDaemon, args: string[]): Promise<string> {
  const r = await d.berth(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A container worth moving: a network, a named volume, a published port, a restart policy, a big own layer. */
async function makeWeb(name: string, port: number, vol: string): Promise<void> {
  await src.berth(['network', 'create', 'mnet']);
  await ok(src, ['volume', 'create', '--label', 'kept=yes', vol]);
  await ok(src, ['run', '-d', '--name', name, '--network', 'mnet', '--network-alias', `${name}-alias`, '-p', `${port}:80`, '--restart', 'always', '--stop-timeout', '1', '-v', `${vol}:/data`, '--label', 'tier=web', '-e', 'GREETING=hi', '-m', '64m', 'busybox', ...WEB]);
  await ok(src, ['exec', name, 'sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=100 2>/dev/null && rm /etc/group && echo changed >> /etc/passwd && echo in-volume > /data/v.txt']);
}

function inNs(d: TestDaemon, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', d.netns, ...args], { encoding: 'utf8', timeout: 10_000 });
}

/** What the container publishing `port` answers there, in its daemon's namespace. */
function served(d: TestDaemon, port: number): Promise<string> {
  return until(`the published port ${port} to answer`, async () => {
    try {
      const page = inNs(d, ['curl', '-s', '-f', `http://127.0.0.1:${port}/`]);
      return page.includes('served-by-web') ? page : undefined;
    } catch {
      return undefined;
    }
  }, 10_000);
}

test('a running container moves whole, with its volume, network, port, restart policy and log; the source is gone', async () => {
  await makeWeb('web', 18080, 'mvol');
  const bigSum = await ok(src, ['exec', 'web', 'md5sum', '/big']);
  // its own layer: a 100 MB file added, one changed, one deleted (a whiteout)
  const changes = (await ok(src, ['diff', 'web'])).split('\n').filter(Boolean).sort();
  for (const c of ['A /big', 'C /etc/passwd', 'D /etc/group']) assert.ok(changes.includes(c), `${c} in ${changes.join(', ')}`);
  const answer = await served(src, 18080);
  const r = await src.berth(['container', 'move', 'web', '--to', dst.host, '--with-volumes'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /web now runs on unix:\/\/.* as [0-9a-f]{12}/);
  assert.match(r.stdout, /Sending the container's own layer: /);

  // on the target: running, same settings, same files, same answers on the same port
  const info = JSON.parse(await ok(dst, ['inspect', 'web']))[0];
  assert.equal(info.State.Running, true);
  assert.equal(info.Config.Image, 'busybox');
  assert.equal(info.Config.Labels.tier, 'web');
  assert.ok(info.Config.Env.includes('GREETING=hi'));
  assert.equal(info.HostConfig.RestartPolicy.Name, 'always');
  assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
  assert.deepEqual(info.HostConfig.PortBindings['80/tcp'], [{ HostIp: '', HostPort: '18080' }]);
  assert.ok(info.NetworkSettings.Networks.mnet.Aliases.includes('web-alias'));
  assert.equal(await ok(dst, ['exec', 'web', 'md5sum', '/big']), bigSum);
  assert.equal((await dst.berth(['exec', 'web', 'cat', '/etc/group'])).code, 1, 'a file deleted in the container stays deleted');
  assert.match(await ok(dst, ['exec', 'web', 'tail', '-n1', '/etc/passwd']), /^changed$/m);
  assert.equal(await ok(dst, ['exec', 'web', 'cat', '/data/v.txt']), 'in-volume\n');
  assert.equal((await ok(dst, ['volume', 'inspect', '-f', '{{.Labels.kept}}', 'mvol'])).trim(), 'yes');
  assert.ok(Number(await ok(dst, ['inspect', '--size', '-f', '{{.SizeRw}}', 'web'])) >= 100 * 1024 * 1024, 'the whole own layer arrived');
  assert.deepEqual((await ok(dst, ['diff', 'web'])).split('\n').filter(Boolean).sort(), changes, 'the same changes to the image, the deletion included');
  assert.equal(await served(dst, 18080), answer, 'the same answer on the same published port');
  // the log so far came along: the first run's line, and the new run's
  assert.equal((await ok(dst, ['logs', 'web'])).split('\n').filter((l) => l === 'started').length, 2);

  // the source has neither the container nor the volume
  assert.equal((await src.berth(['inspect', 'web'])).code, 1);
  assert.equal((await src.berth(['volume', 'inspect', 'mvol'])).code, 1);
});

test('only what the target lacks is sent: the layers it holds are left out; a second container of the image sends its own layer only; --keep', async () => {
  await ok(src, ['run', '--name', 'base', 'busybox', 'sh', '-c', 'echo layer2 > /l2']);
  await ok(src, ['commit', 'base', 'img2:1']);
  await ok(src, ['rm', 'base']);
  for (const name of ['small', 'small2']) {
    await ok(src, ['run', '-d', '--name', name, '--stop-timeout', '1', 'img2:1', 'sleep', '300']);
    await ok(src, ['exec', name, 'sh', '-c', `echo ${name} > /mine`]);
  }
  const first = await src.berth(['container', 'move', 'small', '--to', dst.host]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.match(first.stdout, /1 of 2 layers to send/);
  // only the small top layer travels, not busybox's (the target has it): kilobytes, not megabytes
  assert.match(first.stdout, /Sending image layers: [\d.]+k?B in/);
  assert.equal(await ok(dst, ['exec', 'small', 'cat', '/l2', '/mine']), 'layer2\nsmall\n');
  assert.equal((await ok(dst, ['inspect', '-f', '{{.Config.Image}}', 'small'])).trim(), 'img2:1');
  assert.equal((await ok(dst, ['images', '-q', 'img2:1'])).trim().length, 12, 'the target gets the tag it lacked');

  // the target named by a context (the docker CLI's store, here a folder of the test's own)
  const env = { ...process.env, DOCKER_CONFIG: path.join(src.dataRoot, 'docker-config') };
  const made = await src.berth(['context', 'create', 'dstctx', '--docker', `host=${dst.host}`], { env });
  assert.equal(made.code, 0, made.stderr);
  const second = await src.berth(['container', 'move', 'small2', '--to', 'dstctx', '--keep'], { env });
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.match(second.stdout, /already on dstctx/);
  assert.doesNotMatch(second.stdout, /Sending image layers/);
  assert.equal(await ok(dst, ['exec', 'small2', 'cat', '/mine']), 'small2\n');
  assert.equal((await ok(src, ['inspect', '-f', '{{.State.Status}}', 'small2'])).trim(), 'exited');
});

test('through the Engine API alone (as to a Docker daemon): the own layer becomes an image layer, volumes go through a helper container', async () => {
  await ok(src, ['volume', 'create', 'pvol']);
  await ok(src, ['run', '-d', '--name', 'flat', '--stop-timeout', '1', '-v', 'pvol:/data', '-v', '/anon', 'busybox', 'sleep', '300']);
  await ok(src, ['exec', 'flat', 'sh', '-c', 'echo flat > /own && rm /etc/group && mkdir -p /data/d && echo vol > /data/d/f && echo anon > /anon/a']);
  const anonName = (await ok(src, ['inspect', '-f', '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}', 'flat'])).trim();
  const r = await src.berth(['container', 'move', 'flat', '--to', dst.host, '--with-volumes', '--engine-api-only']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /Committing flat's own layer into berth-moved\/flat:[0-9a-f]{12}/);
  assert.equal(await ok(dst, ['exec', 'flat', 'cat', '/own', '/data/d/f', '/anon/a']), 'flat\nvol\nanon\n');
  assert.equal((await ok(dst, ['inspect', '-f', '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}', 'flat'])).trim(), anonName, 'the anonymous volume kept its name (a named one there, as Docker has no other way)');
  assert.equal((await dst.berth(['exec', 'flat', 'cat', '/etc/group'])).code, 1);
  assert.match((await ok(dst, ['inspect', '-f', '{{.Config.Image}}', 'flat'])).trim(), /^berth-moved\/flat:/);
  assert.equal((await src.berth(['images', '-q', 'berth-moved/flat'])).stdout, '', 'the commit made for the move is gone from the source');
});

test('refused before anything stops: unknown container, unreachable target, name or port taken there', async () => {
  await ok(src, ['run', '-d', '--name', 'busy', '-p', '18081:80', 'busybox', 'sleep', '300']);
  const none = await src.berth(['container', 'move', 'ghost', '--to', dst.host]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /No such container: ghost/);
  const away = await src.berth(['container', 'move', 'busy', '--to', 'unix:///run/nothing-here.sock']);
  assert.equal(away.code, 1);
  assert.match(away.stderr, /the target unix:\/\/\/run\/nothing-here.sock does not answer/);
  const noCtx = await src.berth(['container', 'move', 'busy', '--to', 'no-such-context']);
  assert.match(noCtx.stderr, /context "no-such-context"/);

  await ok(dst, ['run', '-d', '--name', 'busy', 'busybox', 'sleep', '300']);
  const named = await src.berth(['container', 'move', 'busy', '--to', dst.host]);
  assert.equal(named.code, 1);
  assert.match(named.stderr, /The container name "\/busy" is already in use on/);
  await ok(dst, ['rm', '-f', 'busy']);
  await ok(dst, ['run', '-d', '--name', 'holder', '-p', '18081:80', 'busybox', 'sleep', '300']);
  const port = await src.berth(['container', 'move', 'busy', '--to', dst.host]);
  assert.equal(port.code, 1);
  assert.match(port.stderr, /Bind for 0.0.0.0:18081 failed: port is already allocated on .* \(container holder\)/);
  assert.equal((await ok(src, ['inspect', '-f', '{{.State.Running}}', 'busy'])).trim(), 'true');
  assert.equal((await dst.berth(['inspect', 'busy'])).code, 1);
  await ok(dst, ['rm', '-f', 'holder']);
  await ok(src, ['rm', '-f', 'busy']);

  // a volume name taken there, with --with-volumes
  await ok(src, ['run', '-d', '--name', 'vbusy', '-v', 'taken-vol:/data', 'busybox', 'sleep', '300']);
  await ok(dst, ['volume', 'create', 'taken-vol']);
  const vol = await src.berth(['container', 'move', 'vbusy', '--to', dst.host, '--with-volumes']);
  assert.equal(vol.code, 1);
  assert.match(vol.stderr, /the volume name taken-vol is already taken on/);
  assert.equal((await ok(src, ['inspect', '-f', '{{.State.Running}}', 'vbusy'])).trim(), 'true');
  // a peer may not fill or adopt a volume a container of the target uses
  await ok(dst, ['run', '-d', '--name', 'vuser', '-v', 'taken-vol:/data', 'busybox', 'sleep', '300']);
  const fill = await dst.api('PUT', '/berth/v1/volumes/taken-vol/archive');
  assert.equal(fill.status, 409, fill.body);
  const adopt = await dst.api('POST', `/berth/v1/containers/create?name=adopter&anonymous-volumes=${encodeURIComponent(JSON.stringify({ '/data': 'taken-vol' }))}`, { Image: 'busybox', Cmd: ['true'] });
  assert.equal(adopt.status, 409, adopt.body);
  await ok(dst, ['rm', '-f', 'vuser']);
  await ok(dst, ['volume', 'rm', 'taken-vol']);

  // one move at a time: a container already leaving is refused, and the refused move leaves the mark alone
  const begun = await src.api('POST', '/berth/v1/containers/vbusy/move-begin?to=elsewhere');
  assert.equal(begun.status, 204, begun.body);
  const twice = await src.berth(['container', 'move', 'vbusy', '--to', dst.host]);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /already being moved to elsewhere/);
  assert.equal((await ok(src, ['inspect', '-f', '{{.State.Running}}', 'vbusy'])).trim(), 'true', 'the refused move did not stop it');
  assert.equal((await src.api('POST', '/berth/v1/containers/vbusy/move-begin?to=third')).status, 409, 'the first mark is still there');
  await ok(src, ['rm', '-f', '-v', 'vbusy']);
});

/** Runs a move in the background and calls `cut` once the target holds the pending container. */
async function moveCutShort(name: string, cut: () => Promise<void>): Promise<{ code: number | null; out: string }> {
  const child = spawn(BERTH, ['-H', src.host, 'container', 'move', name, '--to', dst.host, '--with-volumes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await until('the pending container on the target', async () => ((await dst.api('GET', `/containers/${name}/json`)).status === 200 ? true : undefined), 60_000, 10);
    await cut();
    return { code: await exited, out };
  } finally {
    child.kill('SIGKILL');
  }
}

test('the target daemon killed in the middle: the source runs again, the target keeps no container', async () => {
  await makeWeb('web2', 18082, 'mvol2');
  const r = await moveCutShort('web2', () => dst.stopProcess('SIGKILL'));
  assert.notEqual(r.code, 0, r.out);
  assert.equal((await ok(src, ['inspect', '-f', '{{.State.Running}}', 'web2'])).trim(), 'true', r.out);
  await dst.startProcess();
  assert.equal((await dst.berth(['inspect', 'web2'])).code, 1, 'the half-made container went with the restart');
  assert.equal((await dst.berth(['volume', 'inspect', 'mvol2'])).code, 0, 'volumes are made whole before the container: the volume stays a plain volume');
  await ok(dst, ['volume', 'rm', 'mvol2']);
});

test('the source daemon killed in the middle: the target keeps nothing, the source keeps its container', async () => {
  const r = await moveCutShort('web2', () => src.stopProcess('SIGKILL'));
  assert.notEqual(r.code, 0, r.out);
  await src.startProcess();
  assert.equal((await dst.berth(['inspect', 'web2'])).code, 1, r.out);
  assert.equal((await src.berth(['inspect', 'web2'])).code, 0, 'the source container is whole');
  await ok(src, ['rm', '-f', 'web2']);
});

test('the move routes take no hostile input: a layer or log tar that names a path outside, a container not made for a move', async () => {
  const api = new EngineClient(dst.host);
  const made = await api.call<{ Id: string }>('POST', '/berth/v1/containers/create', { query: { name: 'hostile' }, body: { Image: 'busybox', Cmd: ['true'] } });
  const escape = path.join(dst.dataRoot, 'escaped');
  const evil = await packTar([{ name: '../../../../../../../../' + escape.slice(1), data: 'x' }]);
  for (const format of ['layer', 'overlay']) {
    const r = await api.request('PUT', `/berth/v1/containers/${made.Id}/layer`, { query: { format }, body: evil });
    await r.text();
    assert.equal(r.status, 400, format);
    assert.equal(existsSync(escape), false, format);
  }
  const logs = await api.request('PUT', `/berth/v1/containers/${made.Id}/logfiles`, { body: await packTar([{ name: '../config.v2.json', data: '{}' }]) });
  assert.equal(logs.status, 400, await logs.text());
  const start = await api.request('POST', `/containers/${made.Id}/start`);
  assert.equal(start.status, 409);
  assert.match(await start.text(), /being moved here and is not whole yet/);
  await api.call('POST', `/berth/v1/containers/${made.Id}/move-complete`);
  const late = await api.request('PUT', `/berth/v1/containers/${made.Id}/layer`, { body: await packTar([{ name: 'x', data: 'x' }]) });
  assert.equal(late.status, 409, 'a whole container takes no more layers');
  await late.text();
  const badOmit = await api.request('GET', '/berth/v1/images/busybox/archive', { query: { 'omit-layers': '../x' } });
  assert.equal(badOmit.status, 400);
  await badOmit.text();
  await api.call('DELETE', `/containers/${made.Id}`, { query: { force: true } });
});

/**
 * A move in the background that pauses at `step` (BERTH_MOVE_PAUSE, the mover's hook for
 * tests): resolves once it waits there, with the client's pid, a way on and its end.
 */
async function movePaused(name: string, step: string, args: string[] = []): Promise<{ pid: number; resume: () => void; done: Promise<{ code: number | null; signal: string | null; out: string }> }> {
  const file = path.join(tmp, `go-${name}-${step}`);
  const child = spawn(BERTH, ['-H', src.host, 'container', 'move', name, '--to', dst.host, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BERTH_MOVE_PAUSE: `${step}:${file}` } });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
  try {
    await until(`the move to pause before ${step}`, async () => (out.includes(`Paused before ${step}`) ? true : undefined), 60_000, 20);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${out}`);
  }
  return { pid: child.pid!, resume: () => writeFileSync(file, ''), done };
}

async function running(d: TestDaemon, name: string): Promise<boolean | undefined> {
  const r = await d.berth(['inspect', '-f', '{{.State.Running}}', name]);
  return r.code === 0 ? r.stdout.trim() === 'true' : undefined;
}

test('the source daemon killed once the target runs, before the source is removed: its restart policy does not bring the source back beside the target', async () => {
  // a stopped `always` container comes back with its daemon: the sign that the policies have acted
  await ok(src, ['run', '-d', '--name', 'ctl', '--restart', 'always', '--stop-timeout', '1', 'busybox', 'sleep', '300']);
  await ok(src, ['stop', 'ctl']);
  await ok(src, ['run', '-d', '--name', 'twice', '--restart', 'always', '--stop-timeout', '1', 'busybox', 'sleep', '300']);
  const m = await movePaused('twice', 'source-removal');
  try {
    assert.equal(await running(dst, 'twice'), true);
    await src.stopProcess('SIGKILL');
    await src.startProcess();
    await until('the restart policies to act on the restarted source daemon', async () => ((await running(src, 'ctl')) ? true : undefined), 20_000);
    await sleep(1000);
    assert.equal(await running(src, 'twice'), false, 'the source copy stays stopped');
    assert.equal((await ok(src, ['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', 'twice'])).trim(), 'always', 'its policy is as it was');
    assert.equal(await running(dst, 'twice'), true);
  } finally {
    m.resume();
  }
  const r = await m.done;
  assert.equal(r.code, 0, r.out);
  assert.equal(await running(src, 'twice'), undefined, 'the source copy went once the client went on');
  assert.equal(await running(dst, 'twice'), true);
  await ok(src, ['rm', '-f', 'ctl']);
  await ok(dst, ['rm', '-f', 'twice']);
});

test('Ctrl-C in the middle of a move undoes it: the source runs again, what was made on the target goes, exit status 130', async () => {
  await ok(src, ['network', 'create', 'cnet']);
  await ok(src, ['run', '-d', '--name', 'cut', '--network', 'cnet', '--stop-timeout', '1', '-v', 'cvol:/data', 'busybox', 'sleep', '300']);
  const m = await movePaused('cut', 'copied', ['--with-volumes']);
  assert.equal((await dst.berth(['inspect', 'cut'])).code, 0, 'the target holds the copy, not started yet');
  assert.equal(await running(src, 'cut'), false);
  process.kill(m.pid, 'SIGINT');
  const r = await m.done;
  assert.equal(r.code, 130, r.out);
  assert.match(r.out, /interrupted and undone: cut runs again on the source/);
  assert.equal(await running(src, 'cut'), true);
  assert.equal((await dst.berth(['inspect', 'cut'])).code, 1, 'the copy on the target is gone');
  assert.equal((await dst.berth(['network', 'inspect', 'cnet'])).code, 1, 'the network made for it is gone');
  assert.equal((await dst.berth(['volume', 'inspect', 'cvol'])).code, 1, 'the volume made for it is gone');
  await ok(src, ['rm', '-f', 'cut']);
  await ok(src, ['network', 'rm', 'cnet']);
  await ok(src, ['volume', 'rm', 'cvol']);
});

test('too little disk on the target: refused before anything stops, with how much is needed and free', async () => {
  const small = await TestDaemon.start([], { dataRootSize: '16m' });
  try {
    await ok(src, ['run', '-d', '--name', 'fat', '--stop-timeout', '1', 'busybox', 'sleep', '300']);
    await ok(src, ['exec', 'fat', 'dd', 'if=/dev/urandom', 'of=/fat', 'bs=1M', 'count=24']);
    const r = await src.berth(['container', 'move', 'fat', '--to', small.host]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /not enough disk space on unix:\/\/\S+: the move needs about 2\d(\.\d+)?MB, \d+(\.\d+)?[kM]?B is free/);
    assert.doesNotMatch(r.stdout, /Stopping/);
    assert.equal(await running(src, 'fat'), true);
    assert.equal((await small.berth(['ps', '-aq'])).stdout, '', 'nothing was made on the target');
    await ok(src, ['rm', '-f', 'fat']);
  } finally {
    await small.cleanup();
  }
});

test('--with-volumes moves anonymous volumes too (-v /path, --mount without a source): same names, same files, still anonymous there', async () => {
  await ok(src, ['run', '-d', '--name', 'anon', '--stop-timeout', '1', '-v', '/a1', '--mount', 'type=volume,target=/a2', 'busybox', 'sleep', '300']);
  await ok(src, ['exec', 'anon', 'sh', '-c', 'echo one > /a1/f && mkdir /a2/d && echo two > /a2/d/g']);
  const names = '{{range .Mounts}}{{.Destination}}={{.Name}} {{end}}';
  const before = (await ok(src, ['inspect', '-f', names, 'anon'])).trim();
  assert.match(before, /^\/a\d=[0-9a-f]{64} \/a\d=[0-9a-f]{64}$/);
  const r = await src.berth(['container', 'move', 'anon', '--to', dst.host, '--with-volumes']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal((await ok(dst, ['inspect', '-f', names, 'anon'])).trim(), before);
  assert.equal(await ok(dst, ['exec', 'anon', 'cat', '/a1/f', '/a2/d/g']), 'one\ntwo\n');
  const volumes = before.split(' ').map((x) => x.split('=')[1]);
  for (const v of volumes) {
    assert.equal((await src.berth(['volume', 'inspect', v])).code, 1, 'gone from the source');
    assert.match(await ok(dst, ['volume', 'inspect', '-f', '{{json .Labels}}', v]), /com\.docker\.volume\.anonymous/);
  }
  // still the container's anonymous volumes: `rm -v` takes them
  await ok(dst, ['rm', '-f', '-v', 'anon']);
  for (const v of volumes) assert.equal((await dst.berth(['volume', 'inspect', v])).code, 1, 'removed with the container');
});
