import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestDaemon, BERTH, type CommandResult } from '../helpers/daemon';
import { TmuxSession } from '../helpers/tmux';

// The berth CLI's interactive side against berthd: a real terminal (tmux) for -it, attach
// and exec -it; pipes for -i; signals, stop, kill, logs -f, top and --init.
let d: TestDaemon;
let tmp: string;
before(async () => {
  d = await TestDaemon.start();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-interactive-'));
  const web = await d.berth(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'echo up; sleep 300']);
  assert.equal(web.code, 0, web.stderr);
});
after(async () => {
  // a daemon that died mid-run explains every later failure: show why
  if (d && !(await d.ping())) console.error(`berthd is gone; its last output:\n${d.output.slice(-8000)}`);
  await d?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const berth = (...args: string[]) => [BERTH, '-H', d.host, ...args];
/** busybox sh's prompt as root in /: "/ # ". */
const prompts = (screen: string) => (screen.match(/^\/ # /gm) ?? []).length;
const PROMPT = /^\/ # $/m;

async function inspect(name: string): Promise<{ Id: string; State: { Running: boolean; Status: string; ExitCode: number } }> {
  const r = await d.api('GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, r.body);
  return r.json();
}

async function until(check: () => Promise<boolean>, timeoutMs = 15_000, what = 'a condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The terminal is back in cooked mode (canonical input and echo), as it was before berth ran. */
function assertCooked(stty: string): void {
  assert.match(stty, /(^|\s)icanon(\s|$)/, stty);
  assert.match(stty, /(^|\s)echo(\s|$)/, stty);
}

test('run -it: prompt, output, Ctrl-C, terminal size and resize, exit status, terminal restored', { timeout: 90_000 }, async () => {
  await TmuxSession.run(berth('run', '-it', '--name', 'it1', 'busybox', 'sh'), { width: 100, height: 30 }, async (t) => {
    await t.waitForText(PROMPT);
    t.type('echo hi-$((40+2))\n');
    await t.waitForText(/^hi-42$/m);

    // Ctrl-C travels as a byte to the container's TTY, whose line discipline interrupts sleep
    t.type('sleep 100\n');
    await t.waitForText(/^\/ # sleep 100$/m);
    await until(async () => /\ssleep 100$/m.test((await d.berth(['top', 'it1'])).stdout), 10_000, 'sleep to run in it1');
    const shown = prompts(t.capture());
    const t0 = Date.now();
    t.keys('C-c');
    await t.waitFor((s) => prompts(s) > shown, 10_000, 'a prompt after Ctrl-C');
    assert.ok(Date.now() - t0 < 10_000);

    await t.typeUntil('stty size\n', /^30 100$/m);
    t.resize(120, 40);
    await t.typeUntil('stty size\n', /^40 120$/m);

    t.type('exit 3\n');
    assert.equal(await t.waitForExit(), 3);
    assertCooked(t.terminalSettingsAfterExit());
  });
  const it1 = await inspect('it1');
  assert.equal(it1.State.Status, 'exited');
  assert.equal(it1.State.ExitCode, 3);
});

test('run -it --detach-keys ctrl-x,x detaches and leaves the container running', { timeout: 60_000 }, async () => {
  await TmuxSession.run(berth('run', '-it', '--detach-keys', 'ctrl-x,x', '--name', 'dk', 'busybox', 'sh'), {}, async (t) => {
    await t.waitForText(PROMPT);
    t.keys('C-x', 'x');
    assert.equal(await t.waitForExit(), 0);
    assertCooked(t.terminalSettingsAfterExit());
  });
  assert.equal((await inspect('dk')).State.Running, true);
});

test('run -i pipes stdin and closes it at EOF', { timeout: 60_000 }, async () => {
  const hello = await d.berth(['run', '-i', '--rm', 'busybox', 'cat'], { input: 'hello\n' });
  assert.equal(hello.code, 0, hello.stderr);
  assert.equal(hello.stdout, 'hello\n');
  // output written after the container's stdin ended still arrives, and so does a large
  // input (more than one packet on conmon's attach socket, which reads 32 KiB at a time)
  const big = await d.berth(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'wc -c; echo after-eof'], { input: Buffer.alloc(300_000, 'x') });
  assert.equal(big.code, 0, big.stderr);
  assert.deepEqual(big.stdout.trim().split(/\s+/), ['300000', 'after-eof']);
  // without -i the container's stdin is not the caller's
  const noStdin = await d.berth(['run', '--rm', 'busybox', 'cat'], { input: 'ignored\n' });
  assert.equal(noStdin.code, 0, noStdin.stderr);
  assert.equal(noStdin.stdout, '');
  // -t without a terminal on stdin is refused, as docker does
  const notTty = await d.berth(['run', '-it', '--rm', 'busybox', 'true']);
  assert.equal(notTty.code, 1);
  assert.equal(notTty.stderr, 'the input device is not a TTY\n');
});

test('start -a -i attaches stdin and output of a created container', { timeout: 60_000 }, async () => {
  const c = await d.berth(['create', '-i', '--name', 'sa', 'busybox', 'sh', '-c', 'cat; echo done; exit 2']);
  assert.equal(c.code, 0, c.stderr);
  const r = await d.berth(['start', '-a', '-i', 'sa'], { input: 'via start\n' });
  assert.equal(r.stdout, 'via start\ndone\n');
  assert.equal(r.code, 2, r.stderr);
});

test('exec: output, user, workdir, env, detach, exit codes, errors', { timeout: 90_000 }, async () => {
  const ps = await d.berth(['exec', 'web', 'ps']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^\s*1 root\s+sleep 300$/m);
  assert.match(ps.stdout, /^\s*\d+ root\s+ps$/m);

  const envFile = path.join(tmp, 'exec.env');
  writeFileSync(envFile, '# comment\nFROM_FILE=yes\n');
  const env = await d.berth(['exec', '-u', '1000', '-w', '/tmp', '-e', 'X=1', '--env-file', envFile, 'web', 'env']);
  assert.equal(env.code, 0, env.stderr);
  assert.match(env.stdout, /^X=1$/m);
  assert.match(env.stdout, /^FROM_FILE=yes$/m);
  const id = await d.berth(['exec', '-u', '1000', 'web', 'id', '-u']);
  assert.equal(id.stdout, '1000\n', id.stderr);
  const pwd = await d.berth(['exec', '-w', '/tmp', 'web', 'pwd']);
  assert.equal(pwd.stdout, '/tmp\n', pwd.stderr);

  const cat = await d.berth(['exec', '-i', 'web', 'cat'], { input: 'into exec\n' });
  assert.equal(cat.code, 0, cat.stderr);
  assert.equal(cat.stdout, 'into exec\n');

  const bg = await d.berth(['exec', '-d', 'web', 'sleep', '10']);
  assert.equal(bg.code, 0, bg.stderr);
  assert.equal(bg.stdout, '');
  const seen = await d.berth(['exec', 'web', 'ps']);
  assert.match(seen.stdout, /sleep 10$/m);

  assert.equal((await d.berth(['exec', 'web', 'sh', '-c', 'exit 4'])).code, 4);
  const split = await d.berth(['exec', 'web', 'sh', '-c', 'echo out; echo err >&2']);
  assert.deepEqual([split.stdout, split.stderr], ['out\n', 'err\n']);
  assert.equal((await d.berth(['exec', 'web', 'no-such-command'])).code, 127);
  assert.equal((await d.berth(['exec', 'web', '/etc'])).code, 126);

  const missing = await d.berth(['exec', 'nothere', 'ps']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: No such container: nothere\n');
  const ran = await d.berth(['run', '--name', 'finished', 'busybox', 'true']);
  assert.equal(ran.code, 0, ran.stderr);
  const stopped = await d.berth(['exec', 'finished', 'ps']);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /^Error response from daemon: container [0-9a-f]{64} is not running\n$/);
  const notTty = await d.berth(['exec', '-it', 'web', 'sh']);
  assert.equal(notTty.code, 1);
  assert.equal(notTty.stderr, 'the input device is not a TTY\n');
});

test('exec -it: a shell in a terminal, sized and resized, its exit status', { timeout: 60_000 }, async () => {
  await TmuxSession.run(berth('exec', '-it', 'web', 'sh'), { width: 90, height: 20 }, async (t) => {
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
  assert.equal((await inspect('web')).State.Running, true);
});

test('logs -f follows the output and ends when the container stops', { timeout: 60_000 }, async () => {
  const r = await d.berth(['run', '-d', '--name', 'counter', 'busybox', 'sh', '-c', 'echo line1; sleep 2; echo line2; sleep 1; echo line3']);
  assert.equal(r.code, 0, r.stderr);
  const following: Promise<CommandResult> = d.berth(['logs', '-f', 'counter'], { timeoutMs: 30_000 });
  // it is following a running container, not reading a finished log
  assert.equal((await inspect('counter')).State.Running, true);
  const logs = await following;
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout, 'line1\nline2\nline3\n');
  assert.equal((await inspect('counter')).State.Running, false);
});

test('logs --tail, -t and --since', { timeout: 60_000 }, async () => {
  const r = await d.berth(['run', '-d', '--name', 'lines', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo n$i; done; sleep 2; echo late; sleep 300']);
  assert.equal(r.code, 0, r.stderr);
  await until(async () => (await d.berth(['logs', 'lines'])).stdout.includes('late'), 15_000, 'the late line');

  const tail = await d.berth(['logs', '--tail', '5', 'lines']);
  assert.equal(tail.stdout, 'n7\nn8\nn9\nn10\nlate\n');
  const stamped = await d.berth(['logs', '-t', '--tail', '2', 'lines']);
  const rows = stamped.stdout.trim().split('\n');
  assert.equal(rows.length, 2, stamped.stdout);
  for (const row of rows) assert.match(row, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (n10|late)$/);

  // --since between the two batches: only the late line
  const n10 = Date.parse(rows[0].split(' ')[0]);
  const late = Date.parse(rows[1].split(' ')[0]);
  assert.ok(late - n10 >= 1_000, stamped.stdout);
  const middle = new Date((n10 + late) / 2).toISOString();
  const since = await d.berth(['logs', '--since', middle, 'lines']);
  assert.equal(since.stdout, 'late\n', since.stderr);
  const recent = await d.berth(['logs', '--since', '1h', '--tail', '1', 'lines']);
  assert.equal(recent.stdout, 'late\n');
});

test('run --init: pid 1 is the init and orphans are reaped', { timeout: 60_000 }, async () => {
  const ps = await d.berth(['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,comm']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /^\s*1\s+(docker-init|tini)$/m);

  // an orphan whose parent is gone is reparented to pid 1: the init reaps it, sleep as pid 1 does not
  const orphan = ['sh', '-c', '(sleep 1 &); exec sleep 300'];
  assert.equal((await d.berth(['run', '-d', '--init', '--name', 'reaped', 'busybox', ...orphan])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--name', 'zombies', 'busybox', ...orphan])).code, 0);
  // the orphan of "zombies" (started second) has ended once it shows as a zombie; the one of
  // "reaped" ended before it, so the init has had its SIGCHLD
  let without = '';
  await until(async () => /\sZ\s+sleep$/m.test((without = (await d.berth(['exec', 'zombies', 'ps', '-o', 'pid,stat,comm'])).stdout)), 15_000, 'an unreaped orphan');
  assert.match(without, /\sZ\s+sleep$/m, without);
  const withInit = await d.berth(['exec', 'reaped', 'ps', '-o', 'pid,stat,args']);
  assert.doesNotMatch(withInit.stdout, /\sZ\s/, withInit.stdout);
  assert.doesNotMatch(withInit.stdout, /sleep 1$/m, `the orphan is gone: ${withInit.stdout}`);
});

/**
 * Spawns the CLI and sends it a signal once the container has printed "ready" (after it set
 * its traps) and the CLI has relayed it; resolves with the CLI's exit.
 */
async function signalCli(args: string[], signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsed: number }> {
  const child = spawn(BERTH, ['-H', d.host, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));
  try {
    await until(async () => out.includes('ready\n'), 15_000, `the container's "ready" through berth`);
    const t0 = Date.now();
    child.kill(signal);
    const end = await Promise.race([exited, sleep(20_000).then(() => 'timeout' as const)]);
    assert.notEqual(end, 'timeout', `berth did not exit after ${signal}`);
    return { ...(end as { code: number | null; signal: NodeJS.Signals | null }), elapsed: Date.now() - t0 };
  } finally {
    child.kill('SIGKILL');
  }
}

test('run without a TTY forwards signals to the container (sig-proxy)', { timeout: 90_000 }, async () => {
  // sleep as pid 1 would ignore SIGINT (no handler), as under docker: tini passes it on
  const viaInit = await signalCli(['run', '--rm', '--init', '--name', 'sp', 'busybox', 'sh', '-c', 'echo ready; exec sleep 100'], 'SIGINT');
  assert.equal(viaInit.code, 130);
  await until(async () => (await d.api('GET', '/containers/sp/json')).status === 404, 10_000, 'sp to be removed');

  const trap = 'trap "exit 7" INT; echo ready; while :; do sleep 0.2; done';
  const trapped = await signalCli(['run', '--rm', '--name', 'sp2', 'busybox', 'sh', '-c', trap], 'SIGINT');
  assert.equal(trapped.code, 7);

  // without the proxy the CLI keeps no handler: SIGINT ends it (a shell sees 130), the container is untouched
  const noProxy = await signalCli(['run', '--sig-proxy=false', '--name', 'sp3', 'busybox', 'sh', '-c', trap], 'SIGINT');
  assert.deepEqual([noProxy.code, noProxy.signal], [null, 'SIGINT']);
  assert.equal((await inspect('sp3')).State.Running, true);
  // its trap was set all along: the same signal sent to it now ends it with 7
  assert.equal((await d.berth(['kill', '-s', 'INT', 'sp3'])).code, 0);
  await until(async () => (await inspect('sp3')).State.Status === 'exited', 10_000, 'sp3 to exit');
  assert.equal((await inspect('sp3')).State.ExitCode, 7);
});

test('stop -t waits, then kills; stop -s sends the given signal', { timeout: 60_000 }, async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', 'trap "" TERM; while :; do sleep 1; done'])).code, 0);
  const t0 = Date.now();
  const stop = await d.berth(['stop', '-t', '2', 'stubborn']);
  const elapsed = Date.now() - t0;
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stdout, 'stubborn\n');
  assert.ok(elapsed >= 1_500 && elapsed < 20_000, `stop took ${elapsed} ms`);
  assert.equal((await inspect('stubborn')).State.ExitCode, 137);

  assert.equal((await d.berth(['run', '-d', '--name', 'hup', 'busybox', 'sh', '-c', 'trap "exit 9" HUP; echo ready; while :; do sleep 0.2; done'])).code, 0);
  await until(async () => (await d.berth(['logs', 'hup'])).stdout === 'ready\n', 10_000, 'the HUP trap to be set');
  const t1 = Date.now();
  const byHup = await d.berth(['stop', '--signal', 'HUP', '--timeout', '30', 'hup']);
  assert.equal(byHup.code, 0, byHup.stderr);
  assert.ok(Date.now() - t1 < 20_000, 'stop -s HUP waited for the timeout');
  assert.equal((await inspect('hup')).State.ExitCode, 9);
});

test('kill -s HUP reaches a trap and the container runs on', { timeout: 60_000 }, async () => {
  assert.equal((await d.berth(['run', '-d', '--name', 'trapper', 'busybox', 'sh', '-c', 'trap "echo got-hup" HUP; echo ready; while :; do sleep 0.2; done'])).code, 0);
  await until(async () => (await d.berth(['logs', 'trapper'])).stdout === 'ready\n', 10_000, 'the HUP trap to be set');
  const k = await d.berth(['kill', '-s', 'HUP', 'trapper']);
  assert.equal(k.code, 0, k.stderr);
  assert.equal(k.stdout, 'trapper\n');
  await until(async () => (await d.berth(['logs', 'trapper'])).stdout === 'ready\ngot-hup\n', 10_000, 'the trap to run');
  assert.equal((await inspect('trapper')).State.Running, true);
});

test('top lists the container processes; ps options pass through', { timeout: 60_000 }, async () => {
  const top = await d.berth(['top', 'web']);
  assert.equal(top.code, 0, top.stderr);
  const [header, ...rows] = top.stdout.trim().split('\n');
  assert.match(header, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  assert.ok(rows.some((r) => /\ssleep 300$/.test(r)), top.stdout);
  const custom = await d.berth(['top', 'web', '-o', 'pid,args']);
  assert.equal(custom.code, 0, custom.stderr);
  assert.match(custom.stdout, /^PID\s+COMMAND\n/);
  assert.match(custom.stdout, /^\d+\s+sleep 300$/m);
  const missing = await d.berth(['top', 'nothere']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: No such container: nothere\n');
});

test('run -it -d, then attach: Ctrl-P Ctrl-Q detaches and the container keeps running', { timeout: 90_000 }, async () => {
  const r = await d.berth(['run', '-it', '-d', '--name', 'sess', 'busybox', 'sh']);
  assert.equal(r.code, 0, r.stderr);
  await TmuxSession.run(berth('attach', 'sess'), { width: 90, height: 25 }, async (t) => {
    // a TTY container shows nothing new until something is typed: typed again until it answers
    await t.typeUntil('echo at-$((1+2))\n', /^at-3$/m);
    await t.typeUntil('stty size\n', /^25 90$/m);
    t.keys('C-p', 'C-q');
    // as docker attach: the detach is its error, status 1
    assert.equal(await t.waitForExit(), 1);
    assert.match(t.capture(), /read escape sequence$/m);
    assertCooked(t.terminalSettingsAfterExit());
  });
  assert.equal((await inspect('sess')).State.Running, true);
});

// Last in the file: attaching again to a container whose earlier client detached is where
// a daemon that keeps writing to the gone client would fail.
test('attach again: --detach-keys, then the exit status of the container, then a stopped container', { timeout: 90_000 }, async () => {
  assert.equal((await inspect('sess')).State.Running, true, 'needs the container of the previous test');
  // custom keys; the shell is still there after the earlier detach
  await TmuxSession.run(berth('attach', '--detach-keys', 'ctrl-x,x', 'sess'), { width: 90, height: 25 }, async (t) => {
    await t.typeUntil('echo again-$((2+2))\n', /^again-4$/m);
    // the default keys are plain input now: they must not detach
    t.keys('C-p', 'C-q');
    // the shell took Ctrl-P as "previous command": clear its line; it still answers, so berth is attached
    t.keys('C-u');
    await t.typeUntil('echo still-$((5+5))\n', /^still-10$/m);
    assert.equal(t.exitStatus(), undefined);
    t.keys('C-x', 'x');
    assert.equal(await t.waitForExit(), 1);
    assert.match(t.capture(), /read escape sequence$/m);
  });
  assert.equal((await inspect('sess')).State.Running, true);

  // attached to the end: the container's exit status is attach's
  await TmuxSession.run(berth('attach', 'sess'), {}, async (t) => {
    await t.typeUntil('echo ready-$((3+4))\n', /^ready-7$/m);
    t.type('exit 7\n');
    assert.equal(await t.waitForExit(), 7);
  });
  assert.equal((await inspect('sess')).State.ExitCode, 7);

  const stopped = await d.berth(['attach', 'sess']);
  assert.equal(stopped.code, 1);
  assert.equal(stopped.stderr, 'You cannot attach to a stopped container, start it first\n');
});
