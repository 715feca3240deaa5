/**
 * No request ends a server (issue 15, item 2): malformed request targets and malformed HTTP
 * sent raw to berthd, berth-registry and a node's swarm port. After each, the server still
 * answers, and a bad request is answered as Docker and Distribution answer it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';
import { LoopbackRegistry, NetnsRelay, rawBody, rawExchange, tlsOverUnixConnect, unixConnect, type Connect } from '../helpers/raw-http';

let d: TestDaemon;
let registry: LoopbackRegistry;
let swarmRelay: NetnsRelay;
let berthd: Connect;
let swarm: Connect;

before(async () => {
  d = await TestDaemon.start();
  berthd = unixConnect(d.socket);
  registry = await LoopbackRegistry.start();
  const init = await d.api('POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: '127.0.0.1' });
  assert.equal(init.status, 200, init.body);
  swarmRelay = await NetnsRelay.start(d.netns, '127.0.0.1', 2377);
  swarm = tlsOverUnixConnect(swarmRelay.socketPath);
});

after(async () => {
  await swarmRelay?.stop();
  await registry?.stop();
  await d?.api('POST', '/swarm/leave?force=1').catch(() => undefined);
  await d?.cleanup();
});

const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

async function berthdStillAnswers(): Promise<void> {
  const ping = await rawExchange(berthd, get('/_ping'));
  assert.equal(ping.status, 200, `berthd no longer answers /_ping:\n${d.output.slice(-3000)}`);
}

async function registryStillAnswers(): Promise<void> {
  const base = await rawExchange(() => registry.connect(), get('/v2/'));
  assert.equal(base.status, 200, `berth-registry no longer answers /v2/:\n${registry.output.slice(-3000)}`);
  assert.ok(registry.alive);
}

async function swarmPortStillAnswers(): Promise<void> {
  // a GET of /join is not a route: the port answers 404, which shows it is still there
  const r = await rawExchange(swarm, get('/join'));
  assert.equal(r.status, 404, `the swarm port no longer answers:\n${d.output.slice(-3000)}`);
}

describe('berthd', () => {
  test('GET // is redirected to / as dockerd (gorilla/mux) does, and the daemon stays up', async () => {
    const r = await rawExchange(berthd, get('//'));
    assert.equal(r.status, 301, r.text);
    assert.match(r.text, /\r\nLocation: \/\r\n/i);
    await berthdStillAnswers();
  });

  test('a path that is not clean is redirected to its clean form, never routed by a host it seems to name', async () => {
    // "//x/_ping" parsed as a URL names host x and path /_ping; it is the path /x/_ping
    const r = await rawExchange(berthd, get('//x/_ping?a=1'));
    assert.equal(r.status, 301, r.text);
    assert.match(r.text, /\r\nLocation: \/x\/_ping\?a=1\r\n/i);
    const dots = await rawExchange(berthd, get('/containers/../_ping'));
    assert.equal(dots.status, 301, dots.text);
    assert.match(dots.text, /\r\nLocation: \/_ping\r\n/i);
    await berthdStillAnswers();
  });

  test('a malformed percent-escape in the path is a 400 naming the escape, not a 500', async () => {
    const r = await rawExchange(berthd, get('/containers/%zz/json'));
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(JSON.parse(rawBody(r)), { message: 'invalid URL escape "%zz"' });
    const truncated = await rawExchange(berthd, get('/v1.41/containers/abc%2/json'));
    assert.equal(truncated.status, 400, truncated.text);
    assert.deepEqual(JSON.parse(rawBody(truncated)), { message: 'invalid URL escape "%2/"' });
    await berthdStillAnswers();
  });

  test('an escape that is not UTF-8 names nothing: 404 for the container, not a 500', async () => {
    const r = await rawExchange(berthd, get('/containers/%ff%fe/json'));
    assert.equal(r.status, 404, r.text);
    assert.match(JSON.parse(rawBody(r)).message, /^No such container: /);
  });

  test('a request target that is not a path is a 400', async () => {
    const r = await rawExchange(berthd, get('containers/json'));
    assert.equal(r.status, 400, r.text);
    await berthdStillAnswers();
  });
});

describe('berth-registry', () => {
  test('GET // is redirected to / as Distribution does, and the registry stays up', async () => {
    const r = await rawExchange(() => registry.connect(), get('//'));
    assert.equal(r.status, 301, r.text);
    assert.match(r.text, /\r\nLocation: \/\r\n/i);
    await registryStillAnswers();
  });

  test('//host/v2/ is the path /host/v2/ (a redirect there), not /v2/ of a host', async () => {
    const r = await rawExchange(() => registry.connect(), get('//evil/v2/'));
    assert.equal(r.status, 301, r.text);
    assert.match(r.text, /\r\nLocation: \/evil\/v2\/\r\n/i);
    await registryStillAnswers();
  });

  test('a malformed percent-escape is refused as an invalid name', async () => {
    const r = await rawExchange(() => registry.connect(), get('/v2/a%zz/tags/list'));
    assert.equal(r.status, 400, r.text);
    assert.equal(JSON.parse(rawBody(r)).errors[0].code, 'NAME_INVALID');
    await registryStillAnswers();
  });
});

describe('swarm port', () => {
  test('GET // from a peer without a certificate answers 404 and the node stays up', async () => {
    const r = await rawExchange(swarm, get('//'));
    assert.equal(r.status, 404, r.text);
    await swarmPortStillAnswers();
    await berthdStillAnswers();
  });

  test('a malformed escape in a task-logs path answers 400', async () => {
    const r = await rawExchange(swarm, get('/task-logs/%zz'));
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(JSON.parse(rawBody(r)), { message: 'invalid URL escape "%zz"' });
    await swarmPortStillAnswers();
  });

  for (const body of ['null', '[]', '"x"', '{"token":5}', '{"token":"SWMTKN-1-x","advertiseAddr":null}']) {
    test(`a join request of ${body} is a 400 and the node stays up`, async () => {
      const r = await rawExchange(swarm, `POST /join HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(JSON.parse(rawBody(r)), { message: 'invalid join request' });
      await swarmPortStillAnswers();
      await berthdStillAnswers();
    });
  }
});

/** Malformed HTTP every server must survive; Node's parser answers these, the servers must not fall over. */
/**
 * Malformed HTTP every server must survive. `statuses` are the answers expected on the
 * connection, in order: a request whose headers parse is answered (404, no route) before its
 * malformed body is read, and then the parser's 400 may follow or the connection just closes.
 */
const malformedHttp: { name: string; data: () => (string | Buffer)[]; statuses: number[][] }[] = [
  { name: 'headers larger than the limit', data: () => [`GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`], statuses: [[431]] },
  // the bytes past the declared length are read as the next request, which is garbage
  { name: 'a body larger than declared', data: () => ['POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}garbage!\r\n\r\n'], statuses: [[404, 400], [404]] },
  { name: 'a chunked encoding error', data: () => ['POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'], statuses: [[404], [400]] },
  { name: 'a request line of garbage', data: () => [Buffer.from([0x16, 0x03, 0x01, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])], statuses: [[400]] },
  { name: 'both Content-Length and chunked', data: () => ['POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'], statuses: [[400]] },
];

for (const [server, connect, stillAnswers] of [
  ['berthd', () => berthd, berthdStillAnswers],
  ['berth-registry', () => () => registry.connect(), registryStillAnswers],
  ['swarm port', () => swarm, swarmPortStillAnswers],
] as const) {
  describe(`${server}: malformed HTTP`, () => {
    for (const c of malformedHttp) {
      test(`${c.name}: ${c.statuses.map((x) => x.join(' then ')).join(' or ')}, the connection closed, and the server stays up`, async () => {
        const r = await rawExchange(connect(), c.data());
        assert.ok(c.statuses.some((x) => JSON.stringify(x) === JSON.stringify(r.statuses)), `answers ${r.statuses.join(', ')}:\n${r.text}`);
        assert.ok(r.closed, `the connection was left open after:\n${r.text}`);
        await stillAnswers();
      });
    }

    test('200 connections at once, each sending half a request, then the server still answers', async () => {
      const socks = Array.from({ length: 200 }, () => {
        const s = connect()();
        s.on('error', () => undefined);
        s.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n');
        return s;
      });
      try {
        await stillAnswers();
      } finally {
        for (const s of socks) s.destroy();
      }
    });
  });
}

test('every server closes a connection that never finishes its headers (slowloris)', { timeout: 150_000 }, async () => {
  // headersTimeout is 60 s on all three (berthd sets it, the others keep Node's default), and
  // Node checks it every 30 s: each connection is closed with a 408 within 90 s.
  const started = Date.now();
  const half = ['GET /_ping HTTP/1.1\r\nHost: x\r\n'];
  const answers = await Promise.all([berthd, () => registry.connect(), swarm].map((c) => rawExchange(c, half, 120_000)));
  for (const [i, r] of answers.entries()) {
    assert.ok(r.closed, `server ${i} never closed the connection`);
    assert.deepEqual(r.statuses, [408], r.text);
  }
  assert.ok(Date.now() - started < 100_000);
  await berthdStillAnswers();
  await registryStillAnswers();
  await swarmPortStillAnswers();
});

test('berthd: an upgrade request declaring a huge body is refused at once, not buffered', async () => {
  const r = await rawExchange(berthd, [
    'POST /v1.50/exec/nope/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{"Detach":false',
  ]);
  assert.match(r.text, /^HTTP\/1\.1 400 /);
  assert.match(r.text, /request body too large/);
  await berthdStillAnswers();
});
