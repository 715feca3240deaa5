import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { TestDaemon } from '../helpers/daemon';

// Bad input on the interactive paths: the daemon and the container must come out unharmed.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

test('resize with absurd sizes is a 400; a missing container is a 404', async () => {
  const run = await d.berth(['run', '-dit', '--name', 'tty1', 'busybox', 'sh']);
  assert.equal(run.code, 0, run.stderr);
  const bad = await d.api('POST', '/containers/tty1/resize?h=-5&w=99999999');
  assert.equal(bad.status, 400, bad.body);
  assert.match(bad.json().message, /invalid terminal size/);
  const ok = await d.api('POST', '/containers/tty1/resize?h=30&w=100');
  assert.equal(ok.status, 200, ok.body);
  assert.equal((await d.api('POST', '/containers/nope/resize?h=30&w=100')).status, 404);
  assert.equal((await d.api('POST', '/exec/nope/resize?h=30&w=100')).status, 404);
  assert.equal((await d.berth(['exec', 'tty1', 'stty', 'size'])).code, 1, 'stty without a terminal fails, the container lives on');
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'tty1'])).stdout.trim(), 'true');
  await d.berth(['rm', '-f', 'tty1']);
});

test('binary output with no newline comes back byte for byte', async () => {
  const r = await d.berth(['run', '--name', 'bin', 'busybox', 'sh', '-c', 'printf "\\001\\002\\377abc"']);
  assert.equal(r.code, 0, r.stderr);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, path: '/containers/bin/logs?stdout=1' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.end();
  });
  // one multiplexed frame: [1, 0, 0, 0, length] then exactly the bytes written
  const payload = Buffer.from([1, 2, 255, 0x61, 0x62, 0x63]);
  assert.deepEqual(raw.subarray(0, 8), Buffer.from([1, 0, 0, 0, 0, 0, 0, payload.length]));
  assert.deepEqual(raw.subarray(8), payload);
  await d.berth(['rm', 'bin']);
});

test('a container that writes 100 MB of logs quickly leaves the daemon responsive', async () => {
  const r = await d.berth(['run', '-d', '--name', 'flood', 'busybox', 'sh', '-c', 'yes 0123456789012345678901234567890123456789012345678 | head -c 104857600; echo done'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  // while it writes, the API answers
  const ping = await d.api('GET', '/_ping');
  assert.equal(ping.status, 200);
  const waited = await d.berth(['wait', 'flood'], { timeoutMs: 120_000 });
  assert.equal(waited.stdout.trim(), '0');
  const tail = await d.berth(['logs', '--tail', '1', 'flood'], { timeoutMs: 120_000 });
  assert.equal(tail.stdout, 'done\n');
  await d.berth(['rm', 'flood']);
});

test('a client that disconnects mid-stream does not stop the container', async () => {
  const run = await d.berth(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.05; done']);
  assert.equal(run.code, 0, run.stderr);
  const follow = d.berth(['logs', '-f', 'talker'], { timeoutMs: 1500 });
  const attach = d.berth(['attach', 'talker'], { timeoutMs: 1500 });
  const second = d.berth(['attach', 'talker'], { timeoutMs: 1500 });
  const [, a1, a2] = await Promise.all([follow, attach, second]);
  // several clients may attach at once, each gets the output
  assert.match(a1.stdout, /tick/);
  assert.match(a2.stdout, /tick/);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'talker'])).stdout.trim(), 'true');
  assert.equal((await d.api('GET', '/_ping')).status, 200);
  await d.berth(['rm', '-f', 'talker']);
});

test('binary stdin passes whole through exec -i and run -i, the bytes of the detach keys included (no terminal)', async () => {
  // ctrl-p ctrl-q (the default detach keys) in the middle: without a terminal they are data, as with dockerd
  const data = Buffer.concat([Buffer.alloc(70_000, 0x41), Buffer.from([0x10, 0x11, 0x10, 0x11]), Buffer.alloc(70_000, 0x42)]);
  const digest = createHash('md5').update(data).digest('hex');
  const box = await d.berth(['run', '-d', '--name', 'stdinbox', 'busybox', 'sleep', '300']);
  assert.equal(box.code, 0, box.stderr);
  for (const client of ['berth', 'docker'] as const) {
    const exec = await d[client](['exec', '-i', 'stdinbox', 'md5sum'], { input: data });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout.split(' ')[0], digest, `${client} exec -i`);
  }
  const run = await d.docker(['run', '-i', '--rm', 'busybox', 'md5sum'], { input: data });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.split(' ')[0], digest, 'docker run -i');
  await d.berth(['rm', '-f', 'stdinbox']);
});

test('short execs in a row each return all of their output and their exit code', async () => {
  const box = await d.berth(['run', '-d', '--name', 'quickexec', 'busybox', 'sleep', '300']);
  assert.equal(box.code, 0, box.stderr);
  // an exec whose process ends before the daemon has read its pid is the case that lost output
  for (let i = 0; i < 40; i++) {
    const r = await d.docker(['exec', 'quickexec', 'sh', '-c', `echo out${i}; echo err${i} >&2; exit ${i % 3}`]);
    assert.equal(r.stdout, `out${i}\n`, `exec ${i}`);
    assert.equal(r.stderr, `err${i}\n`, `exec ${i}`);
    assert.equal(r.code, i % 3, `exec ${i}`);
  }
  // a background child that keeps the output pipes open does not hold the exec's end
  const bg = await d.docker(['exec', 'quickexec', 'sh', '-c', 'sleep 60 & echo started'], { timeoutMs: 20_000 });
  assert.equal(bg.stdout, 'started\n');
  assert.equal(bg.code, 0);
  await d.berth(['rm', '-f', 'quickexec']);
});
