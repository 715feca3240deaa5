import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';

// The events stream: live, filtered, and replayed from a journal that survives a restart.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('a live stream gets the container lifecycle, filtered as asked', async () => {
  const child = spawn(process.execPath, [BERTH, '-H', d.host, 'events', '--filter', 'type=container', '--filter', 'event=start', '--filter', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  try {
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await d.berth(['run', '--rm', '--name', 'ev1', 'busybox', 'true'])).code, 0);
    for (let i = 0; i < 40 && !out.includes('die ev1'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(out, 'start ev1\ndie ev1\n');
  } finally {
    child.kill('SIGKILL');
  }
});

test('since/until replay past events, also after a restart; a corrupt journal line is skipped', async () => {
  const t0 = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await d.berth(['run', '--name', 'ev2', 'busybox', 'true'])).code, 0);
  assert.equal((await d.berth(['rm', 'ev2'])).code, 0);
  assert.equal((await d.berth(['network', 'create', 'evnet'])).code, 0);
  await new Promise((r) => setTimeout(r, 1100));
  const replay = async () => (await d.berth(['events', '--since', String(t0), '--until', '0s', '--format', '{{.Type}} {{.Action}}', '--filter', 'container=ev2', '--filter', 'type=container'])).stdout;
  assert.equal(await replay(), 'container create\ncontainer start\ncontainer die\ncontainer destroy\n');
  const net = await d.berth(['events', '--since', String(t0), '--until', '0s', '--filter', 'type=network', '--filter', 'event=create']);
  assert.match(net.stdout, /network create [0-9a-f]{64} \(name=evnet, type=bridge\)/);

  await d.stopProcess('SIGKILL');
  await fsp.appendFile(path.join(d.dataRoot, 'events.jsonl'), '{"half a line\n');
  await d.startProcess();
  assert.equal(await replay(), 'container create\ncontainer start\ncontainer die\ncontainer destroy\n');
  assert.match(d.output, /events journal: skipped 1 unreadable line/);

  const bad = await d.api('GET', '/events?since=yesterday-ish');
  assert.equal(bad.status, 400);
  const backwards = await d.api('GET', `/events?since=${t0 + 100}&until=${t0}`);
  assert.equal(backwards.status, 400);
});

test('the docker CLI reads the same stream', async () => {
  const t0 = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await d.berth(['volume', 'create', 'evvol'])).code, 0);
  // the docker CLI sends `until` in whole seconds: let the event's second pass
  await new Promise((r) => setTimeout(r, 1100));
  const r = await d.docker(['events', '--since', String(t0), '--until', '0s', '--filter', 'type=volume']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /volume create evvol \(driver=local\)/);
});

test('rename: the new name is the container\'s everywhere (DNS included); clashes and empty names are refused', async () => {
  assert.equal((await d.berth(['network', 'create', 'rnet'])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--network', 'rnet', '--name', 'before', 'busybox', 'sleep', '300'])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--name', 'other', 'busybox', 'sleep', '300'])).code, 0);
  const r = await d.berth(['rename', 'before', 'after']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d.berth(['inspect', '-f', '{{.Name}}', 'after'])).stdout.trim(), '/after');
  assert.notEqual((await d.berth(['inspect', 'before'])).code, 0);
  const dns = await d.berth(['run', '--rm', '--network', 'rnet', 'busybox', 'nslookup', 'after']);
  assert.match(dns.stdout, /Address: \d+\.\d+\.\d+\.\d+/, dns.stdout + dns.stderr);
  const clash = await d.berth(['rename', 'after', 'other']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /The container name "\/other" is already in use/);
  assert.equal((await d.berth(['inspect', '-f', '{{.Name}}', 'after'])).stdout.trim(), '/after', 'a clash changes nothing');
  const bad = await d.berth(['rename', 'after', 'bad name!']);
  assert.match(bad.stderr, /Invalid container name/);
  const same = await d.api('POST', '/containers/after/rename?name=after');
  assert.equal(same.status, 400);
  const ev = await d.berth(['events', '--since', '60s', '--until', `${Math.floor(Date.now() / 1000) + 1}`, '--filter', 'event=rename', '--format', '{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}']);
  assert.equal(ev.stdout, '/before after\n');
  assert.equal((await d.berth(['rm', '-f', 'after', 'other'])).code, 0);
});
