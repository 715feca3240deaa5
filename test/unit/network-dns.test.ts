import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { execFile } from 'node:child_process';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import { DnsServer, type DnsServerOptions, type NameLookup } from '../../src/network/dns/server';
import { parseUpstream } from '../../src/network/dns/forward';
import { Deframer, frame } from '../../src/network/dns/wire';

// Everything here runs on 127.0.0.1 with ports picked by the kernel; the fake upstream below
// stands in for the machine's resolvers, which are never contacted.

const HOST = '127.0.0.1';

// ---- a tiny upstream resolver of our own -------------------------------------------------

interface UpstreamSeen {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  id: number;
}

interface FakeUpstream {
  port: number;
  addr: string;
  seen: UpstreamSeen[];
  /** the exact bytes of each reply sent, for checking the relay is byte for byte */
  sent: Buffer[];
  close(): Promise<void>;
}

/**
 * Answers example.test A 192.0.2.7, fail.test SERVFAIL, big.test truncated over UDP and 40
 * A records over TCP, slow.test after 150 ms, everything else NXDOMAIN.
 */
async function startUpstream(): Promise<FakeUpstream> {
  const seen: UpstreamSeen[] = [];
  const sent: Buffer[] = [];
  const respond = (raw: Buffer, transport: 'udp' | 'tcp', send: (b: Buffer) => void) => {
    const q = dnsPacket.decode(raw);
    const question = q.questions![0];
    seen.push({ name: question.name, type: question.type, transport, id: q.id! });
    let rcode = 0;
    let flags = dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED;
    let answers: Answer[] = [];
    const name = question.name.toLowerCase();
    if (name === 'example.test' || name === 'slow.test') {
      if (question.type === 'A') answers = [{ type: 'A', name: question.name, ttl: 42, data: '192.0.2.7' }];
    } else if (name === 'fail.test') {
      rcode = 2;
    } else if (name === 'big.test') {
      if (transport === 'udp') flags |= dnsPacket.TRUNCATED_RESPONSE;
      else answers = Array.from({ length: 40 }, (_, i) => ({ type: 'A' as const, name: question.name, ttl: 42, data: `192.0.2.${i + 1}` }));
    } else {
      rcode = 3;
    }
    const reply = dnsPacket.encode({ type: 'response', id: q.id, flags: flags | rcode, questions: [question], answers });
    sent.push(reply);
    if (name === 'slow.test') setTimeout(() => send(reply), 150);
    else send(reply);
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, HOST, () => r()));
  const port = udp.address().port;
  udp.on('message', (msg, rinfo) => respond(msg, 'udp', (b) => udp.send(b, rinfo.port, rinfo.address)));
  const conns = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => {});
    const d = new Deframer();
    sock.on('data', (c: Buffer) => {
      for (const m of d.push(c)) respond(m, 'tcp', (b) => !sock.destroyed && sock.write(frame(b)));
    });
  });
  await new Promise<void>((r) => tcp.listen(port, HOST, () => r()));
  return {
    port,
    addr: `${HOST}:${port}`,
    seen,
    sent,
    close: async () => {
      for (const c of conns) c.destroy();
      await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}

/** A UDP port that receives and never answers: an upstream that is down without saying so. */
async function startBlackHole(): Promise<{ addr: string; close(): Promise<void> }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  s.on('message', () => {});
  return { addr: `${HOST}:${s.address().port}`, close: () => new Promise<void>((r) => s.close(() => r())) };
}

/** A port nothing listens on (UDP gets port unreachable). */
async function closedPort(): Promise<string> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return `${HOST}:${port}`;
}

// ---- clients ---------------------------------------------------------------------------

let nextId = 1000;
function query(name: string, type: Question['type'] = 'A', extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: nextId++ & 0xffff,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...extra,
  });
}

function udpExchange(port: number, msg: Buffer, timeoutMs = 4000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('udp query timed out'));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, HOST);
  });
}

/** Sends a datagram and resolves with what comes back, or undefined after `waitMs` of silence. */
function udpMaybe(port: number, msg: Buffer, waitMs = 300): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, waitMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, HOST);
  });
}

/** Sends all messages on one TCP connection and collects one answer per message. */
function tcpExchange(port: number, msgs: Buffer[], timeoutMs = 4000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    const d = new Deframer();
    const sock = net.connect(port, HOST, () => sock.write(Buffer.concat(msgs.map(frame))));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp: ${got.length}/${msgs.length} answers before timeout`));
    }, timeoutMs);
    sock.on('data', (c: Buffer) => {
      got.push(...d.push(c));
      if (got.length >= msgs.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const decode = (b: Buffer): DecodedPacket => dnsPacket.decode(b);
const rcodeOf = (b: Buffer) => b.readUInt16BE(2) & 0xf;
const aData = (p: DecodedPacket) => (p.answers ?? []).filter((a) => a.type === 'A').map((a) => (a as { data: string }).data);

// ---- the network under test --------------------------------------------------------------

const containers: Record<string, string[]> = {
  web: ['10.89.0.2'],
  'web.mynet': ['10.89.0.2'],
  db: ['10.89.0.3'],
  many: Array.from({ length: 100 }, (_, i) => `10.89.1.${i + 1}`),
};

class FakeLookup implements NameLookup {
  calls: { name: string; clientIp: string }[] = [];
  resolve(name: string, clientIp: string): string[] {
    this.calls.push({ name, clientIp });
    if (name === 'boom') throw new Error('lookup exploded');
    return containers[name] ?? [];
  }
  reverse(ip: string): string | undefined {
    return { '10.89.0.2': 'web.mynet', '10.89.0.3': 'db.mynet.' }[ip];
  }
}

interface Fixture {
  dns: DnsServer;
  lookup: FakeLookup;
  upstream: FakeUpstream;
  logs: string[];
}

function withDns(opts: Partial<DnsServerOptions>, fn: (f: Fixture) => Promise<void>) {
  return async () => {
    const upstream = await startUpstream();
    const lookup = new FakeLookup();
    const logs: string[] = [];
    let dns: DnsServer | undefined;
    try {
      dns = await DnsServer.start({
        address: HOST,
        port: 0,
        lookup,
        upstreams: () => [upstream.addr],
        log: (m) => logs.push(m),
        ...opts,
      });
      await fn({ dns, lookup, upstream, logs });
    } finally {
      await dns?.close();
      await upstream.close();
    }
  };
}

// ---- tests -----------------------------------------------------------------------------

test('A for a container name: authoritative, TTL 600, question echoed as asked', withDns({}, async ({ dns, lookup }) => {
  assert.notEqual(dns.port, 0);
  const q = query('WEB.');
  const reply = decode(await udpExchange(dns.port, q));
  assert.equal(reply.id, q.readUInt16BE(0));
  assert.equal(reply.type, 'response');
  assert.equal(rcodeOf(dnsPacket.encode(reply)), 0);
  assert.equal(reply.flag_aa, true);
  assert.equal(reply.flag_rd, true);
  assert.equal(reply.flag_tc, false);
  assert.deepEqual(reply.questions, [{ name: 'WEB', type: 'A', class: 'IN' }]);
  assert.equal(reply.answers!.length, 1);
  const a = reply.answers![0] as Answer & { ttl: number; data: string };
  assert.deepEqual([a.name, a.type, a.ttl, a.data], ['WEB', 'A', 600, '10.89.0.2']);
  assert.deepEqual(lookup.calls.at(-1), { name: 'web', clientIp: '127.0.0.1' });

  const qualified = decode(await udpExchange(dns.port, query('web.mynet')));
  assert.deepEqual(aData(qualified), ['10.89.0.2']);
}));

test('AAAA (and other types) for a container name: empty NOERROR, not forwarded', withDns({}, async ({ dns, upstream }) => {
  for (const type of ['AAAA', 'MX', 'TXT'] as const) {
    const raw = await udpExchange(dns.port, query('db', type));
    const reply = decode(raw);
    assert.equal(rcodeOf(raw), 0, type);
    assert.equal(reply.flag_aa, true, type);
    assert.deepEqual(reply.answers, [], type);
    assert.equal(reply.questions![0].type, type);
  }
  assert.equal(upstream.seen.length, 0);
}));

test('PTR for an address in the network; others are forwarded', withDns({}, async ({ dns, upstream }) => {
  const reply = decode(await udpExchange(dns.port, query('2.0.89.10.in-addr.arpa', 'PTR')));
  assert.equal(reply.flag_aa, true);
  assert.equal(reply.answers!.length, 1);
  const ptr = reply.answers![0] as Answer & { ttl: number; data: string };
  assert.deepEqual([ptr.name, ptr.type, ptr.ttl, ptr.data], ['2.0.89.10.in-addr.arpa', 'PTR', 600, 'web.mynet']);
  const withDot = decode(await udpExchange(dns.port, query('3.0.89.10.in-addr.arpa', 'PTR')));
  assert.equal((withDot.answers![0] as { data: string }).data, 'db.mynet');

  const other = await udpExchange(dns.port, query('9.0.89.10.in-addr.arpa', 'PTR'));
  assert.equal(rcodeOf(other), 3); // our upstream says NXDOMAIN
  assert.deepEqual(upstream.seen.map((s) => s.name), ['9.0.89.10.in-addr.arpa']);
}));

test('other names are forwarded over UDP and the answer relayed byte for byte', withDns({}, async ({ dns, upstream }) => {
  const q = query('example.test');
  const raw = await udpExchange(dns.port, q);
  const reply = decode(raw);
  assert.equal(reply.id, q.readUInt16BE(0));
  assert.deepEqual(aData(reply), ['192.0.2.7']);
  assert.equal(upstream.seen.length, 1);
  assert.equal(upstream.seen[0].transport, 'udp');
  // Only the ID differs from what the upstream sent.
  assert.deepEqual(raw.subarray(2), upstream.sent[0].subarray(2));
  assert.equal(raw.readUInt16BE(0), q.readUInt16BE(0));

  const nx = await udpExchange(dns.port, query('nothing.test'));
  assert.equal(rcodeOf(nx), 3);
  // Unknown types go out too.
  const srv = await udpExchange(dns.port, query('_x._tcp.example.test', 'SRV'));
  assert.equal(rcodeOf(srv), 3);
  assert.equal(upstream.seen.at(-1)!.type, 'SRV');
}));

test('queries over TCP are answered over TCP and forwarded over TCP', withDns({}, async ({ dns, upstream }) => {
  const [local, fwd] = await tcpExchange(dns.port, [query('web'), query('example.test')]);
  assert.deepEqual(aData(decode(local)), ['10.89.0.2']);
  assert.deepEqual(aData(decode(fwd)), ['192.0.2.7']);
  assert.deepEqual(upstream.seen.map((s) => s.transport), ['tcp']);
}));

test('a truncated upstream answer reaches a UDP client truncated; over TCP it comes whole', withDns({}, async ({ dns, upstream }) => {
  const udpReply = decode(await udpExchange(dns.port, query('big.test')));
  assert.equal(udpReply.flag_tc, true);
  assert.equal(udpReply.answers!.length, 0);
  const [tcpReply] = await tcpExchange(dns.port, [query('big.test')]);
  assert.equal(aData(decode(tcpReply)).length, 40);
  assert.deepEqual(upstream.seen.map((s) => s.transport), ['udp', 'tcp']);
}));

test('a local answer too big for UDP is truncated with TC; TCP gets it all', withDns({}, async ({ dns }) => {
  const udpReply = await udpExchange(dns.port, query('many'));
  assert.ok(udpReply.length <= 512, `${udpReply.length} bytes`);
  const p = decode(udpReply);
  assert.equal(p.flag_tc, true);
  assert.ok(p.answers!.length > 0 && p.answers!.length < 100);
  // EDNS raises the limit and gets an OPT record back.
  const edns = query('many', 'A', {
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
  });
  const big = decode(await udpExchange(dns.port, edns));
  assert.equal(big.flag_tc, false);
  assert.equal(big.answers!.length, 100);
  assert.equal(big.additionals![0].type, 'OPT');
  const [tcpReply] = await tcpExchange(dns.port, [query('many')]);
  const t = decode(tcpReply);
  assert.equal(t.flag_tc, false);
  assert.deepEqual(new Set(aData(t)), new Set(containers.many));
}));

test('SERVFAIL from the first upstream moves on to the next', async () => {
  const first = await startUpstream();
  const second = await startUpstream();
  const dead = await startBlackHole();
  let ups = [first.addr, second.addr];
  const dns = await DnsServer.start({ address: HOST, port: 0, lookup: new FakeLookup(), upstreams: () => ups, upstreamTimeoutMs: 300 });
  try {
    // fail.test: every upstream says SERVFAIL, so the client gets SERVFAIL after asking both.
    const fail = await udpExchange(dns.port, query('fail.test'));
    assert.equal(rcodeOf(fail), 2);
    assert.equal(first.seen.length, 1);
    assert.equal(second.seen.length, 1);
    // NXDOMAIN is an answer: the second upstream is not asked.
    assert.equal(rcodeOf(await udpExchange(dns.port, query('nothing.test'))), 3);
    assert.equal(second.seen.length, 1);
    // The list is read per query: a silent first upstream costs one timeout, then the next answers.
    ups = [dead.addr, second.addr];
    const start = Date.now();
    const reply = decode(await udpExchange(dns.port, query('example.test')));
    const took = Date.now() - start;
    assert.deepEqual(aData(reply), ['192.0.2.7']);
    assert.ok(took >= 250 && took < 2000, `took ${took} ms`);
  } finally {
    await dns.close();
    await Promise.all([first.close(), second.close(), dead.close()]);
  }
});

test('no upstream reachable: SERVFAIL within the timeout', async () => {
  const dead = await startBlackHole();
  const closed = await closedPort();
  let ups: string[] = [dead.addr];
  const logs: string[] = [];
  const dns = await DnsServer.start({ address: HOST, port: 0, lookup: new FakeLookup(), upstreams: () => ups, log: (m) => logs.push(m) });
  try {
    // Default timeout is 2 s per upstream.
    let start = Date.now();
    const q = query('example.test');
    const raw = await udpExchange(dns.port, q, 5000);
    let took = Date.now() - start;
    assert.equal(rcodeOf(raw), 2);
    assert.equal(raw.readUInt16BE(0), q.readUInt16BE(0));
    assert.deepEqual(decode(raw).questions, [{ name: 'example.test', type: 'A', class: 'IN' }]);
    assert.ok(took >= 1900 && took < 3000, `took ${took} ms`);
    assert.ok(logs.some((l) => l.includes(dead.addr)), logs.join('\n'));

    // An upstream that refuses (port unreachable) fails fast; so does an empty list.
    ups = [closed];
    start = Date.now();
    assert.equal(rcodeOf(await udpExchange(dns.port, query('example.test'))), 2);
    took = Date.now() - start;
    assert.ok(took < 1900, `took ${took} ms`);
    ups = [];
    assert.equal(rcodeOf(await udpExchange(dns.port, query('example.test'))), 2);
    ups = ['not-an-ip', `${HOST}:${dns.port}`]; // garbage and ourselves are skipped
    assert.equal(rcodeOf(await udpExchange(dns.port, query('example.test'))), 2);
    // TCP to a closed port too.
    ups = [closed];
    const [tcp] = await tcpExchange(dns.port, [query('example.test')]);
    assert.equal(rcodeOf(tcp), 2);
  } finally {
    await dns.close();
    await dead.close();
  }
});

test('internal network (forward: false): container names resolve, other names SERVFAIL at once', withDns({ forward: false }, async ({ dns, upstream }) => {
  assert.deepEqual(aData(decode(await udpExchange(dns.port, query('web')))), ['10.89.0.2']);
  assert.equal(decode(await udpExchange(dns.port, query('2.0.89.10.in-addr.arpa', 'PTR'))).answers!.length, 1);
  const start = Date.now();
  const raw = await udpExchange(dns.port, query('example.test'));
  assert.equal(rcodeOf(raw), 2);
  assert.ok(Date.now() - start < 500);
  const [tcp] = await tcpExchange(dns.port, [query('example.test', 'AAAA')]);
  assert.equal(rcodeOf(tcp), 2);
  assert.equal(upstream.seen.length, 0);
}));

test('garbage does not kill the server: dropped or FORMERR/NOTIMP, then business as usual', withDns({}, async ({ dns, upstream }) => {
  // Too short for a header: dropped.
  assert.equal(await udpMaybe(dns.port, Buffer.from([1, 2, 3])), undefined);
  // A response (QR set) is never answered, so two servers cannot ping-pong.
  const resp = Buffer.from(query('web'));
  resp[2] |= 0x80;
  assert.equal(await udpMaybe(dns.port, resp), undefined);
  // A header promising a question that is not there: FORMERR, same ID.
  const cut = query('example.test').subarray(0, 16);
  const formerr = await udpExchange(dns.port, cut);
  assert.equal(rcodeOf(formerr), 1);
  assert.equal(formerr.readUInt16BE(0), cut.readUInt16BE(0));
  // Two questions: FORMERR.
  const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'a' }, { type: 'A', name: 'b' }] });
  assert.equal(rcodeOf(await udpExchange(dns.port, two)), 1);
  // A label pointing forward (bad compression): FORMERR, not a crash.
  const bad = Buffer.from(query('web'));
  bad[12] = 0xc0;
  bad[13] = 0xff;
  assert.equal(rcodeOf(await udpExchange(dns.port, bad)), 1);
  // Opcode STATUS: NOTIMP.
  const status = Buffer.from(query('web'));
  status[2] = (status[2] & 0x87) | (2 << 3);
  assert.equal(rcodeOf(await udpExchange(dns.port, status)), 4);
  // Random bytes, many times.
  const junkSockets: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.alloc(1 + Math.floor(Math.random() * 80));
    for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(Math.random() * 256);
    const s = dgram.createSocket('udp4');
    junkSockets.push(new Promise<void>((r) => s.send(junk, dns.port, HOST, () => s.close(() => r()))));
  }
  await Promise.all(junkSockets);
  // TCP: a zero-length frame closes that connection only.
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(dns.port, HOST, () => s.write(Buffer.from([0, 0, 1, 2])));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  // TCP: a frame split across writes still works.
  const q = frame(query('web'));
  const split = await new Promise<Buffer>((resolve, reject) => {
    const d = new Deframer();
    const s = net.connect(dns.port, HOST, () => {
      s.write(q.subarray(0, 1));
      setTimeout(() => s.write(q.subarray(1, 9)), 20);
      setTimeout(() => s.write(q.subarray(9)), 40);
    });
    s.on('data', (c: Buffer) => {
      const [m] = d.push(c);
      if (m) {
        s.destroy();
        resolve(m);
      }
    });
    s.on('error', reject);
  });
  assert.deepEqual(aData(decode(split)), ['10.89.0.2']);
  // Still serving both ways.
  assert.deepEqual(aData(decode(await udpExchange(dns.port, query('web')))), ['10.89.0.2']);
  assert.deepEqual(aData(decode(await udpExchange(dns.port, query('example.test')))), ['192.0.2.7']);
  assert.ok(upstream.seen.every((s) => s.name === 'example.test'));
}));

test('a lookup that throws gives SERVFAIL and is logged', withDns({}, async ({ dns, logs }) => {
  assert.equal(rcodeOf(await udpExchange(dns.port, query('boom'))), 2);
  assert.ok(logs.some((l) => l.includes('lookup exploded')));
  assert.deepEqual(aData(decode(await udpExchange(dns.port, query('web')))), ['10.89.0.2']);
}));

test('50 concurrent queries, local and forwarded, UDP and TCP, all answered', withDns({}, async ({ dns, upstream }) => {
  const names = Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? 'web' : i % 3 === 1 ? 'example.test' : 'slow.test'));
  const udpQueries = names.map((n) => query(n));
  const tcpQueries = names.slice(0, 20).map((n) => query(n));
  const [udpReplies, tcpReplies] = await Promise.all([
    Promise.all(udpQueries.map((q) => udpExchange(dns.port, q))),
    tcpExchange(dns.port, tcpQueries),
  ]);
  udpReplies.forEach((raw, i) => {
    assert.equal(raw.readUInt16BE(0), udpQueries[i].readUInt16BE(0));
    assert.deepEqual(aData(decode(raw)), [names[i] === 'web' ? '10.89.0.2' : '192.0.2.7'], names[i]);
  });
  // On one TCP connection answers may come in any order; match them by ID.
  const byId = new Map(tcpReplies.map((r) => [r.readUInt16BE(0), r]));
  tcpQueries.forEach((q, i) => {
    const r = byId.get(q.readUInt16BE(0));
    assert.ok(r, `no TCP answer for query ${i}`);
    assert.deepEqual(aData(decode(r)), [names[i] === 'web' ? '10.89.0.2' : '192.0.2.7']);
  });
  const forwarded = names.filter((n) => n !== 'web').length + names.slice(0, 20).filter((n) => n !== 'web').length;
  assert.equal(upstream.seen.length, forwarded);
  // Upstream IDs are not the clients' (random, so allow a rare coincidence or two).
  const clientIds = new Set([...udpQueries, ...tcpQueries].map((q) => q.readUInt16BE(0)));
  assert.ok(upstream.seen.filter((s) => clientIds.has(s.id)).length < 3);
}));

test('close() stops both listeners and abandons forwards in flight', async () => {
  const dead = await startBlackHole();
  const dns = await DnsServer.start({ address: HOST, port: 0, lookup: new FakeLookup(), upstreams: () => [dead.addr] });
  const port = dns.port;
  const pending = udpMaybe(port, query('example.test'), 500);
  await new Promise((r) => setTimeout(r, 50));
  const start = Date.now();
  await dns.close();
  await dns.close(); // idempotent
  assert.ok(Date.now() - start < 1000);
  assert.equal(await pending, undefined);
  // The port is free again for both protocols.
  const again = await DnsServer.start({ address: HOST, port, lookup: new FakeLookup(), upstreams: () => [] });
  assert.equal(again.port, port);
  await again.close();
  await dead.close();
  await assert.rejects(DnsServer.start({ address: 'nonsense', port: 0, lookup: new FakeLookup(), upstreams: () => [] }));
});

test('busybox nslookup against the server (skipped without busybox)', async (t) => {
  const hasBusybox = await new Promise<boolean>((r) => execFile('busybox', ['nslookup'], (err) => r(!err || (err as NodeJS.ErrnoException).code !== 'ENOENT')));
  if (!hasBusybox) return t.skip('no busybox');
  await withDns({}, async ({ dns }) => {
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile('busybox', ['nslookup', ...args], { timeout: 10_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        ),
      );
    const local = await run([`-port=${dns.port}`, 'web', HOST]);
    if (/unrecognized option|invalid option|usage/i.test(local.out)) return t.skip('busybox nslookup has no -port');
    assert.equal(local.code, 0, local.out);
    assert.match(local.out, /Address:\s*10\.89\.0\.2/);
    const fwd = await run([`-port=${dns.port}`, 'example.test', HOST]);
    assert.match(fwd.out, /Address:\s*192\.0\.2\.7/);
    const ptr = await run([`-port=${dns.port}`, '10.89.0.2', HOST]);
    assert.match(ptr.out, /web\.mynet/);
  })();
});

test('upstream addresses parse like resolv.conf entries, with an optional port', () => {
  assert.deepEqual(parseUpstream('10.0.0.1'), { host: '10.0.0.1', port: 53 });
  assert.deepEqual(parseUpstream('10.0.0.1:5353'), { host: '10.0.0.1', port: 5353 });
  assert.deepEqual(parseUpstream('::1'), { host: '::1', port: 53 });
  assert.deepEqual(parseUpstream('[fd00::1]:54'), { host: 'fd00::1', port: 54 });
  assert.deepEqual(parseUpstream('fe80::1%eth0'), { host: 'fe80::1%eth0', port: 53 });
  assert.equal(parseUpstream('dns.example'), undefined);
  assert.equal(parseUpstream('10.0.0.1:0'), undefined);
  assert.equal(parseUpstream('10.0.0.1:99999'), undefined);
});

test('an upstream with no route to it (a namespace without one): the forward fails, the process lives', async () => {
  // in a network namespace of its own with only loopback, connecting a UDP socket to any other
  // address fails at once (ENETUNREACH); that failure once reached an unconnected send and threw
  const forwardJs = require.resolve('../../src/network/dns/forward');
  const script = `
    const { forward } = require(${JSON.stringify(forwardJs)});
    const dnsPacket = require('dns-packet');
    const q = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'example.test' }] });
    forward(q, [{ host: '192.0.2.1', port: 53 }, { host: '192.0.2.2', port: 53 }], { transport: 'udp', timeoutMs: 500, signal: new AbortController().signal, log: () => {} })
      .then((a) => { console.log(a === undefined ? 'no answer' : 'answer'); setTimeout(() => console.log('alive'), 100); });
  `;
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile('unshare', ['--net', process.execPath, '-e', script], { cwd: __dirname, timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, 'no answer\nalive\n');
});
