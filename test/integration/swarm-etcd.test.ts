/**
 * Three etcd members under EtcdMember, with certificates from the swarm CA (mutual TLS for
 * clients and peers), and EtcdClient against all three: reads, writes and transactions,
 * leases that expire, a watch that outlives the member it was reading from, fail-over
 * with one member of three gone, and clients without a good certificate refused.
 *
 * Everything runs in a network namespace this test makes (lo up: the members listen on
 * 127.0.0.11-13), so nothing reaches past the machine: the file runs itself again inside
 * the namespace, through nsenter, and the outer run only makes and removes the namespace
 * and reports. Clean-up kills what is left in the namespace, by pid, whatever happened.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { EtcdClient, JsonStream, type EtcdTls, type WatchEvent } from '../../src/swarm/etcd/client';
import { EtcdMember } from '../../src/swarm/etcd/supervisor';
import { createRootCA, issueCertificate, type CA } from '../../src/swarm/pki';
import { sleep, until } from '../helpers/wait';

const INNER_ENV = 'BERTH_TEST_ETCD_NETNS_DIR';

if (!process.env[INNER_ENV]) outer();
else inner(process.env[INNER_ENV]);

/** Makes the namespace, runs this file inside it, and removes everything afterwards. */
function outer(): void {
  test('the watch stream splits JSON objects however they arrive', () => {
    const p = new JsonStream();
    const text = '{"result":{"a":"{\\"}"}}\n{"result":{"b":[1,{"c":"]"}]}}{"error":{"message":"x"}}\n\n';
    const got: unknown[] = [];
    for (let i = 0; i < text.length; i += 3) got.push(...p.push(text.slice(i, i + 3)));
    assert.deepEqual(got, [{ result: { a: '{"}' } }, { result: { b: [1, { c: ']' }] } }, { error: { message: 'x' } }]);
    assert.deepEqual(p.push(''), []);
  });

  test('etcd members with mutual TLS, in a network namespace of their own', { timeout: 90_000 }, async (t) => {
    const ns = `berth-etcd-${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-etcd-test-'));
    try {
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const env: NodeJS.ProcessEnv = { ...process.env, [INNER_ENV]: dir };
      // the inner run is a test run of its own, not a child of this one
      delete env.NODE_TEST_CONTEXT;
      const child = spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, '--test-reporter=spec', __filename], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 80_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      clearTimeout(killer);
      for (const line of out.split('\n')) if (/^\s*(✔|✖|ℹ)/.test(line)) t.diagnostic(line.trim());
      assert.equal(code, 0, `the run inside the namespace failed:\n${out}`);
    } finally {
      // whatever is left in the namespace was started by this test
      let pids: number[] = [];
      try {
        pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
      } catch {
        // no namespace
      }
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      if (pids.length) await sleep(200);
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        // never made
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

interface Lab {
  ca: CA;
  members: { name: string; addr: string; clientPort: number; peerPort: number; tls: EtcdTls; member: EtcdMember; logs: string[] }[];
  clientTls: EtcdTls;
  foreignTls: EtcdTls;
  client: EtcdClient;
}

/** The tests proper, inside the namespace; `dir` is the outer run's, removed by it. */
function inner(dir: string): void {
  const lab = {} as Lab;
  const clients: EtcdClient[] = [];
  const url = (m: Lab['members'][number]) => `https://${m.addr}:${m.clientPort}`;
  const peerUrl = (m: Lab['members'][number]) => `https://${m.addr}:${m.peerPort}`;
  const newClient = (endpoints: string[], tls: EtcdTls | undefined, timeoutMs = 3000) => {
    const c = new EtcdClient({ endpoints, tls, timeoutMs });
    clients.push(c);
    return c;
  };

  async function writeCert(ca: CA, name: string, ou: string, ips: string[]): Promise<EtcdTls> {
    const d = path.join(dir, 'certs', name);
    mkdirSync(d, { recursive: true });
    const issued = await issueCertificate(ca, { commonName: name, organizationalUnit: ou, organization: 'cluster-test', ipAddresses: ips });
    writeFileSync(path.join(d, 'ca.crt'), ca.certPem);
    writeFileSync(path.join(d, 'node.crt'), issued.certPem);
    writeFileSync(path.join(d, 'node.key'), issued.keyPem, { mode: 0o600 });
    return { caFile: path.join(d, 'ca.crt'), certFile: path.join(d, 'node.crt'), keyFile: path.join(d, 'node.key') };
  }

  /** Starts a member: the first makes the cluster, the others are added to it first. */
  async function startMember(i: number): Promise<void> {
    const m = lab.members[i];
    let initialCluster = `${m.name}=${peerUrl(m)}`;
    let state: 'new' | 'existing' = 'new';
    if (i > 0) {
      const added = await lab.client.memberAdd([peerUrl(m)]);
      assert.match(added.ID, /^\d+$/);
      assert.deepEqual(added.peerURLs, [peerUrl(m)]);
      initialCluster = added.members.map((x) => `${x.ID === added.ID ? m.name : x.name}=${x.peerURLs[0]}`).join(',');
      state = 'existing';
    }
    await m.member.start({
      name: m.name,
      dataDir: path.join(dir, m.name, 'etcd'),
      advertiseAddress: m.addr,
      clientPort: m.clientPort,
      peerPort: m.peerPort,
      tls: m.tls,
      initialCluster,
      initialClusterState: state,
      log: (msg) => m.logs.push(msg),
    });
    await m.member.ready(20_000);
  }

  before(async () => {
    lab.ca = await createRootCA(path.join(dir, 'ca'));
    const foreignCA = await createRootCA(path.join(dir, 'foreign-ca'));
    lab.members = [];
    // one address each, but 127.0.0.1 is shared: ports differ too
    for (let i = 1; i <= 3; i++) {
      const addr = `127.0.0.1${i}`;
      const tls = await writeCert(lab.ca, `m${i}`, 'swarm-manager', [addr]);
      lab.members.push({ name: `m${i}`, addr, clientPort: 2379 + i * 10000, peerPort: 2380 + i * 10000, tls, member: new EtcdMember(), logs: [] });
    }
    lab.clientTls = await writeCert(lab.ca, 'client', 'swarm-worker', []);
    lab.foreignTls = await writeCert(foreignCA, 'intruder', 'swarm-manager', []);
    lab.foreignTls.caFile = lab.clientTls.caFile;
    lab.client = newClient([url(lab.members[0])], lab.clientTls);
    await startMember(0);
    await startMember(1);
    await startMember(2);
    lab.client = newClient(lab.members.map(url), lab.clientTls);
  });

  after(async () => {
    for (const c of clients) c.close();
    await Promise.all((lab.members ?? []).map((m) => m.member.stop()));
  });

  test('three members, all named, one leader', async () => {
    const members = await lab.client.memberList();
    assert.deepEqual(members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
    for (const m of members) assert.match(m.ID, /^\d+$/);
    const statuses = await Promise.all(lab.members.map((m) => lab.client.status(url(m))));
    assert.equal(new Set(statuses.map((s) => s.leader)).size, 1);
    assert.ok(members.some((m) => m.ID === statuses[0].leader));
    assert.deepEqual(statuses.map((s) => s.memberId).sort(), members.map((m) => m.ID).sort());
    assert.ok(Number(statuses[0].raftIndex) > 0);
  });

  test('put, get, prefixes and transactions', async () => {
    const c = lab.client;
    await c.put('/t/a', 'one');
    const a = await c.get('/t/a');
    assert.equal(a?.value, 'one');
    assert.equal(a?.createRevision, a?.modRevision);
    assert.equal(await c.get('/t/none'), undefined);
    // any bytes of UTF-8 in keys and values
    await c.put('/t/ü ñ', 'ключ\n"x"');
    assert.equal((await c.get('/t/ü ñ'))?.value, 'ключ\n"x"');

    assert.equal(await c.putIfAbsent('/t/a', 'two'), false);
    assert.equal(await c.putIfAbsent('/t/b', 'two'), true);
    assert.equal((await c.get('/t/b'))?.value, 'two');

    assert.equal(await c.putIfModRevision('/t/a', 'three', BigInt(a!.modRevision) - 1n + ''), false);
    assert.equal(await c.putIfModRevision('/t/a', 'three', a!.modRevision), true);
    const a2 = await c.get('/t/a');
    assert.equal(a2?.value, 'three');
    assert.equal(a2?.createRevision, a!.createRevision);
    assert.equal(await c.deleteIfModRevision('/t/a', a!.modRevision), false);
    assert.equal(await c.deleteIfModRevision('/t/a', a2!.modRevision), true);
    assert.equal(await c.get('/t/a'), undefined);

    await c.put('/t/sub/1', 'x');
    await c.put('/t/sub/2', 'y');
    await c.put('/t/sub0', 'outside the prefix /t/sub/');
    const { kvs, revision } = await c.getPrefix('/t/sub/');
    assert.deepEqual(kvs.map((kv) => [kv.key, kv.value]), [['/t/sub/1', 'x'], ['/t/sub/2', 'y']]);
    assert.ok(BigInt(revision) >= BigInt(kvs[1].modRevision));
    await c.deletePrefix('/t/sub/');
    assert.deepEqual((await c.getPrefix('/t/sub/')).kvs, []);
    assert.equal((await c.get('/t/sub0'))?.value, 'outside the prefix /t/sub/');
    await c.delete('/t/sub0');
    assert.equal(await c.get('/t/sub0'), undefined);
  });

  test('a lease keeps its keys while kept alive, and lets them go when not', async () => {
    const c = lab.client;
    const id = await c.grantLease(2);
    assert.equal(typeof id, 'string');
    assert.match(id, /^\d+$/);
    await c.put('/lease/held', 'x', { lease: id });
    assert.equal(await c.putIfAbsent('/lease/absent', 'y', id), true);
    // kept alive past its TTL
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      assert.ok((await c.keepAlive(id)) > 0);
    }
    assert.equal((await c.get('/lease/held'))?.value, 'x');
    const started = Date.now();
    await until('the lease to expire', async () => ((await c.get('/lease/held')) === undefined ? true : undefined), 8000);
    assert.ok(Date.now() - started >= 1000, 'not before its TTL');
    assert.equal(await c.get('/lease/absent'), undefined);
    assert.equal(await c.keepAlive(id), 0);

    const other = await c.grantLease(30);
    await c.put('/lease/revoked', 'z', { lease: other });
    await c.revokeLease(other);
    assert.equal(await c.get('/lease/revoked'), undefined);
    assert.equal(await c.keepAlive(other), 0);
    await c.revokeLease(other); // already gone: no error
  });

  test('a client without a certificate of the swarm CA is refused', async () => {
    const endpoint = url(lab.members[1]);
    const foreign = newClient([endpoint], lab.foreignTls);
    await assert.rejects(foreign.get('/t/b'), (e: Error) => e.message.includes(endpoint));
    // TLS without a client certificate
    const status = await new Promise<string>((resolve) => {
      const req = https.request(`${endpoint}/v3/kv/range`, { method: 'POST', ca: readFileSync(lab.clientTls.caFile) }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e) => resolve(`refused: ${e.message}`));
      req.end(JSON.stringify({ key: Buffer.from('/t/b').toString('base64') }));
    });
    assert.match(status, /^refused/);
    // plain HTTP to a TLS port
    const plain = newClient([endpoint.replace('https:', 'http:')], undefined);
    await assert.rejects(plain.get('/t/b'));
  });

  test('an endpoint that does not answer is passed over, and errors name it', async () => {
    const dead = 'https://127.0.0.99:2379';
    const c = newClient([dead, url(lab.members[2])], lab.clientTls);
    assert.equal((await c.get('/t/b'))?.value, 'two');
    const only = newClient([dead], lab.clientTls);
    await assert.rejects(only.get('/t/b'), (e: Error) => e.message.includes(dead));
  });

  test('a watch from a compacted revision reports it', async () => {
    const c = lab.client;
    await c.put('/compact/x', '1');
    const rev = (await c.get('/compact/x'))!.modRevision;
    await c.put('/compact/x', '2');
    await c.call('/v3/kv/compaction', { revision: String(BigInt(rev) + 1n), physical: true });
    const errors: Error[] = [];
    const w = c.watchPrefix('/compact/', rev, () => undefined, (e) => errors.push(e));
    try {
      await until('the compaction reported', async () => (errors.some((e) => /compacted/.test(e.message)) ? true : undefined), 5000);
    } finally {
      w.close();
    }
  });

  test('a watch sees puts and deletes, in order, and outlives the member it reads from', async () => {
    const [m1] = lab.members;
    // the watch reads from m1 (its first endpoint), the first member and likely the leader
    const wc = newClient(lab.members.map(url), lab.clientTls);
    const events: WatchEvent[] = [];
    const errors: Error[] = [];
    const w = wc.watchPrefix('/w/', 0, (evs) => events.push(...evs), (e) => errors.push(e));
    try {
      const seen = (n: number) => until(`${n} watch events`, async () => (events.length >= n ? true : undefined), 15_000);
      // a watch from now: it must be set up before the first put counts
      await sleep(300);
      await lab.client.put('/w/1', 'a');
      await lab.client.put('/w/2', 'b');
      await lab.client.delete('/w/1');
      await lab.client.put('/not-watched', 'x');
      await seen(3);
      assert.deepEqual(events.map((e) => [e.type, e.key, e.value]), [['put', '/w/1', 'a'], ['put', '/w/2', 'b'], ['delete', '/w/1', undefined]]);

      const pid = m1.member.pid!;
      process.kill(pid, 'SIGKILL');
      // writes go on while m1 is gone (and a new leader is chosen if it led)
      const retry = <T>(what: string, fn: () => Promise<T>) => until(what, async () => ({ v: await fn() }), 15_000);
      await retry('a put after the kill', () => lab.client.put('/w/3', 'c'));
      await retry('a delete after the kill', () => lab.client.delete('/w/2'));
      await seen(5);
      assert.deepEqual(events.slice(3).map((e) => [e.type, e.key, e.value]), [['put', '/w/3', 'c'], ['delete', '/w/2', undefined]]);
      assert.ok(errors.length > 0, 'the broken stream was reported');
      // revisions rise one by one: nothing seen twice
      const revs = events.map((e) => BigInt(e.modRevision!));
      for (let i = 1; i < revs.length; i++) assert.ok(revs[i] > revs[i - 1], `revisions ${revs.join(',')}`);

      // the supervisor starts m1 again
      await until('m1 started again', async () => (m1.member.pid && m1.member.pid !== pid ? true : undefined), 10_000);
      await m1.member.ready(15_000);
      assert.ok(m1.logs.some((l) => /etcd exited \(SIGKILL\)/.test(l)), m1.logs.join('\n'));
      assert.equal((await lab.client.status(url(m1))).memberId !== '', true);

      // two of three keep the cluster working: m3 stops for good
      await lab.members[2].member.stop();
      await retry('a put with m3 stopped', () => lab.client.put('/w/4', 'd'));
      assert.equal((await lab.client.get('/w/4'))?.value, 'd');
      assert.equal(await lab.client.putIfAbsent('/w/5', 'e'), true);
      await seen(7);
      assert.deepEqual(events.slice(5).map((e) => [e.type, e.key]), [['put', '/w/4'], ['put', '/w/5']]);
    } finally {
      w.close();
    }
  });
}
