import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { until } from '../helpers/wait';

// The events stream: live, filtered, and replayed from a journal that survives a restart.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

/** Waits until the wall clock is in a later whole second than now: `until` in seconds then covers what happened so far. */
async function nextSecond(): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  await until('the next second', async () => (Math.floor(Date.now() / 1000) > second ? true : undefined), 5_000);
}

test('a live stream gets the container lifecycle, filtered as asked', async () => {
  const child = spawn(BERTH, ['-H', d.host, 'events', '--filter', 'type=container', '--filter', 'event=start', '--filter', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  try {
    // the CLI prints nothing until an event comes: a probe container's events, once they
    // arrive, show that the subscription is in place
    await until('the events subscription to be in place', async () => {
      assert.equal((await d.berth(['run', '--rm', '--name', 'ev0', 'busybox', 'true'])).code, 0);
      return out.includes('die ev0\n') ? true : undefined;
    });
    out = '';
    assert.equal((await d.berth(['run', '--rm', '--name', 'ev1', 'busybox', 'true'])).code, 0);
    await until('die ev1', async () => (out.includes('die ev1') ? true : undefined), 10_000);
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
  await nextSecond();
  const replay = async () => (await d.berth(['events', '--since', String(t0), '--until', '0s', '--format', '{{.Type}} {{.Action}}', '--filter', 'container=ev2', '--filter', 'type=container'])).stdout;
  assert.equal(await replay(), 'container create\ncontainer attach\ncontainer start\ncontainer die\ncontainer destroy\n');
  const net = await d.berth(['events', '--since', String(t0), '--until', '0s', '--filter', 'type=network', '--filter', 'event=create']);
  assert.match(net.stdout, /network create [0-9a-f]{64} \(name=evnet, type=bridge\)/);

  await d.stopProcess('SIGKILL');
  await fsp.appendFile(path.join(d.dataRoot, 'events.jsonl'), '{"half a line\n');
  await d.startProcess();
  assert.equal(await replay(), 'container create\ncontainer attach\ncontainer start\ncontainer die\ncontainer destroy\n');
  assert.match(d.output, /events journal: skipped 1 unreadable line/);

  const bad = await d.api('GET', '/events?since=yesterday-ish');
  assert.equal(bad.status, 400);
  const backwards = await d.api('GET', `/events?since=${t0 + 100}&until=${t0}`);
  assert.equal(backwards.status, 400);
});

test('container events carry the container\'s labels (a label filter finds them) and exec, top and export have events of their own', async () => {
  const t0 = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await d.berth(['run', '-d', '--name', 'evlab', '--label', 'tier=web', '--label', 'name=not-the-name', 'busybox', 'sleep', '300'])).code, 0);
  assert.equal((await d.berth(['exec', 'evlab', 'sh', '-c', 'exit 3'])).code, 3);
  assert.equal((await d.berth(['top', 'evlab'])).code, 0);
  assert.equal((await d.berth(['export', '-o', path.join(d.dataRoot, 'evlab.tar'), 'evlab'])).code, 0);
  assert.equal((await d.berth(['rm', '-f', 'evlab'])).code, 0);
  assert.equal((await d.berth(['run', '--rm', '--name', 'evplain', 'busybox', 'true'])).code, 0);
  await nextSecond();
  const r = await d.berth(['events', '--since', String(t0), '--until', '0s', '--filter', 'label=tier=web', '--format', '{{.Action}}|{{.Actor.Attributes.name}}|{{.Actor.Attributes.tier}}|{{.Actor.Attributes.exitCode}}']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  // the container's name wins over a label of the same key, as in dockerd
  assert.ok(lines.every((l) => l.split('|')[1] === 'evlab' && l.split('|')[2] === 'web'), r.stdout);
  const actions = lines.map((l) => l.split('|')[0]);
  for (const a of ['create', 'start', 'exec_create: sh -c exit 3', 'exec_start: sh -c exit 3', 'exec_die', 'top', 'export', 'kill', 'die', 'destroy']) assert.ok(actions.includes(a), `${a} in ${r.stdout}`);
  assert.ok(lines.includes('exec_die|evlab|web|3'), r.stdout);
  const execs = await d.berth(['events', '--since', String(t0), '--until', '0s', '--filter', 'event=exec_start', '--format', '{{.Actor.Attributes.name}}']);
  assert.equal(execs.stdout, 'evlab\n');
});

test('image events name the image and carry its labels, as in dockerd', async () => {
  const t0 = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await d.berth(['create', '--name', 'evimg', 'busybox', 'true'])).code, 0);
  const c = await d.berth(['commit', '--change', 'LABEL team=blue', 'evimg', 'evimg:1']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  assert.equal((await d.berth(['tag', 'evimg:1', 'evimg:2'])).code, 0);
  assert.equal((await d.berth(['rm', 'evimg'])).code, 0);
  assert.equal((await d.berth(['rmi', 'evimg:1', 'evimg:2'])).code, 0);
  await nextSecond();
  const r = await d.berth(['events', '--since', String(t0), '--until', '0s', '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.team}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [`tag ${id} evimg:2 blue`, `untag ${id} ${id} blue`, `untag ${id} ${id} blue`, `delete ${id} ${id} <no value>`, ''].join('\n'));
});

test('the docker CLI reads the same stream', async () => {
  const t0 = Math.floor(Date.now() / 1000) - 1;
  assert.equal((await d.berth(['volume', 'create', 'evvol'])).code, 0);
  // the docker CLI sends `until` in whole seconds: let the event's second pass
  await nextSecond();
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
  const old = await d.berth(['inspect', 'before']);
  assert.equal(old.code, 1);
  assert.equal(old.stderr.trim(), 'Error: No such object: before');
  // the embedded DNS answers the new name with the container's address, and no longer the old one
  const ip = (await d.berth(['inspect', '-f', '{{.NetworkSettings.Networks.rnet.IPAddress}}', 'after'])).stdout.trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
  const dns = await d.berth(['run', '--rm', '--network', 'rnet', 'busybox', 'nslookup', 'after']);
  assert.equal(dns.code, 0, dns.stdout + dns.stderr);
  assert.match(dns.stdout, new RegExp(`^Name:\\s+after(\\.\\S*)?\\nAddress: ${ip.replace(/\./g, '\\.')}$`, 'm'), dns.stdout);
  const oldDns = await d.berth(['run', '--rm', '--network', 'rnet', 'busybox', 'nslookup', 'before']);
  assert.equal(oldDns.code, 1, oldDns.stdout + oldDns.stderr);
  // not a name of the network: forwarded upstream, which this namespace cannot reach (SERVFAIL, as Docker's resolver answers)
  assert.match(oldDns.stdout, /^\*\* server can't find before: SERVFAIL$/m);
  assert.doesNotMatch(oldDns.stdout, new RegExp(ip.replace(/\./g, '\\.')));
  const clash = await d.berth(['rename', 'after', 'other']);
  assert.equal(clash.code, 1);
  assert.match(clash.stderr, /The container name "\/other" is already in use/);
  assert.equal((await d.berth(['inspect', '-f', '{{.Name}}', 'after'])).stdout.trim(), '/after', 'a clash changes nothing');
  const bad = await d.berth(['rename', 'after', 'bad name!']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim(), 'Error response from daemon: Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
  const same = await d.api('POST', '/containers/after/rename?name=after');
  assert.equal(same.status, 400);
  assert.deepEqual(same.json(), { message: 'Renaming a container with the same name as its current name' });
  assert.equal((await d.berth(['inspect', '-f', '{{.Name}}', 'after'])).stdout.trim(), '/after', 'refused renames change nothing');
  const ev = await d.berth(['events', '--since', '60s', '--until', `${Math.floor(Date.now() / 1000) + 1}`, '--filter', 'event=rename', '--format', '{{.Actor.Attributes.oldName}} {{.Actor.Attributes.name}}']);
  assert.equal(ev.stdout, '/before after\n');
  assert.equal((await d.berth(['rm', '-f', 'after', 'other'])).code, 0);
});
