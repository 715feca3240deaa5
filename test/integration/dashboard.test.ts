/**
 * The dashboard's door, over HTTP (the browser test drives the pages): a one-time login link
 * from `berth dashboard`, a session cookie, 401 without it, CSRF and origin checks on anything
 * that changes something, the Engine API behind /api, and the terminal's WebSocket.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import WebSocket from 'ws';
import { TestDaemon } from '../helpers/daemon';
import { NetnsRelay } from '../helpers/raw-http';

const PORT = 9880;
const ORIGIN = `http://127.0.0.1:${PORT}`;
let d: TestDaemon;
let relay: NetnsRelay;

before(async () => {
  d = await TestDaemon.start(['--dashboard', `127.0.0.1:${PORT}`]);
  relay = await NetnsRelay.start(d.netns, '127.0.0.1', PORT);
});
after(async () => {
  await relay?.stop();
  await d?.cleanup();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request to the dashboard, as a browser on 127.0.0.1:9880 would send it. */
function dash(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: relay.socketPath, method, path, headers: { host: `127.0.0.1:${PORT}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function login(): Promise<{ cookie: string; csrf: string }> {
  const link = await d.berth(['dashboard']);
  assert.equal(link.code, 0, link.stderr);
  const url = new URL(link.stdout.trim());
  const r = await dash('GET', url.pathname + url.search);
  assert.equal(r.status, 303);
  const cookie = String(r.headers['set-cookie']).split(';')[0];
  const s = await dash('GET', '/session', { cookie });
  assert.equal(s.status, 200);
  return { cookie, csrf: JSON.parse(s.body).csrf };
}

test('berth dashboard prints a one-time link; it sets a strict session cookie and works once', async () => {
  const link = await d.berth(['dashboard']);
  assert.equal(link.code, 0, link.stderr);
  assert.match(link.stdout, /^http:\/\/127\.0\.0\.1:9880\/\?token=[A-Za-z0-9_-]{40,}\n$/);
  const url = new URL(link.stdout.trim());
  const first = await dash('GET', url.pathname + url.search);
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, '/');
  const cookie = String(first.headers['set-cookie']);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, 'plain HTTP on loopback');
  const again = await dash('GET', url.pathname + url.search);
  assert.equal(again.status, 401, 'a token is spent once used');
  assert.equal((await dash('GET', '/?token=made-up')).status, 401);
});

test('nothing without a session; pages carry anti-framing headers and a strict CSP', async () => {
  const none = await dash('GET', '/api/containers/json');
  assert.equal(none.status, 401);
  assert.equal((await dash('GET', '/session')).status, 401);
  assert.equal((await dash('POST', '/api/containers/create', { 'content-type': 'application/json', origin: ORIGIN }, '{"Image":"busybox"}')).status, 401);
  assert.equal((await dash('GET', '/api/containers/json', { cookie: 'berth_dashboard=forged' })).status, 401);
  const page = await dash('GET', '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<script type="module" src="\/assets\/main.js">/);
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'(;|$)/);
  const js = await dash('GET', '/assets/main.js');
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-type']), /javascript/);
});

test('with a session, /api is the Engine API; changes need the CSRF header and our origin', async () => {
  const { cookie, csrf } = await login();
  const list = await dash('GET', '/api/containers/json?all=1', { cookie });
  assert.equal(list.status, 200);
  assert.ok(Array.isArray(JSON.parse(list.body)));
  const info = JSON.parse((await dash('GET', '/api/info', { cookie })).body);
  const direct = (await d.api('GET', '/info')).json();
  assert.equal(info.ID, direct.ID, 'the same daemon, through the same route');

  const create = (headers: Record<string, string>) => dash('POST', '/api/containers/create?name=viadash', { cookie, 'content-type': 'application/json', ...headers }, JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '1000'] }));
  assert.equal((await create({ origin: ORIGIN })).status, 403, 'no CSRF header');
  assert.equal((await create({ origin: 'http://evil.example', 'x-berth-csrf': csrf })).status, 403, 'foreign origin');
  assert.equal((await create({ 'x-berth-csrf': csrf })).status, 403, 'no origin');
  assert.equal((await create({ origin: ORIGIN, 'x-berth-csrf': `${csrf}x` })).status, 403, 'wrong CSRF token');
  const made = await create({ origin: ORIGIN, 'x-berth-csrf': csrf });
  assert.equal(made.status, 201, made.body);
  const ps = await d.berth(['ps', '-a', '--format', '{{.Names}}']);
  assert.match(ps.stdout, /^viadash$/m);
  // berth's own endpoints are for the socket's users only
  assert.equal((await dash('POST', '/api/berth/dashboard/login-tokens', { cookie, origin: ORIGIN, 'x-berth-csrf': csrf })).status, 404);
  // logging out ends the session
  assert.equal((await dash('POST', '/logout', { cookie, origin: ORIGIN, 'x-berth-csrf': csrf })).status, 200);
  assert.equal((await dash('GET', '/api/containers/json', { cookie })).status, 401);
});

function openTerminal(path: string, headers: Record<string, string>): WebSocket {
  return new WebSocket(`ws+unix://${relay.socketPath}:${path}`, { headers: { host: `127.0.0.1:${PORT}`, ...headers } });
}

function refusal(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => resolve(101));
    ws.on('error', () => undefined);
  });
}

test('the terminal is an exec with a TTY over a WebSocket, refused without session, origin or CSRF', async () => {
  const run = await d.berth(['run', '-d', '--name', 'term', 'busybox', 'sleep', '1000']);
  assert.equal(run.code, 0, run.stderr);
  const { cookie, csrf } = await login();
  const exec = await dash('POST', '/api/containers/term/exec', { cookie, origin: ORIGIN, 'x-berth-csrf': csrf, 'content-type': 'application/json' }, JSON.stringify({ AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['/bin/sh'] }));
  assert.equal(exec.status, 201, exec.body);
  const id = JSON.parse(exec.body).Id as string;
  assert.equal(await refusal(openTerminal(`/terminal?exec=${id}&csrf=${csrf}`, { origin: ORIGIN })), 401);
  assert.equal(await refusal(openTerminal(`/terminal?exec=${id}&csrf=${csrf}`, { cookie, origin: 'http://evil.example' })), 403);
  assert.equal(await refusal(openTerminal(`/terminal?exec=${id}&csrf=nope`, { cookie, origin: ORIGIN })), 403);

  const ws = openTerminal(`/terminal?exec=${id}&csrf=${encodeURIComponent(csrf)}`, { cookie, origin: ORIGIN });
  let seen = '';
  ws.on('message', (m: Buffer) => (seen += m.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ resize: [100, 30] }));
  ws.send(Buffer.from('tty; echo hi-$((6*7))\n'));
  const deadline = Date.now() + 10_000;
  while (!/hi-42/.test(seen) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(seen, /hi-42/);
  assert.match(seen, /\/dev\/pts\/\d+/, 'a real TTY');
  const closed = new Promise((r) => ws.once('close', r));
  ws.send(Buffer.from('exit\n'));
  await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error('the terminal did not close when the shell exited')), 10_000))]);
  const inspected = (await d.api('GET', `/exec/${id}/json`)).json();
  assert.equal(inspected.Running, false);
});

test('the terminal: a size sent before the exec runs is applied, Ctrl-C reaches the foreground process', async () => {
  const run = await d.berth(['run', '-d', '--name', 'term-keys', 'busybox', 'sleep', '1000']);
  assert.equal(run.code, 0, run.stderr);
  const { cookie, csrf } = await login();
  const exec = await dash('POST', '/api/containers/term-keys/exec', { cookie, origin: ORIGIN, 'x-berth-csrf': csrf, 'content-type': 'application/json' }, JSON.stringify({ AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: ['/bin/sh'] }));
  assert.equal(exec.status, 201, exec.body);
  const id = JSON.parse(exec.body).Id as string;
  const ws = openTerminal(`/terminal?exec=${id}&csrf=${encodeURIComponent(csrf)}`, { cookie, origin: ORIGIN });
  let seen = '';
  ws.on('message', (m: Buffer) => (seen += m.toString()));
  const waitFor = async (re: RegExp, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!re.test(seen) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(seen, re, what);
  };
  await new Promise<void>((resolve, reject) => {
    // as the page does: its size at once, while the daemon is still starting the exec
    ws.once('open', () => resolve(ws.send(JSON.stringify({ resize: [123, 45] }))));
    ws.once('error', reject);
  });
  // the size is applied once the exec runs: asked until it shows (a loaded machine may let the
  // shell read the first question before)
  for (let i = 0; i < 50 && !/^45 123\r?$/m.test(seen); i++) {
    ws.send(Buffer.from('stty size\n'));
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(/^45 123\r?$/m, 'the size asked before the start');
  ws.send(JSON.stringify({ resize: [90, 20] }));
  // the size comes before the next command only if the resize is done: asked until it is
  for (let i = 0; i < 50 && !/^20 90\r?$/m.test(seen); i++) {
    ws.send(Buffer.from('stty size\n'));
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(/^20 90\r?$/m, 'a resize of the running terminal');
  // a process of its own in the foreground (busybox's shell runs its own sleep in-process)
  ws.send(Buffer.from('sh -c "echo sleeping; sleep 100"\n'));
  await waitFor(/^sleeping\r?$/m, 'the foreground process runs');
  ws.send(Buffer.from([0x03]));
  ws.send(Buffer.from('echo after-$((40+2))\n'));
  await waitFor(/^after-42\r?$/m, 'Ctrl-C ended the foreground process (within 10 s, not 100)');
  const closed = new Promise((r) => ws.once('close', r));
  ws.send(Buffer.from('exit\n'));
  await Promise.race([closed, new Promise((_r, reject) => setTimeout(() => reject(new Error('the terminal did not close when the shell exited')), 10_000))]);
});

test('malformed request targets are refused, and the listener carries on', async () => {
  for (const target of ['//evil.example/api/containers/json', 'http://127.0.0.1:9880/api/containers/json', '*']) {
    const r = await dash('GET', target);
    assert.equal(r.status, 400, target);
  }
  assert.equal((await dash('GET', '/session')).status, 401);
});
