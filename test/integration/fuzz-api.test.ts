/**
 * The API fuzzer (issue 15): every route of the Engine API reference gets malformed paths,
 * queries and bodies, and berthd, berth-registry and a node's swarm port get raw malformed
 * HTTP. Properties: the processes stay up, no answer to bad input is a 500, berthd's memory
 * stays bounded, and afterwards `docker ps -a` and `GET /containers/json?all=1` still decode.
 *
 * Time: BERTH_FUZZ_SECONDS in all (60 by default, shared by the four targets); more on demand.
 * Replay: the seed is printed; BERTH_FUZZ_SEED=<seed> runs the same inputs again (the daemon's
 * state can make a replay differ a little: it is a live server, not a pure function).
 *
 * Nothing reaches outside: the daemon runs in a network namespace of its own with no route out,
 * and on top of that every input that names a host (fromImage, fromSrc, remote, repo, RemoteAddrs)
 * is confined to 127.0.0.1:1, where nothing listens.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { REPO, TestDaemon } from '../helpers/daemon';
import { LoopbackRegistry, NetnsRelay, rawExchange, rssBytes, tlsOverUnixConnect, unixConnect, type Connect } from '../helpers/raw-http';

interface Param {
  name: string;
  type: string;
  format?: string;
}
interface Route {
  method: string;
  path: string;
  operationId: string;
  pathParams: Param[];
  query: Param[];
  body?: { contentType: string; type: string; fields: Record<string, string> };
}

const ROUTES = (JSON.parse(readFileSync(path.join(REPO, 'test', 'fixtures', 'engine-api-routes.json'), 'utf8')) as { routes: Route[] }).routes
  // leaving the swarm would take the swarm port (one of the targets) away mid-run
  .filter((r) => r.operationId !== 'SwarmLeave');

const SECONDS = Number(process.env.BERTH_FUZZ_SECONDS ?? 60);
const SEED = process.env.BERTH_FUZZ_SEED ? Number(process.env.BERTH_FUZZ_SEED) : Date.now() % 2 ** 31;
/** BERTH_FUZZ_COLLECT=1: record every 500 and go on (to survey), instead of stopping at the first. */
const COLLECT = process.env.BERTH_FUZZ_COLLECT === '1';
const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;

/**
 * 500s from body validation, which issue 15 item 5 (one schema check per route at the API's
 * door) removes; that work lands from another branch. Until it is merged these are recorded,
 * not failed on. After the merge, empty this list: every 500 for bad input is then a failure.
 */
const KNOWN_500S: { operationId: RegExp; message: RegExp; why: string }[] = [];

/**
 * Not bad input: the one registry the daemon may reach, 127.0.0.1:1, is unreachable by
 * construction, and dockerd answers a pull or search it cannot connect for with a 500 as well.
 */
const UPSTREAM_UNREACHABLE = { operationId: /^(ImageSearch|ImageCreate|ImagePush|PluginPull|PluginUpgrade)$/, message: /127\.0\.0\.1:1.*connection refused/ };

/** Routes whose answer may rightly take longer than the wait: streams, and waits for a container. */
const SLOW_OK = new Set(['ContainerWait', 'ContainerAttach', 'ContainerAttachWebsocket', 'SystemEvents', 'ContainerLogs', 'ContainerStats', 'ExecStart', 'ImageBuild', 'ContainerStop', 'ContainerRestart', 'ContainerKill', 'ContainerExport', 'ImageGet', 'ImageGetAll', 'ContainerArchive', 'ImageCreate', 'ImagePush']);

let d: TestDaemon;
let registry: LoopbackRegistry;
let relay: NetnsRelay;
let berthd: Connect;
let swarm: Connect;
let realIds: string[] = [];
const findings: string[] = [];

before(async () => {
  d = await TestDaemon.start();
  berthd = unixConnect(d.socket);
  registry = await LoopbackRegistry.start();
  const init = await d.api('POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' });
  assert.equal(init.status, 200, init.body);
  relay = await NetnsRelay.start(d.netns, '127.0.0.1', 2377);
  swarm = tlsOverUnixConnect(relay.socketPath);
  // real things to name, so that malformed queries and bodies reach past the lookup
  const c = await d.api('POST', '/containers/create?name=fuzz-target', { Image: 'busybox', Cmd: ['sleep', '1000'] });
  assert.equal(c.status, 201, c.body);
  const v = await d.api('POST', '/volumes/create', { Name: 'fuzz-vol' });
  assert.equal(v.status, 201, v.body);
  const n = await d.api('POST', '/networks/create', { Name: 'fuzz-net' });
  assert.equal(n.status, 201, n.body);
  realIds = [c.json().Id, 'fuzz-target', 'busybox', 'fuzz-vol', n.json().Id, 'fuzz-net'];
  console.log(`fuzz: seed ${SEED}, ${SECONDS} s in all; replay with BERTH_FUZZ_SEED=${SEED} BERTH_FUZZ_SECONDS=${SECONDS}`);
});

after(async () => {
  if (findings.length) console.log(`fuzz findings (known or collected, not failed on):\n${findings.join('\n')}`);
  await relay?.stop();
  await registry?.stop();
  await d?.api('POST', '/swarm/leave?force=1').catch(() => undefined);
  await d?.cleanup();
});

// ---------------------------------------------------------------------------------------------
// generators

const hugeNumber = fc.constantFrom('99999999999999999999999999', '-1', '1e3', '1.9', '0x10', 'NaN', 'Infinity', '-0', '9007199254740993', '1e309');
const badJson = fc.constantFrom('{', '{"a":', 'null', '[]', '[1,2]', '"x"', '{"label":"x"}', '{"label":{"a":true}}', '{"until":["24h"]}', '{"until":["x"]}', '{"dangling":["maybe"]}', '{"__proto__":{"x":1}}', '{"status":[5]}', '{"id":[]}');
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const longText = fc.integer({ min: 1000, max: 70_000 }).map((n) => 'a'.repeat(n));

/** A path segment: a real name, or something a name should never be. Returned as sent (escaped or raw). */
const pathSegment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...['fuzz-target', 'busybox', 'fuzz-vol', 'fuzz-net']).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constant(null).map(() => encodeURIComponent(realIds[0])) },
  { weight: 3, arbitrary: fc.constantFrom('', '.', '..', '%2e%2e', '%2F', '%00', 'x%00y', '%zz', '%ff%fe', '%', 'a%2', '..%2F..%2Fetc%2Fpasswd', '%u0041', '*', ';', 'busybox:latest', 'sha256:', 'sha256:' + '0'.repeat(64), '0'.repeat(64), 'a:b:c', 'A', '-', 'ééé') },
  { weight: 2, arbitrary: anyText.map(encodeURIComponent) },
  { weight: 1, arbitrary: longText },
);

/** A query value of the right type most of the time and of the wrong one often. */
function queryValue(p: Param): fc.Arbitrary<string> {
  const right =
    p.type === 'integer' || p.type === 'number'
      ? fc.integer().map(String)
      : p.type === 'boolean'
        ? fc.constantFrom('1', '0', 'true', 'false', 'True')
        : p.name === 'filters'
          ? fc.dictionary(fc.constantFrom('label', 'name', 'id', 'status', 'until', 'dangling', 'before', 'since', 'reference', 'driver', 'type', 'scope', 'x'), fc.array(anyText, { maxLength: 3 })).map((o) => JSON.stringify(o))
          : anyText;
  return fc.oneof(right, hugeNumber, badJson, anyText, longText, fc.constant(''));
}

function queryOf(route: Route): fc.Arbitrary<string> {
  const params = [...route.query, { name: 'x', type: 'string' }];
  const pairs = fc.subarray(params).chain((chosen) => (chosen.length ? fc.tuple(...chosen.map((p) => queryValue(p).map((v) => [p.name, v] as const))) : fc.constant([] as (readonly [string, string])[])));
  return fc.oneof(
    { weight: 6, arbitrary: pairs.map((kv) => (kv.length ? '?' + kv.map(([k, v]) => `${k}=${encodeURIComponent(confineQuery(route, k, v))}`).join('&') : '')) },
    // escapes that do not decode, repeated keys, no value
    { weight: 1, arbitrary: fc.constantFrom('?%zz=1', '?a=%', '?all&all=1&all=0', '?=', '?&&&', '?filters=%7B', '?filters={"label":["a=b"]}', `?${'a=1&'.repeat(2000)}`) },
  );
}

/** A value of a JSON type other than the field's (or of the right one, sometimes). */
function fieldValue(type: string): fc.Arbitrary<unknown> {
  const wrong = fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.constantFrom(1e20, -1, 1.5, 2 ** 53 + 2, 0),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    fc.constant([null]),
    fc.constant({ a: { b: 1 } }),
  );
  const right =
    type === 'string' ? fc.string({ maxLength: 20 }) : type === 'integer' ? fc.integer() : type === 'boolean' ? fc.boolean() : type === 'array' ? fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }) : fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 });
  return fc.oneof({ weight: 2, arbitrary: wrong }, { weight: 1, arbitrary: right });
}

function deepNesting(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function jsonBodyOf(route: Route): fc.Arbitrary<string> {
  const fields = Object.entries(route.body?.fields ?? {});
  const object = fc.subarray(fields, { maxLength: Math.min(8, fields.length) }).chain((chosen) =>
    chosen.length
      ? fc.tuple(...chosen.map(([name, type]) => fieldValue(type).map((v) => [name, v] as const))).map((kv) => {
          const o: Record<string, unknown> = {};
          for (const [name, v] of kv) setPath(o, name.split('.'), v);
          return JSON.stringify(confineBody(route, o));
        })
      : fc.constant('{}'),
  );
  return fc.oneof(
    { weight: 6, arbitrary: object },
    { weight: 1, arbitrary: object.chain((s) => fc.nat({ max: Math.max(0, s.length - 1) }).map((n) => s.slice(0, n))) },
    { weight: 1, arbitrary: fc.constantFrom('null', '', '[]', '"x"', '5', 'true', '{"a":1', deepNesting(5000), `{"a":${deepNesting(100_000)}}`, '\u0000', '{"Image":"busybox","Cmd":"true"}') },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  );
}

function setPath(o: Record<string, unknown>, keys: string[], v: unknown): void {
  let at = o;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null || Array.isArray(at[k])) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]] = v;
}

/** Host names in queries go to 127.0.0.1:1 only. */
function confineQuery(route: Route, key: string, value: string): string {
  if (['fromImage', 'repo', 'remote', 'fromSrc', 'name'].includes(key) && ['ImageCreate', 'ImageTag', 'ImageBuild', 'PluginPull', 'PluginUpgrade', 'ImageCommit'].includes(route.operationId)) {
    if (key === 'fromSrc') return '-';
    if (key === 'remote' && route.operationId === 'ImageBuild') return 'http://127.0.0.1:1/context.tar';
    return `127.0.0.1:1/${value.replace(/[/:@]/g, '')}`;
  }
  return value;
}

/** Host names in bodies go to 127.0.0.1:1 only. */
function confineBody(route: Route, body: Record<string, unknown>): Record<string, unknown> {
  if (route.operationId === 'SwarmJoin' && 'RemoteAddrs' in body) body.RemoteAddrs = ['127.0.0.1:1'];
  if (route.operationId === 'SystemAuth' && 'serveraddress' in body) body.serveraddress = '127.0.0.1:1';
  return body;
}

const VERSION_PREFIX = fc.constantFrom('', '', '', '/v1.50', '/v1.24', '/v1.41', '/v1.12', '/v9.99', '/v1.x', '/v1.50/v1.50', '/v99999999999999999999.1');

const apiRequestRaw = fc.constantFrom(...ROUTES).chain((route) =>
  fc.record({
    route: fc.constant(route),
    prefix: VERSION_PREFIX,
    segments: fc.tuple(...route.pathParams.map(() => pathSegment), fc.constant('')),
    query: queryOf(route),
    body: route.body ? (route.body.contentType === 'application/json' ? jsonBodyOf(route) : fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b).toString('latin1')), fc.constant(''))) : fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.string() }),
    contentType: fc.constantFrom(route.body?.contentType ?? 'application/json', 'application/json', 'text/plain', 'application/x-tar', ''),
  }),
);

/** How a generated input is shown in a failure: long strings cut, so the report stays readable. */
function shortly(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}...(${v.length} chars)` : v));
}

function printable<T extends object>(arb: fc.Arbitrary<T>, show: (v: T) => string): fc.Arbitrary<T> {
  return arb.map((v) => Object.assign(v, { [fc.toStringMethod]: () => show(v) }));
}

function targetOf(r: { route: Route; prefix: string; segments: string[]; query: string }): string {
  let i = 0;
  return r.prefix + r.route.path.replace(/\{[^}]+\}/g, () => r.segments[i++]) + r.query;
}

const apiRequest = printable(apiRequestRaw, (r) => shortly({ operationId: r.route.operationId, method: r.route.method, target: targetOf(r), body: r.body, contentType: r.contentType }));

function requestBytes(method: string, target: string, headers: string[], body?: string): Buffer {
  const b = body === undefined ? undefined : Buffer.from(body, 'latin1');
  const head = [`${method} ${target} HTTP/1.1`, 'Host: fuzz', 'Connection: close', ...headers, ...(b ? [`Content-Length: ${b.length}`] : []), '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), b ?? Buffer.alloc(0)]);
}

// ---------------------------------------------------------------------------------------------
// answers

interface Answer {
  status: number;
  body: string;
  /** neither a status line nor a close within the wait (a close without an answer is how Node refuses what it cannot parse) */
  silent: boolean;
}

/**
 * Sends one request and reads the answer's status; the body is read only for a 5xx (to show
 * it). The connection is then closed, which also exercises a client going away mid-answer.
 */
function exchange(connect: Connect, bytes: Buffer, waitMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const sock = connect();
    let got = Buffer.alloc(0);
    let status = 0;
    let done = false;
    let closed = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = got.toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      resolve({ status, body: at >= 0 ? text.slice(at + 4, at + 4 + 2000) : '', silent: status === 0 && !closed });
    };
    const timer = setTimeout(finish, waitMs);
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got.subarray(0, 20).toString('latin1'));
      if (m && got.includes('\r\n\r\n')) {
        status = Number(m[1]);
        // a 5xx is read to its end (or a second more) so its message can be shown
        if (status < 500) finish();
        else setTimeout(finish, 1000);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.write(bytes);
  });
}

/** 501 (not implemented) and 503 (not a manager, no swarm) are Docker's own answers, not failures. */
const isServerError = (status: number) => status >= 500 && status !== 501 && status !== 503;

function describeRequest(method: string, target: string, body?: string): string {
  const shown = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}... (${s.length} chars)` : s);
  return `${method} ${shown(target)}${body !== undefined ? ` body ${JSON.stringify(shown(body))}` : ''}`;
}

async function alive(): Promise<void> {
  assert.ok(d.pid !== undefined && (await d.ping()), `berthd stopped answering:\n${d.output.slice(-4000)}`);
}

function budget(share: number): number {
  return Math.max(2000, SECONDS * 1000 * share);
}

const fcParams = (ms: number, salt: number) => ({ seed: SEED + salt, numRuns: 1_000_000, interruptAfterTimeLimit: ms, markInterruptAsFailure: false, endOnFailure: true, includeErrorInReport: true });

// ---------------------------------------------------------------------------------------------
// properties

test('every route of the Engine API, given malformed paths, queries and bodies: berthd stays up, answers no 500, its memory stays bounded', { timeout: SECONDS * 3000 + 300_000 }, async () => {
  await alive();
  const rssBefore = await rssBytes(d.pid!);
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(apiRequest, async (r) => {
      runs++;
      const method = r.route.method;
      const target = targetOf(r);
      const headers = r.body !== undefined && r.contentType ? [`Content-Type: ${r.contentType}`] : [];
      const a = await exchange(berthd, requestBytes(method, target, headers, r.body), 10_000);
      const what = `${r.route.operationId}: ${describeRequest(method, target, r.body)}`;
      if (a.silent && !SLOW_OK.has(r.route.operationId)) {
        await alive();
        assert.fail(`no answer within 10 s to ${what}`);
      }
      if (isServerError(a.status) && !(UPSTREAM_UNREACHABLE.operationId.test(r.route.operationId) && UPSTREAM_UNREACHABLE.message.test(a.body))) {
        const known = KNOWN_500S.find((k) => k.operationId.test(r.route.operationId) && k.message.test(a.body));
        if (known || COLLECT) findings.push(`${a.status} ${what}\n    -> ${a.body}`);
        else assert.fail(`${a.status} for bad input: ${what}\n  answer: ${a.body}`);
      }
      if (runs % 25 === 0) await alive();
    }),
    fcParams(budget(0.55), 0),
  );
  await alive();
  const rssAfter = await rssBytes(d.pid!);
  console.log(`fuzz api: ${runs} requests; berthd VmRSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, ${(rssAfter / 2 ** 20).toFixed(0)} MB after`);
  assert.ok(rssAfter - rssBefore < RSS_GROWTH_LIMIT, `berthd grew by ${((rssAfter - rssBefore) / 2 ** 20).toFixed(0)} MB`);

  // listings still decode, for berth's API and for the real docker CLI
  const list = await d.api('GET', '/containers/json?all=1');
  assert.equal(list.status, 200, list.body);
  assert.ok(Array.isArray(list.json()));
  const ps = await d.docker(['ps', '-a']);
  assert.equal(ps.code, 0, `docker ps -a: ${ps.stderr}`);
});

// Raw HTTP: request lines, headers and framing broken in the ways a careless or hostile client breaks them.
const method = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'get', 'GET GET', ''), fc.string({ maxLength: 12 }), longText);
const rawTarget = fc.oneof(
  fc.constantFrom('/', '//', '///', '/_ping', '/v2/', '/join', '/v1.50/containers/json', '*', 'http://x/_ping', 'http://', '//x/_ping', '/%', '/%zz', '/%ff', '/..', '/./', '/v2/../..', '/task-logs/' + 'a'.repeat(64), '/v2/a/blobs/uploads/', '/v2/a/manifests/latest', '/v2/_catalog?n=-1', '/v2/_catalog?n=99999999999999999999', '/v2/a/tags/list?last=%zz'),
  pathSegment.map((s) => `/${s}`),
  fc.array(pathSegment, { maxLength: 6 }).map((segs) => '/' + segs.join('/')),
  fc.string({ unit: 'binary', maxLength: 30 }),
  longText.map((s) => `/${s}`),
);
const version = fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/0.9', 'http/1.1', '', 'HTTP/1.1 extra');
const header = fc.oneof(
  fc.constantFrom('Host: x', 'Content-Length: -1', 'Content-Length: 1e3', 'Content-Length: 99999999999999999999', 'Content-Length: 5', 'Content-Length: 0', 'Content-Length: 3, 4', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: chunked, identity', 'Connection: upgrade', 'Upgrade: tcp', 'Upgrade: websocket', 'Expect: 100-continue', 'Content-Type: application/json', 'Content-Encoding: gzip', 'X-Registry-Auth: %%%', 'Authorization: Basic !!!', 'Authorization: Bearer a.b.c', ' folded: continuation', 'No-Colon', ': empty-name', 'Bad Name: x', 'X: \u0000', 'Host: x\r\nHost: y'),
  fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })).map(([k, v]) => `${k}: ${v}`),
  longText.map((v) => `X-Long: ${v}`),
);
const rawBodyBytes = fc.oneof(
  fc.constant(''),
  fc.constantFrom('0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', 'ffffffffffffffff\r\nx', '5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n', '{"a":1}', 'GET / HTTP/1.1\r\n\r\n', '\r\n\r\n\r\n'),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString('latin1')),
);
const rawRequest0 = fc.record({ method, target: rawTarget, version, headers: fc.array(header, { maxLength: 6 }), body: rawBodyBytes, split: fc.array(fc.nat({ max: 200 }), { maxLength: 4 }), close: fc.boolean() });

const rawRequest = printable(rawRequest0, (r) => shortly(r));

function rawBytes(r: { method: string; target: string; version: string; headers: string[]; body: string; close: boolean }): Buffer {
  const head = [`${r.method} ${r.target}${r.version ? ' ' + r.version : ''}`, ...r.headers, ...(r.close ? ['Connection: close'] : []), '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(r.body, 'latin1')]);
}

/** The bytes cut at the given offsets, so the parser meets them in pieces. */
function pieces(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out.filter((p) => p.length);
}

const rawTargets: { name: string; connect: () => Connect; stillAnswers: () => Promise<void>; share: number; salt: number }[] = [
  {
    name: 'berthd',
    connect: () => berthd,
    stillAnswers: alive,
    share: 0.15,
    salt: 1,
  },
  {
    name: 'berth-registry',
    connect: () => () => registry.connect(),
    stillAnswers: async () => {
      const r = await rawExchange(() => registry.connect(), 'GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(r.status, 200, `berth-registry stopped answering:\n${registry.output.slice(-4000)}`);
    },
    share: 0.15,
    salt: 2,
  },
  {
    name: 'swarm port',
    connect: () => swarm,
    stillAnswers: async () => {
      const r = await rawExchange(swarm, 'GET /join HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(r.status, 404, `the swarm port stopped answering:\n${d.output.slice(-4000)}`);
    },
    share: 0.15,
    salt: 3,
  },
];

for (const t of rawTargets) {
  test(`raw malformed HTTP to ${t.name}: it stays up and answers no 500`, { timeout: SECONDS * 3000 + 300_000 }, async () => {
    await t.stillAnswers();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(rawRequest, async (r) => {
        runs++;
        const bytes = rawBytes(r);
        const a = await rawExchange(t.connect(), pieces(bytes, r.split), 2000);
        const what = JSON.stringify(bytes.subarray(0, 600).toString('latin1'));
        for (const s of a.statuses) {
          if (isServerError(s)) {
            const known = t.name === 'berthd' ? KNOWN_500S.find((k) => k.message.test(a.text)) : undefined;
            if (known || COLLECT) findings.push(`${t.name} raw ${s}: ${what}`);
            else assert.fail(`${t.name} answered ${s} to ${what}:\n${a.text.slice(0, 2000)}`);
          }
        }
        if (runs % 10 === 0) await t.stillAnswers();
      }),
      fcParams(budget(t.share), t.salt),
    );
    await t.stillAnswers();
    if (t.name === 'berth-registry') assert.ok(registry.alive);
    console.log(`fuzz raw ${t.name}: ${runs} requests`);
  });
}
