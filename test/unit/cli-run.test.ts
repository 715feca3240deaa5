/**
 * Runs the berth CLI in-process against a tiny fake Engine API server on a temp
 * unix socket, to check the order of API calls `run` makes, stream handling and
 * exit statuses.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { encodeFrame } from '../../src/client/frames';
import { FakeEngine, json as sendJson, runCli } from '../helpers/fake-engine';

const ID = 'f'.repeat(64);

interface FakeState {
  log: string[];
  bodies: Record<string, unknown>[];
  attach?: Socket;
  stdinData: string;
  wait?: http.ServerResponse;
  exitCode: number;
  startError?: string;
  echoStdin: boolean;
}

const state: FakeState = { log: [], bodies: [], stdinData: '', exitCode: 0, echoStdin: false };
let dir: string;

function reset(partial: Partial<FakeState> = {}) {
  Object.assign(state, { log: [], bodies: [], attach: undefined, stdinData: '', wait: undefined, exitCode: 0, startError: undefined, echoStdin: false }, partial);
}

/** The container "runs": output on the attach stream, then exit reported to the waiter. */
function finishContainer() {
  const sock = state.attach;
  const done = () => {
    state.wait?.end(JSON.stringify({ StatusCode: state.exitCode, Error: null }));
  };
  if (!sock) return done();
  if (state.echoStdin) return; // finished when the client half-closes stdin
  sock.write(encodeFrame(1, 'hello from stdout\n'));
  sock.write(encodeFrame(2, 'and stderr\n'));
  sock.end(done);
}

const engine = new FakeEngine('berth-cli-run-', (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname.replace(/^\/v[0-9.]+/, '');
  state.log.push(`${req.method} ${path}${url.search}`);
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const json = (status: number, o: unknown) => sendJson(res, status, o);
    if (req.method === 'POST' && path === '/containers/create') {
      const parsed = JSON.parse(body) as { Image: string };
      state.bodies.push(parsed);
      if (parsed.Image === 'missing') return json(404, { message: 'No such image: missing:latest' });
      return json(201, { Id: ID, Warnings: [] });
    }
    if (req.method === 'POST' && path === `/containers/${ID}/wait`) {
      // Like dockerd: headers at once, the body when the container exits.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      state.wait = res;
      return;
    }
    if (req.method === 'POST' && path === `/containers/${ID}/start`) {
      if (state.startError) return json(400, { message: state.startError });
      res.writeHead(204);
      res.end();
      setImmediate(finishContainer);
      return;
    }
    if (req.method === 'POST' && path === '/images/create' && url.searchParams.has('fromImage')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(JSON.stringify({ status: 'Pulling from library/missing', id: 'latest' }) + '\r\n');
      res.end(JSON.stringify({ errorDetail: { message: 'pull access denied for missing' }, error: 'pull access denied for missing' }) + '\r\n');
      return;
    }
    if (req.method === 'GET' && path === '/containers/web/json') return json(200, { Id: ID, Name: '/web', Config: { Tty: false, Labels: { a: 'b' } }, State: { Status: 'running' } });
    if (req.method === 'GET' && path === `/containers/${ID}/logs`) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      res.write(encodeFrame(1, 'line one\n').subarray(0, 5));
      res.end(Buffer.concat([encodeFrame(1, 'line one\n').subarray(5), encodeFrame(2, 'err line\n')]));
      return;
    }
    if (req.method === 'POST' && path === '/images/create' && url.searchParams.get('fromSrc') === '-') {
      state.bodies.push({ tarBytes: body.length, contentType: req.headers['content-type'] });
      return json(200, { status: 'sha256:' + 'a'.repeat(64) });
    }
    if (req.method === 'GET' && path === '/containers/json') {
      return json(200, [{ Id: ID, Names: ['/web'], Image: 'busybox', Command: 'sh', Created: Math.floor(Date.now() / 1000) - 5, State: 'running', Status: 'Up 5 seconds', Ports: [] }]);
    }
    json(404, { message: 'page not found' });
  });
});
engine.server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
  const url = new URL(req.url ?? '/', 'http://x');
  state.log.push(`${req.method} ${url.pathname.replace(/^\/v[0-9.]+/, '')}${url.search} (upgrade)`);
  socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  state.attach = socket;
  const echo = state.echoStdin; // this connection's behaviour, whatever later tests set
  socket.on('data', (c: Buffer) => (state.stdinData += c.toString()));
  socket.on('end', () => {
    // The client closed its write side: stdin is over. Echo it back, then exit.
    if (!echo) return;
    socket.write(encodeFrame(1, `got: ${state.stdinData}`));
    socket.end(() => state.wait?.end(JSON.stringify({ StatusCode: state.exitCode, Error: null })));
  });
});

before(async () => {
  ({ dir } = await engine.listen());
});

after(() => engine.stop());

function berth(args: string[], opts: { host?: string; stdin?: PassThrough } = {}) {
  return runCli(args, { stdin: opts.stdin, host: opts.host ?? engine.host });
}

test('run: create → attach → wait → start, output demultiplexed, exits with the status code', async () => {
  reset({ exitCode: 3 });
  const r = await berth(['run', '--name', 'web', 'busybox', 'sh', '-c', 'echo hi']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'hello from stdout\n');
  assert.equal(r.stderr, 'and stderr\n');
  assert.deepEqual(state.log, [
    'POST /containers/create?name=web',
    `POST /containers/${ID}/attach?stream=1&stdout=1&stderr=1 (upgrade)`,
    `POST /containers/${ID}/wait?condition=next-exit`,
    `POST /containers/${ID}/start`,
  ]);
  const body = state.bodies[0] as { Cmd: string[]; AttachStdout: boolean; HostConfig: { AutoRemove: boolean } };
  assert.deepEqual(body.Cmd, ['sh', '-c', 'echo hi']);
  assert.equal(body.AttachStdout, true);
  assert.equal(body.HostConfig.AutoRemove, false);
});

test('run --rm waits for removal and sets AutoRemove', async () => {
  reset();
  const r = await berth(['run', '--rm', 'busybox']);
  assert.equal(r.code, 0);
  assert.ok(state.log.includes(`POST /containers/${ID}/wait?condition=removed`));
  assert.equal((state.bodies[0] as { HostConfig: { AutoRemove: boolean } }).HostConfig.AutoRemove, true);
});

test('run -i forwards stdin and half-closes the connection when stdin ends', async () => {
  reset({ echoStdin: true, exitCode: 0 });
  const stdin = new PassThrough();
  stdin.end('typed input\n');
  const r = await berth(['run', '-i', 'busybox', 'cat'], { stdin });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'got: typed input\n');
  assert.ok(state.log[1].includes('stdin=1'), state.log[1]);
  const body = state.bodies[0] as { OpenStdin: boolean; StdinOnce: boolean; AttachStdin: boolean };
  assert.deepEqual([body.OpenStdin, body.StdinOnce, body.AttachStdin], [true, true, true]);
});

test('run -d creates and starts without attaching, printing the full ID', async () => {
  reset();
  const r = await berth(['run', '-d', 'busybox', 'sleep', '100']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${ID}\n`);
  assert.deepEqual(state.log, ['POST /containers/create', `POST /containers/${ID}/start`]);
});

test('run of a missing image pulls it; a failed pull exits 125', async () => {
  reset();
  const r = await berth(['run', 'missing']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^Unable to find image 'missing:latest' locally\n/);
  assert.match(r.stderr, /berth: pull access denied for missing\n\nRun 'berth run --help' for more information\n$/);
  assert.ok(state.log.includes('POST /images/create?fromImage=docker.io%2Flibrary%2Fmissing&tag=latest'), state.log.join('\n'));
});

test('start failures map to docker exit statuses', async () => {
  reset({ startError: 'failed to create task: exec: "nope": executable file not found in $PATH' });
  let r = await berth(['run', 'busybox', 'nope']);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /^berth: Error response from daemon: failed to create task: exec: "nope": executable file not found in \$PATH\n/);
  reset({ startError: 'exec /etc: permission denied' });
  r = await berth(['run', 'busybox', '/etc']);
  assert.equal(r.code, 126);
  reset({ startError: 'something else broke' });
  r = await berth(['run', '-d', 'busybox']);
  assert.equal(r.code, 125);
});

test('an unreachable daemon is named, with docker exit statuses', async () => {
  const host = `unix://${join(dir, 'nobody-here.sock')}`;
  let r = await berth(['ps'], { host });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `Cannot connect to the berth daemon at ${host}. Is berthd running?\n`);
  r = await berth(['run', 'busybox'], { host });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^berth: Cannot connect to the berth daemon at .*nobody-here\.sock\. Is berthd running\?\n\nRun 'berth run --help'/);
});

test('ps passes filters as JSON and prints the table', async () => {
  reset();
  const r = await berth(['ps', '-a', '--filter', 'name=web', '--filter', 'status=running']);
  assert.equal(r.code, 0);
  assert.equal(state.log[0], `GET /containers/json?all=1&filters=${encodeURIComponent('{"name":["web"],"status":["running"]}')}`);
  assert.match(r.stdout, /^CONTAINER ID   IMAGE     COMMAND   CREATED         STATUS         PORTS     NAMES\nffffffffffff   busybox   "sh"      \d seconds ago   Up 5 seconds             web\n$/);
});

test('bad flag values exit 125 with the usage hint', async () => {
  const r = await berth(['run', '-m', 'lots', 'busybox']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n`);
});

test('logs: inspect for the TTY setting, then demultiplex the log stream', async () => {
  reset();
  const r = await berth(['logs', '--tail', '10', '-t', 'web']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'line one\n');
  assert.equal(r.stderr, 'err line\n');
  assert.deepEqual(state.log, ['GET /containers/web/json', `GET /containers/${ID}/logs?stdout=1&stderr=1&timestamps=1&tail=10`]);
});

test('inspect prints a 4-space indented array; -f applies a template', async () => {
  reset();
  let r = await berth(['inspect', 'web']);
  assert.equal(r.code, 0);
  assert.ok(r.stdout.startsWith('[\n    {\n        "Id": "ffff'), r.stdout);
  r = await berth(['inspect', '-f', '{{.State.Status}} {{index .Config.Labels "a"}}', 'web']);
  assert.equal(r.stdout, 'running b\n');
  r = await berth(['container', 'inspect', 'nope']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '[]\n');
});

test('import streams the tar from stdin with repo, tag and changes in the query', async () => {
  reset();
  const stdin = new PassThrough();
  stdin.end(Buffer.alloc(1024, 1));
  const r = await berth(['import', '-c', 'CMD ["/bin/sh"]', '-m', 'hi', '-', 'myimg:v1'], { stdin });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `sha256:${'a'.repeat(64)}\n`);
  const url = new URL(state.log[0].split(' ')[1], 'http://x');
  assert.equal(url.searchParams.get('fromSrc'), '-');
  assert.equal(url.searchParams.get('repo'), 'myimg');
  assert.equal(url.searchParams.get('tag'), 'v1');
  assert.equal(url.searchParams.get('message'), 'hi');
  assert.deepEqual(url.searchParams.getAll('changes'), ['CMD ["/bin/sh"]']);
  assert.deepEqual(state.bodies[0], { tarBytes: 1024, contentType: 'application/x-tar' });
});
