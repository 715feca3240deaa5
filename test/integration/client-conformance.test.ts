import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { TestDaemon } from '../helpers/daemon';
import { until } from '../helpers/wait';
import * as tar from 'tar-stream';

// Behaviours docker-py's own suite relies on (test/e2e/docker-py.test.ts runs the suite itself),
// each checked here on its own so a regression names its cause.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
});
after(async () => {
  await d?.cleanup();
});

async function runningContainer(cmd: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: cmd, ...extra });
  assert.equal(c.status, 201, c.body);
  const id = c.json().Id as string;
  const s = await d.api('POST', `/containers/${id}/start`);
  assert.equal(s.status, 204, s.body);
  return id;
}

/** Splits a multiplexed stream into its frames: [stream, payload]. */
function demux(body: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let at = 0; at + 8 <= body.length; ) {
    const size = body.readUInt32BE(at + 4);
    out.push([body[at], body.subarray(at + 8, at + 8 + size).toString()]);
    at += 8 + size;
  }
  return out;
}

/** POST with a JSON body, the answer read to its end as bytes (an exec start that is not hijacked). */
function postForBytes(path: string, body: unknown): Promise<{ status: number; head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(d.socket);
    const data = JSON.stringify(body);
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const all = Buffer.concat(chunks);
      const at = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, at).toString();
      let rest = all.subarray(at + 4);
      if (/transfer-encoding:\s*chunked/i.test(head)) {
        const parts: Buffer[] = [];
        for (;;) {
          const eol = rest.indexOf('\r\n');
          const size = parseInt(rest.subarray(0, eol).toString(), 16);
          if (!size) break;
          parts.push(rest.subarray(eol + 2, eol + 2 + size));
          rest = rest.subarray(eol + 2 + size + 2);
        }
        rest = Buffer.concat(parts);
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body: rest });
    });
    sock.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\nConnection: close\r\n\r\n${data}`);
  });
}

test('kill with SIGKILL answers once the container is dead: an inspect right after shows the exit', async () => {
  for (let round = 0; round < 3; round++) {
    const id = await runningContainer(['sleep', '300']);
    const k = await d.api('POST', `/containers/${id}/kill`);
    assert.equal(k.status, 204, k.body);
    const state = (await d.api('GET', `/containers/${id}/json`)).json().State;
    assert.equal(state.Running, false, `round ${round}: still running right after the kill`);
    assert.equal(state.ExitCode, 137);
    assert.equal(state.Status, 'exited');
  }
});

test('an exec created with a TTY runs on a pseudo-terminal even when its start does not say Tty', async () => {
  const id = await runningContainer(['sleep', '300']);
  const e = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'echo hello out; echo hello err >&2'], Tty: true, AttachStdout: true, AttachStderr: true });
  assert.equal(e.status, 201, e.body);
  // docker-py starts with Tty false by default: the framing is multiplexed, the terminal stays
  const r = await postForBytes(`/exec/${e.json().Id}/start`, { Detach: false, Tty: false });
  assert.equal(r.status, 200, r.head);
  const frames = demux(r.body);
  assert.deepEqual([...new Set(frames.map(([s]) => s))], [1], 'a terminal has one output stream');
  assert.equal(frames.map(([, t]) => t).join(''), 'hello out\r\nhello err\r\n');
});

test('the detach keys end an exec session at once and leave its process running', async () => {
  const id = await runningContainer(['sleep', '300']);
  const e = await d.api('POST', `/containers/${id}/exec`, { Cmd: ['cat'], Tty: true, AttachStdin: true, AttachStdout: true });
  const execId = e.json().Id as string;
  const sock = net.connect(d.socket);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  let got = '';
  const upgraded = new Promise<void>((resolve) =>
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) resolve();
    }),
  );
  sock.on('error', () => undefined);
  const body = JSON.stringify({ Detach: false, Tty: true });
  sock.write(`POST /exec/${execId}/start HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  await upgraded;
  assert.match(got, /^HTTP\/1\.1 101/);
  sock.write(Buffer.from([0x10, 0x11])); // ctrl-p ctrl-q, the default detach keys
  const ended = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
  sock.destroy();
  assert.ok(ended, 'the daemon did not end the session after the detach keys');
  const inspect = (await d.api('GET', `/exec/${execId}/json`)).json();
  assert.equal(inspect.Running, true, 'the exec process goes on after a detach');
});

test('LogConfig.Type defaults to json-file and is shown so, with the options kept', async () => {
  const given = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { LogConfig: { Type: '', Config: { 'max-file': '100' } } } });
  assert.equal(given.status, 201, given.body);
  const none = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'] });
  assert.equal(none.status, 201, none.body);
  assert.deepEqual((await d.api('GET', `/containers/${given.json().Id}/json`)).json().HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-file': '100' } });
  assert.deepEqual((await d.api('GET', `/containers/${none.json().Id}/json`)).json().HostConfig.LogConfig, { Type: 'json-file', Config: {} });
});

test('a committed image names the image it was committed on as its Parent', async () => {
  const c = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['touch', '/test'] });
  const id = c.json().Id as string;
  await d.api('POST', `/containers/${id}/start`);
  await until('the container to exit', async () => ((await d.api('GET', `/containers/${id}/json`)).json().State.Running ? undefined : true));
  const commit = await d.api('POST', `/commit?container=${id}`, {});
  assert.equal(commit.status, 201, commit.body);
  const img = (await d.api('GET', `/images/${commit.json().Id}/json`)).json();
  const busybox = (await d.api('GET', '/images/busybox/json')).json();
  assert.equal(img.Parent, busybox.Id);
  const listed = ((await d.api('GET', '/images/json')).json() as { Id: string; ParentId: string }[]).find((i) => i.Id === img.Id);
  assert.equal(listed?.ParentId, busybox.Id);
});

test('volume prune follows the client\'s API version: named volumes go before 1.42, only with all=true after', async () => {
  for (const name of ['prune-old', 'prune-new']) assert.equal((await d.api('POST', '/volumes/create', { Name: name })).status, 201);
  const recent = await d.api('POST', '/v1.50/volumes/prune');
  assert.equal(recent.status, 200, recent.body);
  assert.ok(!(recent.json().VolumesDeleted as string[]).includes('prune-new'), 'API 1.50 keeps named volumes');
  const old = await d.api('POST', '/v1.41/volumes/prune');
  assert.equal(old.status, 200, old.body);
  const deleted = old.json().VolumesDeleted as string[];
  assert.ok(deleted.includes('prune-old') && deleted.includes('prune-new'), `API 1.41 prunes named volumes too: ${deleted}`);
});

test('a build that fails before its first message is answered with an error status, not a 200', async () => {
  const r = await d.api('POST', '/build?t=a/b/c', Buffer.alloc(0));
  assert.equal(r.status >= 400, true, `status ${r.status}: ${r.body}`);
  assert.match(r.json().message, /Cannot locate specified Dockerfile: Dockerfile/);
});

test('a RUN step\'s stderr comes in the build stream wrapped in red, as Docker\'s classic builder sends it', async () => {
  const pack = tar.pack();
  pack.entry({ name: 'Dockerfile' }, 'FROM busybox\nRUN sh -c ">&2 echo to-stderr; echo to-stdout"\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const r = await d.api('POST', '/build?nocache=1', Buffer.concat(chunks));
  assert.equal(r.status, 200, r.body);
  const streams = r.body.split('\r\n').filter(Boolean).map((l) => JSON.parse(l).stream as string | undefined);
  assert.ok(streams.includes('\x1b[91mto-stderr\n\x1b[0m'), JSON.stringify(streams));
  assert.ok(streams.includes('to-stdout\n'), JSON.stringify(streams));
});

test('networks: free-text names, IPAM Options kept as sent (null when none), inspect narrowed by scope', async () => {
  const c = await d.api('POST', '/networks/create', { Name: 'test 01', IPAM: { Driver: 'default', Config: [{ Subnet: '172.28.0.0/16', Gateway: '172.28.5.254' }] } });
  assert.equal(c.status, 201, c.body);
  const got = await d.api('GET', '/networks/test%2001');
  assert.equal(got.status, 200, got.body);
  assert.equal(got.json().Name, 'test 01');
  assert.equal(got.json().IPAM.Options, null);
  assert.equal((await d.api('GET', '/networks/test%2001?scope=local')).status, 200);
  const wrongScope = await d.api('GET', '/networks/test%2001?scope=global');
  assert.equal(wrongScope.status, 404, wrongScope.body);
  assert.equal((await d.api('DELETE', '/networks/test%2001')).status, 204);
});
