import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseDashboardAddress, resolveDashboardSettings } from '../../src/dashboard/settings';
import { LoginTokens } from '../../src/dashboard/login-tokens';
import { csrfMatches, Sessions } from '../../src/dashboard/sessions';
import { isSameOrigin, readCookie, sessionCookie } from '../../src/dashboard/guard';
import { parseDaemonArgs } from '../../src/daemon/config';

test('dashboard addresses: ADDR:PORT, [v6]:PORT, a bare port is loopback; junk is refused', () => {
  assert.deepEqual(parseDashboardAddress('127.0.0.1:9880'), { host: '127.0.0.1', port: 9880 });
  assert.deepEqual(parseDashboardAddress('[::1]:9000'), { host: '::1', port: 9000 });
  assert.deepEqual(parseDashboardAddress('9880'), { host: '127.0.0.1', port: 9880 });
  for (const bad of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', 'example.com:80', 'x:y']) assert.throws(() => parseDashboardAddress(bad), bad);
});

test('the dashboard is off by default, and off loopback only with a certificate and key', async () => {
  assert.equal(resolveDashboardSettings({}, {}), undefined);
  assert.throws(() => resolveDashboardSettings({ address: '0.0.0.0:9880' }, {}), /without TLS/);
  assert.throws(() => resolveDashboardSettings({ address: '10.1.2.3:9880', tlsCert: '/c.pem' }, {}), /both/);
  assert.throws(() => resolveDashboardSettings({ tlsCert: '/c.pem', tlsKey: '/k.pem' }, {}), /need --dashboard/);
  assert.throws(() => resolveDashboardSettings({ address: '127.0.0.1:9880', tlsCa: '/ca.pem' }, {}), /cacert needs/);
  assert.throws(() => resolveDashboardSettings({ address: '127.0.0.1:9880' }, { tlsCa: 5 }), /dashboard-tls-cacert must be a string/);
  assert.deepEqual(resolveDashboardSettings({ address: '0.0.0.0:9880', tlsCert: '/c.pem', tlsKey: '/k.pem' }, {}), { host: '0.0.0.0', port: 9880, tlsCert: '/c.pem', tlsKey: '/k.pem' });
  // daemon.json's "dashboard" under the flag
  assert.deepEqual(resolveDashboardSettings({}, { address: 'localhost:1234' }), { host: 'localhost', port: 1234, tlsCert: undefined, tlsKey: undefined });
  assert.equal(resolveDashboardSettings({ address: '127.0.0.1:1' }, { address: 'localhost:1234' })?.port, 1);
  // through berthd's flag parser
  const cfg = await parseDaemonArgs(['--dashboard', '127.0.0.1:9880']);
  assert.ok(typeof cfg === 'object' && cfg.dashboard?.port === 9880);
  await assert.rejects(parseDaemonArgs(['--dashboard', '0.0.0.0:9880']), /refusing to serve the dashboard/);
});

test('a login token works once, and not after it expires', () => {
  let now = 1_000_000;
  const tokens = new LoginTokens(60_000, () => now);
  const a = tokens.issue();
  const b = tokens.issue();
  assert.notEqual(a.token, b.token);
  assert.ok(a.token.length >= 40);
  assert.equal(tokens.redeem('not-a-token'), false);
  assert.equal(tokens.redeem(a.token), true);
  assert.equal(tokens.redeem(a.token), false, 'single use');
  now += 60_001;
  assert.equal(tokens.redeem(b.token), false, 'expired');
  assert.equal(tokens.redeem(''), false);
});

test('sessions expire; the CSRF token must match exactly', () => {
  let now = 0;
  const sessions = new Sessions(1000, () => now);
  const { id, session } = sessions.create();
  assert.equal(sessions.get(id), session);
  assert.equal(sessions.get(`${id}x`), undefined);
  assert.equal(sessions.get(undefined), undefined);
  assert.ok(csrfMatches(session, session.csrf));
  assert.ok(!csrfMatches(session, session.csrf.slice(1)));
  assert.ok(!csrfMatches(session, undefined));
  now = 1001;
  assert.equal(sessions.get(id), undefined);
  const second = sessions.create();
  sessions.delete(second.id);
  assert.equal(sessions.get(second.id), undefined);
});

test('session cookies are HttpOnly and SameSite=Strict, Secure under TLS; only same-origin requests pass', () => {
  assert.match(sessionCookie('abc', false, 60), /^berth_dashboard=abc; Path=\/; HttpOnly; SameSite=Strict; Max-Age=60$/);
  assert.match(sessionCookie('abc', true, 60), /; Secure$/);
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  assert.equal(readCookie(req({ cookie: 'a=1; berth_dashboard=xyz; b=2' }), 'berth_dashboard'), 'xyz');
  assert.ok(isSameOrigin(req({ host: '127.0.0.1:9880', origin: 'http://127.0.0.1:9880' }), false));
  assert.ok(!isSameOrigin(req({ host: '127.0.0.1:9880', origin: 'http://evil.example' }), false));
  assert.ok(!isSameOrigin(req({ host: '127.0.0.1:9880', origin: 'http://127.0.0.1:9880' }), true), 'scheme matters');
  assert.ok(!isSameOrigin(req({ host: '127.0.0.1:9880' }), false), 'no Origin, no pass');
  assert.ok(!isSameOrigin(req({ host: '127.0.0.1:9880', origin: 'http://127.0.0.1:9880', 'sec-fetch-site': 'cross-site' }), false));
});

test('POST /berth/dashboard/login-tokens: 404 when the dashboard is off, else a token and its link', async () => {
  const { Router } = await import('../../src/api/router');
  const { registerDashboardRoutes } = await import('../../src/api/routes/dashboard');
  const { isBerthError } = await import('../../src/common/errors');
  let on: { tokens: LoginTokens; loginUrl: (t: string) => string } | undefined;
  const router = new Router();
  registerDashboardRoutes(router, () => on);
  const found = router.match('POST', '/berth/dashboard/login-tokens');
  assert.ok(found && found !== 'method-not-allowed');
  let status = 0;
  let body = '';
  const res = { req: { method: 'POST' }, writeHead: (s: number) => (status = s), setHeader: () => undefined, end: (b: string) => (body = b) };
  const ctx = { res, req: {}, params: {}, query: new URLSearchParams(), apiVersion: '1.50' } as never;
  await assert.rejects(async () => found.handler(ctx), (e: unknown) => isBerthError(e, 'NOT_FOUND') && /dashboard is off/.test((e as Error).message));
  on = { tokens: new LoginTokens(), loginUrl: (t) => `http://127.0.0.1:9880/?token=${t}` };
  await found.handler(ctx);
  assert.equal(status, 201);
  const answer = JSON.parse(body) as { Token: string; URL: string; ExpiresAt: string };
  assert.equal(answer.URL, `http://127.0.0.1:9880/?token=${answer.Token}`);
  assert.ok(on.tokens.redeem(answer.Token), 'the token it gave is live');
  assert.ok(Date.parse(answer.ExpiresAt) > Date.now());
});
