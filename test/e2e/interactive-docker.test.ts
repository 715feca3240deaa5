import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, type CommandResult } from '../helpers/daemon';
import { TmuxSession, type TmuxStartOptions } from '../helpers/tmux';

// The real docker CLI (/usr/local/bin/docker) against berthd on the interactive paths:
// run -it, attach and detach, exec -it in a real terminal (tmux); run -i; logs -f.
let d: TestDaemon;
let dockerConfig: string;
before(async () => {
  d = await TestDaemon.start();
  dockerConfig = mkdtempSync(path.join(os.tmpdir(), 'berth-docker-config-'));
  const web = await d.docker(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo up; sleep 300']);
  assert.equal(web.code, 0, web.stderr);
});
after(async () => {
  // a daemon that died mid-run explains every later failure: show why
  if (d && !(await d.ping())) console.error(`berthd is gone; its last output:\n${d.output.slice(-8000)}`);
  await d?.cleanup();
  if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PROMPT = /^\/ # $/m;
const prompts = (screen: string) => (screen.match(/^\/ # /gm) ?? []).length;

/** A tmux session running the docker CLI against this test's daemon. */
function docker<T>(args: string[], opts: TmuxStartOptions, fn: (t: TmuxSession) => Promise<T>): Promise<T> {
  return TmuxSession.run(['docker', ...args], { ...opts, env: { DOCKER_HOST: d.host, DOCKER_CONFIG: dockerConfig } }, fn);
}

async function inspect(name: string): Promise<{ State: { Running: boolean; Status: string; ExitCode: number } }> {
  const r = await d.api('GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, r.body);
  return r.json();
}

function assertCooked(stty: string): void {
  assert.match(stty, /(^|\s)icanon(\s|$)/, stty);
  assert.match(stty, /(^|\s)echo(\s|$)/, stty);
}

test('docker run -it: prompt, output, Ctrl-C, size and resize, exit status', { timeout: 90_000 }, async () => {
  await docker(['run', '-it', '--name', 'dit', 'busybox', 'sh'], { width: 100, height: 30 }, async (t) => {
    await t.waitForText(PROMPT);
    t.type('echo hi-$((40+2))\n');
    await t.waitForText(/^hi-42$/m);
    t.type('sleep 100\n');
    await t.waitForText(/^\/ # sleep 100$/m);
    await sleep(500);
    const shown = prompts(t.capture());
    t.keys('C-c');
    await t.waitFor((s) => prompts(s) > shown, 10_000, 'a prompt after Ctrl-C');
    await t.typeUntil('stty size\n', /^30 100$/m);
    t.resize(120, 40);
    await t.typeUntil('stty size\n', /^40 120$/m);
    t.type('exit 3\n');
    assert.equal(await t.waitForExit(), 3);
    assertCooked(t.terminalSettingsAfterExit());
  });
  assert.equal((await inspect('dit')).State.ExitCode, 3);
});

test('docker run -it --detach-keys detaches', { timeout: 60_000 }, async () => {
  await docker(['run', '-it', '--detach-keys', 'ctrl-x,x', '--name', 'ddk', 'busybox', 'sh'], {}, async (t) => {
    await t.waitForText(PROMPT);
    t.keys('C-x', 'x');
    // docker run treats the detach sequence as a clean end (its EscapeError becomes status 0)
    assert.equal(await t.waitForExit(), 0, t.capture());
  });
  assert.equal((await inspect('ddk')).State.Running, true);
});

test('docker exec -it: a shell in a terminal, sized and resized, its exit status', { timeout: 60_000 }, async () => {
  await docker(['exec', '-it', 'web', 'sh'], { width: 90, height: 20 }, async (t) => {
    await t.waitForText(PROMPT);
    t.type('echo $((6*7))\n');
    await t.waitForText(/^42$/m);
    await t.typeUntil('stty size\n', /^20 90$/m);
    t.resize(110, 33);
    await t.typeUntil('stty size\n', /^33 110$/m);
    t.type('exit 5\n');
    assert.equal(await t.waitForExit(), 5);
    assertCooked(t.terminalSettingsAfterExit());
  });
});

test('docker exec: output, exit codes, errors', { timeout: 60_000 }, async () => {
  const ps = await d.docker(['exec', 'web', 'ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^\s*1 root\s+sleep 300$/m);
  const who = await d.docker(['exec', '-u', '1000', '-w', '/tmp', '-e', 'X=1', 'web', 'sh', '-c', 'id -u; pwd; echo $X']);
  assert.equal(who.stdout, '1000\n/tmp\n1\n', who.stderr);
  assert.equal((await d.docker(['exec', 'web', 'sh', '-c', 'exit 4'])).code, 4);
  assert.equal((await d.docker(['exec', 'web', 'no-such-command'])).code, 127);
  const cat = await d.docker(['exec', '-i', 'web', 'cat'], { input: 'into exec\n' });
  assert.equal(cat.stdout, 'into exec\n', cat.stderr);
  const bg = await d.docker(['exec', '-d', 'web', 'sleep', '10']);
  assert.equal(bg.code, 0, bg.stderr);
  const missing = await d.docker(['exec', 'nothere', 'ps']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /No such container: nothere/);
  assert.equal((await d.docker(['run', '--name', 'dfinished', 'busybox', 'true'])).code, 0);
  const stopped = await d.docker(['exec', 'dfinished', 'ps']);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /container [0-9a-f]{64} is not running/);
});

test('docker run -i pipes stdin and closes it at EOF', { timeout: 60_000 }, async () => {
  const hello = await d.docker(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hello\n' });
  assert.equal(hello.code, 0, hello.stderr);
  assert.equal(hello.stdout, 'hello\n');
  const big = await d.docker(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'wc -c; echo after-eof'], { input: Buffer.alloc(300_000, 'x') });
  assert.deepEqual(big.stdout.trim().split(/\s+/), ['300000', 'after-eof']);
});

test('docker logs -f follows the output and ends when the container stops', { timeout: 60_000 }, async () => {
  const r = await d.docker(['run', '-d', '--name', 'dcounter', 'busybox', 'sh', '-c', 'echo line1; sleep 2; echo line2; sleep 1; echo line3']);
  assert.equal(r.code, 0, r.stderr);
  const following: Promise<CommandResult> = d.docker(['logs', '-f', 'dcounter'], { timeoutMs: 30_000 });
  assert.equal((await inspect('dcounter')).State.Running, true);
  const logs = await following;
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout, 'line1\nline2\nline3\n');
  const tail = await d.docker(['logs', '--tail', '1', '-t', 'dcounter']);
  assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z line3\n$/);
});

test('docker top and docker run --init', { timeout: 60_000 }, async () => {
  const top = await d.docker(['top', 'web']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
  assert.match(top.stdout, /\ssleep 300$/m);
  const init = await d.docker(['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,comm']);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /^\s*1\s+(docker-init|tini)$/m);
});

test('docker attach, then Ctrl-P Ctrl-Q detaches and the container keeps running', { timeout: 90_000 }, async () => {
  const r = await d.docker(['run', '-itd', '--name', 'datt', 'busybox', 'sh']);
  assert.equal(r.code, 0, r.stderr);
  await docker(['attach', 'datt'], { width: 90, height: 25 }, async (t) => {
    // typed again until the shell answers: the attach is then in place
    await t.typeUntil('echo at-$((1+2))\n', /^at-3$/m);
    await t.typeUntil('stty size\n', /^25 90$/m);
    t.keys('C-p', 'C-q');
    // docker attach returns the detach as its error: status 1, "read escape sequence"
    assert.equal(await t.waitForExit(), 1, t.capture());
    assert.match(t.capture(), /read escape sequence$/m);
    assertCooked(t.terminalSettingsAfterExit());
  });
  assert.equal((await inspect('datt')).State.Running, true);
});

test('docker attach again: --detach-keys, then the exit status of the container', { timeout: 90_000 }, async () => {
  assert.equal((await inspect('datt')).State.Running, true, 'needs the container of the previous test');
  await docker(['attach', '--detach-keys', 'ctrl-x,x', 'datt'], {}, async (t) => {
    await t.typeUntil('echo again-$((2+2))\n', /^again-4$/m);
    t.keys('C-x', 'x');
    assert.equal(await t.waitForExit(), 1, t.capture());
    assert.match(t.capture(), /read escape sequence$/m);
  });
  assert.equal((await inspect('datt')).State.Running, true);

  await docker(['attach', 'datt'], {}, async (t) => {
    await t.typeUntil('echo ready-$((3+4))\n', /^ready-7$/m);
    t.type('exit 7\n');
    assert.equal(await t.waitForExit(), 7);
  });
  assert.equal((await inspect('datt')).State.ExitCode, 7);
});
