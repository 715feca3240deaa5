import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO, TestDaemon, runCommand } from '../helpers/daemon';

// Container networking for real, with berthd in a namespace of the test's own. An "outside"
// namespace (10.200.0.2, reached over a veth from the daemon's 10.200.0.1) plays the world:
// an HTTP server that tells who called (to see NAT) and the upstream DNS resolver.
let d: TestDaemon;
let work: string;
let outside: ChildProcess | undefined;
const OUTSIDE_NS = () => `${d.netns}-out`;

const inDaemonNs = (...args: string[]) => runCommand('nsenter', [`--net=/run/netns/${d.netns}`, ...args], { timeoutMs: 20_000 });
const inOutsideNs = (...args: string[]) => runCommand('nsenter', [`--net=/run/netns/${OUTSIDE_NS()}`, ...args], { timeoutMs: 20_000 });

before(async () => {
  d = await TestDaemon.start(['--dns', '10.200.0.2']);
  const out = OUTSIDE_NS();
  const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { stdio: 'pipe' });
  sh('ip', 'netns', 'add', out);
  sh('ip', 'link', 'add', `vo-${d.tag}`.slice(0, 15), 'type', 'veth', 'peer', 'name', `vp-${d.tag}`.slice(0, 15));
  sh('ip', 'link', 'set', `vo-${d.tag}`.slice(0, 15), 'netns', d.netns);
  sh('ip', 'link', 'set', `vp-${d.tag}`.slice(0, 15), 'netns', out);
  const dn = (...a: string[]) => sh('nsenter', `--net=/run/netns/${d.netns}`, ...a);
  const on = (...a: string[]) => sh('nsenter', `--net=/run/netns/${out}`, ...a);
  dn('ip', 'addr', 'add', '10.200.0.1/24', 'dev', `vo-${d.tag}`.slice(0, 15));
  dn('ip', 'link', 'set', `vo-${d.tag}`.slice(0, 15), 'up');
  on('ip', 'link', 'set', 'lo', 'up');
  on('ip', 'addr', 'add', '10.200.0.2/24', 'dev', `vp-${d.tag}`.slice(0, 15));
  on('ip', 'link', 'set', `vp-${d.tag}`.slice(0, 15), 'up');
  outside = spawn('nsenter', [`--net=/run/netns/${out}`, process.execPath, path.join(__dirname, '..', 'helpers', 'outside-services.js'), '10.200.0.2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    outside!.stdout!.once('data', () => resolve());
    outside!.once('exit', (c) => reject(new Error(`outside services exited ${c}`)));
  });
  work = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-net-'));
  // busybox has no UDP server: a static one of our own, built into a small image
  execFileSync('gcc', ['-static', '-O2', '-o', path.join(work, 'udp-echo'), path.join(REPO, 'test', 'helpers', 'udp-echo.c')]);
  await fsp.writeFile(path.join(work, 'Dockerfile'), 'FROM busybox\nCOPY udp-echo /udp-echo\nEXPOSE 7/udp 80\n');
  const b = await d.berth(['build', '-q', '-t', 'nettools', work]);
  assert.equal(b.code, 0, b.stderr);
});

after(async () => {
  if (outside?.pid && outside.exitCode === null) process.kill(outside.pid, 'SIGKILL');
  await d?.cleanup();
  try {
    execFileSync('ip', ['netns', 'del', OUTSIDE_NS()], { stdio: 'ignore' });
  } catch {
    /* not made */
  }
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

const inspect = async (name: string, format: string) => (await d.berth(['inspect', '-f', format, name])).stdout.trim();

test('containers on the default bridge get their own address, a default route and outbound NAT', async () => {
  const r = await d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'ip -4 addr show eth0; ip route; cat /etc/hosts']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /inet 172\.17\.\d+\.\d+\/16/);
  assert.match(r.stdout, /default via 172\.17\.0\.1 dev eth0/);
  const ip = /inet (172\.17\.\d+\.\d+)\//.exec(r.stdout)![1];
  assert.match(r.stdout, new RegExp(`${ip.replace(/\./g, '\\.')}\\t[0-9a-f]{12}`), 'the container address is in /etc/hosts');
  const nat = await d.berth(['run', '--rm', 'busybox', 'wget', '-qO-', 'http://10.200.0.2:8000/']);
  assert.equal(nat.stdout.trim(), '10.200.0.1', `the outside sees the daemon's address: ${nat.stderr}`);

  const a = await d.berth(['run', '-d', '--name', 'a1', 'busybox', 'sleep', '300']);
  const b = await d.berth(['run', '-d', '--name', 'a2', 'busybox', 'sleep', '300']);
  assert.equal(a.code + b.code, 0);
  const ipA = await inspect('a1', '{{.NetworkSettings.IPAddress}}');
  const ipB = await inspect('a2', '{{.NetworkSettings.Networks.bridge.IPAddress}}');
  assert.match(ipA, /^172\.17\./);
  assert.notEqual(ipA, ipB);
  const ping = await d.berth(['exec', 'a1', 'ping', '-c1', '-W2', ipB]);
  assert.equal(ping.code, 0, 'containers on one bridge reach each other');
  assert.equal((await d.berth(['rm', '-f', 'a1', 'a2'])).code, 0);
});

test('host, none, --dns and --add-host', async () => {
  const none = await d.berth(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
  assert.deepEqual(none.stdout.trim().split('\n').map((l) => l.split(':')[1].trim()), ['lo']);
  const host = await d.berth(['run', '--rm', '--network', 'host', 'busybox', 'ip', '-o', 'link']);
  assert.match(host.stdout, /berthdummy0/, 'the host network is the daemon\'s namespace');
  const files = await d.berth(['run', '--rm', '--dns', '10.0.0.2', '--add-host', 'h:1.2.3.4', '--add-host', 'gw:host-gateway', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf /etc/hosts']);
  assert.match(files.stdout, /^nameserver 10\.0\.0\.2$/m);
  assert.match(files.stdout, /^1\.2\.3\.4\th$/m);
  assert.match(files.stdout, /^172\.17\.0\.1\tgw$/m);
});

test('published ports: TCP and UDP, fixed and random, from 127.0.0.1 and from outside; conflicts refused', async () => {
  const web = await d.berth(['run', '-d', '--name', 'web', '-p', '8080:80', '-p', '127.0.0.1:5353:7/udp', 'nettools', 'sh', '-c', '/udp-echo 7 & httpd -f -p 80 -h /etc']);
  assert.equal(web.code, 0, web.stderr);
  const hostname = (await inspect('web', '{{.Config.Hostname}}'));
  const local = await inDaemonNs('curl', '-s', '--max-time', '5', 'http://127.0.0.1:8080/hostname');
  assert.equal(local.stdout.trim(), hostname, 'through 127.0.0.1 of the daemon namespace');
  const remote = await inOutsideNs('curl', '-s', '--max-time', '5', 'http://10.200.0.1:8080/hostname');
  assert.equal(remote.stdout.trim(), hostname, "through the daemon's address, from outside");
  const udp = await inDaemonNs(process.execPath, '-e', `
    const s = require('dgram').createSocket('udp4');
    s.on('message', (m) => { console.log(m.toString()); process.exit(0); });
    s.send('ping-udp', 5353, '127.0.0.1'); setTimeout(() => process.exit(1), 4000);`);
  assert.equal(udp.stdout.trim(), 'ping-udp', 'UDP published on 127.0.0.1');

  const ports = JSON.parse(await inspect('web', '{{json .NetworkSettings.Ports}}'));
  assert.deepEqual(ports['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }]);
  assert.deepEqual(ports['7/udp'], [{ HostIp: '127.0.0.1', HostPort: '5353' }]);

  const clash = await d.berth(['run', '-d', '--name', 'web2', '-p', '8080:80', 'busybox', 'sleep', '300']);
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, /Bind for 0\.0\.0\.0:8080 failed: port is already allocated/);
  await d.berth(['rm', '-f', 'web2']);

  const all = await d.berth(['run', '-d', '--name', 'webp', '-P', 'nettools', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  assert.equal(all.code, 0, all.stderr);
  const random = JSON.parse(await inspect('webp', '{{json .NetworkSettings.Ports}}'));
  const hostPort = Number(random['80/tcp'][0].HostPort);
  assert.deepEqual(random['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }, { HostIp: '::', HostPort: String(hostPort) }], 'a random port is the same on both families');
  assert.ok(hostPort >= 49153 && hostPort <= 60999, `random port ${hostPort}`);
  assert.ok(random['7/udp'][0].HostPort);
  const viaRandom = await inDaemonNs('curl', '-s', '--max-time', '5', `http://127.0.0.1:${hostPort}/hostname`);
  assert.equal(viaRandom.stdout.trim(), await inspect('webp', '{{.Config.Hostname}}'));

  // the docker CLI shows them too
  const dockerPort = await d.docker(['port', 'web', '80']);
  assert.equal(dockerPort.code, 0, dockerPort.stderr);
  assert.equal(dockerPort.stdout, '0.0.0.0:8080\n[::]:8080\n');
  const ps = await d.docker(['ps', '--format', '{{.Names}} {{.Ports}}', '--filter', 'name=web']);
  assert.match(ps.stdout, /^web .*0\.0\.0\.0:8080->80\/tcp, \[::\]:8080->80\/tcp/m);

  const ranged = await d.berth(['run', '-d', '--name', 'webr', '-p', '9000-9001:80-81', 'busybox', 'sleep', '300']);
  assert.equal(ranged.code, 0, ranged.stderr);
  const rp = JSON.parse(await inspect('webr', '{{json .NetworkSettings.Ports}}'));
  assert.equal(rp['80/tcp'][0].HostPort, '9000');
  assert.equal(rp['81/tcp'][0].HostPort, '9001');

  assert.equal((await d.berth(['rm', '-f', 'web', 'webp', 'webr'])).code, 0);
  const gone = await inDaemonNs('curl', '-s', '--max-time', '2', 'http://127.0.0.1:8080/hostname');
  assert.equal(gone.code, 7, `the port is closed after rm (curl: 7, connection refused): ${gone.stderr}`);
  const again = await d.berth(['run', '-d', '--name', 'web3', '-p', '8080:80', 'busybox', 'sleep', '300']);
  assert.equal(again.code, 0, `the port is free again: ${again.stderr}`);
  await d.berth(['rm', '-f', 'web3']);
});

test('published ports without a host IP answer on [::] too (relayed to the IPv4 container); explicit addresses and a namespace without IPv6 keep one', async () => {
  assert.equal((await inDaemonNs('cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6')).stdout.trim(), '0', "the daemon's namespace has IPv6");
  const web = await d.berth(['run', '-d', '--name', 'v6web', '-p', '8180:80', '-p', '127.0.0.1:8181:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  assert.equal(web.code, 0, web.stderr);
  const hostname = await inspect('v6web', '{{.Config.Hostname}}');
  for (const url of ['http://127.0.0.1:8180/hostname', 'http://[::1]:8180/hostname', 'http://127.0.0.1:8181/hostname']) {
    const got = await inDaemonNs('curl', '-s', '--max-time', '5', url);
    assert.equal(got.stdout.trim(), hostname, `${url}: ${got.stderr}`);
  }
  const onlyV4 = await inDaemonNs('curl', '-s', '--max-time', '2', 'http://[::1]:8181/hostname');
  assert.equal(onlyV4.code, 7, `127.0.0.1:8181 is not on [::1] (curl: 7, refused): ${onlyV4.stderr}`);

  const ports = JSON.parse(await inspect('v6web', '{{json .NetworkSettings.Ports}}'));
  assert.deepEqual(ports['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '8180' }, { HostIp: '::', HostPort: '8180' }, { HostIp: '127.0.0.1', HostPort: '8181' }]);
  const list = (await d.api('GET', '/containers/json?filters=' + encodeURIComponent(JSON.stringify({ name: ['v6web'] })))).json() as { Ports: unknown[] }[];
  assert.deepEqual(
    [...list[0].Ports].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8180, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8181, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8180, Type: 'tcp' },
    ],
  );
  for (const cli of [d.docker.bind(d), d.berth.bind(d)]) {
    const port = await cli(['port', 'v6web']);
    assert.equal(port.stdout, '80/tcp -> 0.0.0.0:8180\n80/tcp -> 127.0.0.1:8181\n80/tcp -> [::]:8180\n', port.stderr);
    const ps = await cli(['ps', '--format', '{{.Ports}}', '--filter', 'name=v6web']);
    assert.equal(ps.stdout.trim(), '0.0.0.0:8180->80/tcp, 127.0.0.1:8181->80/tcp, [::]:8180->80/tcp', ps.stderr);
  }
  const clash = await d.berth(['run', '-d', '--name', 'v6clash', '-p', '[::]:8180:80', 'busybox', 'sleep', '300']);
  assert.notEqual(clash.code, 0, 'the [::] twin holds the port');
  assert.match(clash.stderr, /Bind for :::8180 failed: port is already allocated/);
  await d.berth(['rm', '-f', 'v6clash']);

  // a daemon crash: the running container's two sockets are held again from its record
  await d.stopProcess('SIGKILL');
  await d.startProcess();
  const again = await inDaemonNs('curl', '-s', '--max-time', '5', 'http://[::1]:8180/hostname');
  assert.equal(again.stdout.trim(), hostname, `[::1]:8180 after a daemon restart: ${again.stderr}`);
  assert.deepEqual(JSON.parse(await inspect('v6web', '{{json .NetworkSettings.Ports}}'))['80/tcp'], ports['80/tcp']);

  assert.equal((await d.berth(['stop', '-t', '1', 'v6web'])).code, 0);
  const stopped = await inDaemonNs('curl', '-s', '--max-time', '2', 'http://[::1]:8180/hostname');
  assert.equal(stopped.code, 7, `[::]:8180 is released at stop: ${stopped.stderr}`);
  assert.equal((await d.berth(['rm', '-f', 'v6web'])).code, 0);

  // a namespace without IPv6: IPv4 alone, as Docker does
  await inDaemonNs('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
  try {
    const v4 = await d.berth(['run', '-d', '--name', 'v4web', '-p', '8182:80', 'busybox', 'sleep', '300']);
    assert.equal(v4.code, 0, v4.stderr);
    assert.deepEqual(JSON.parse(await inspect('v4web', '{{json .NetworkSettings.Ports}}'))['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '8182' }]);
  } finally {
    await d.berth(['rm', '-f', 'v4web']);
    await inDaemonNs('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0');
  }
});

test('user-defined networks: names, aliases and short IDs resolve; other names are forwarded; networks are apart', async () => {
  const create = await d.berth(['network', 'create', '--subnet', '10.89.0.0/24', '--gateway', '10.89.0.1', '--label', 'team=a', 'appnet']);
  assert.equal(create.code, 0, create.stderr);
  const db = await d.berth(['run', '-d', '--network', 'appnet', '--name', 'db', '--network-alias', 'database', 'busybox', 'sleep', '300']);
  assert.equal(db.code, 0, db.stderr);
  const dbIp = await inspect('db', '{{.NetworkSettings.Networks.appnet.IPAddress}}');
  assert.match(dbIp, /^10\.89\.0\.\d+$/);

  const byName = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'ping', '-c1', '-W2', 'db']);
  assert.equal(byName.code, 0, `ping db: ${byName.stdout}${byName.stderr}`);
  const alias = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'database']);
  assert.match(alias.stdout, new RegExp(dbIp.replace(/\./g, '\\.')));
  const short = (await d.berth(['inspect', '-f', '{{.Id}}', 'db'])).stdout.trim().slice(0, 12);
  const byId = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', short]);
  assert.match(byId.stdout, new RegExp(dbIp.replace(/\./g, '\\.')));
  const forwarded = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'example.test']);
  assert.match(forwarded.stdout, /192\.0\.2\.7/, `forwarded to the upstream: ${forwarded.stdout}${forwarded.stderr}`);
  const resolv = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'cat', '/etc/resolv.conf']);
  assert.match(resolv.stdout, /nameserver 10\.89\.0\.1/);

  // the default bridge and appnet cannot reach each other
  // (ping exits 1 when no reply came; a missing binary or a failed run would exit 125-127)
  const other = await d.berth(['run', '--rm', 'busybox', 'ping', '-c1', '-W1', dbIp]);
  assert.equal(other.code, 1, `isolated from the default bridge: ${other.stdout}${other.stderr}`);
  assert.match(other.stdout, /1 packets transmitted, 0 packets received, 100% packet loss/);
  // the default bridge has no names
  const noDns = await d.berth(['run', '--rm', 'busybox', 'ping', '-c1', '-W1', 'db']);
  assert.equal(noDns.code, 1, `${noDns.stdout}${noDns.stderr}`);
  assert.match(noDns.stderr, /^ping: bad address 'db'$/m);

  const inspectNet = JSON.parse((await d.berth(['network', 'inspect', 'appnet'])).stdout)[0];
  assert.equal(inspectNet.IPAM.Config[0].Subnet, '10.89.0.0/24');
  assert.deepEqual(inspectNet.Labels, { team: 'a' });
  const dbId = (await d.berth(['inspect', '-f', '{{.Id}}', 'db'])).stdout.trim();
  assert.equal(inspectNet.Containers[dbId].IPv4Address, `${dbIp}/24`);
});

test('static addresses, connect and disconnect on a running container, container: mode', async () => {
  const fixed = await d.berth(['run', '-d', '--network', 'appnet', '--ip', '10.89.0.50', '--name', 'fixed', 'busybox', 'sleep', '300']);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(await inspect('fixed', '{{.NetworkSettings.Networks.appnet.IPAddress}}'), '10.89.0.50');
  const taken = await d.berth(['run', '-d', '--network', 'appnet', '--ip', '10.89.0.50', '--name', 'fixed2', 'busybox', 'sleep', '300']);
  assert.notEqual(taken.code, 0);
  assert.match(taken.stderr, /Address already in use/);
  await d.berth(['rm', '-f', 'fixed2']);
  const outsideSubnet = await d.berth(['run', '--rm', '--network', 'appnet', '--ip', '10.90.0.5', 'busybox', 'true']);
  assert.notEqual(outsideSubnet.code, 0);
  assert.match(outsideSubnet.stderr, /no configured subnet or ip-range contain the IP address 10\.90\.0\.5/);

  assert.equal((await d.berth(['run', '-d', '--name', 'roamer', 'busybox', 'sleep', '300'])).code, 0);
  const connect = await d.berth(['network', 'connect', '--alias', 'wanderer', 'appnet', 'roamer']);
  assert.equal(connect.code, 0, connect.stderr);
  const two = await d.berth(['exec', 'roamer', 'ip', '-4', '-o', 'addr']);
  assert.match(two.stdout, /eth1\s+inet 10\.89\.0\.\d+/);
  const found = await d.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'nslookup', 'wanderer']);
  assert.match(found.stdout, /10\.89\.0\./);
  const twice = await d.berth(['network', 'connect', 'appnet', 'roamer']);
  assert.notEqual(twice.code, 0);
  assert.match(twice.stderr, /already exists in network appnet/);
  assert.equal((await d.berth(['network', 'disconnect', 'appnet', 'roamer'])).code, 0);
  const one = await d.berth(['exec', 'roamer', 'ip', '-4', '-o', 'addr']);
  assert.doesNotMatch(one.stdout, /eth1/);

  const shared = await d.berth(['run', '--rm', '--network', 'container:fixed', 'busybox', 'ip', '-4', '-o', 'addr']);
  assert.match(shared.stdout, /10\.89\.0\.50/);
  assert.equal((await d.berth(['rm', '-f', 'fixed', 'roamer'])).code, 0);
});

test('internal networks have no way out; bad input is refused in Docker\'s words', async () => {
  assert.equal((await d.berth(['network', 'create', '--internal', 'inet'])).code, 0);
  // nc, not wget: busybox-static's wget dies of SIGSEGV (139) on any failed connect, which told nothing
  const out = await d.berth(['run', '--rm', '--network', 'inet', 'busybox', 'nc', '-w', '2', '10.200.0.2', '8000']);
  assert.equal(out.code, 1, `no route out of an internal network: ${out.stdout}${out.stderr}`);
  assert.equal(out.stderr, "nc: can't connect to remote host (10.200.0.2): Network is unreachable\n");

  const overlap = await d.berth(['network', 'create', '--subnet', '10.89.0.0/16', 'overlapping']);
  assert.notEqual(overlap.code, 0);
  assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
  const badCidr = await d.berth(['network', 'create', '--subnet', '10.300.0.0/24', 'badcidr']);
  assert.notEqual(badCidr.code, 0);
  assert.match(badCidr.stderr, /unable to parse IP/); // the CLI checks it first, as docker's does
  const apiCidr = await d.api('POST', '/networks/create', { Name: 'badcidr', IPAM: { Config: [{ Subnet: '10.300.0.0/24' }] } });
  assert.equal(apiCidr.status, 400);
  assert.match(apiCidr.json().message, /invalid CIDR address: 10\.300\.0\.0\/24/);
  const dup = await d.berth(['network', 'create', 'appnet']);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /network with name appnet already exists/);
  const unknown = await d.berth(['run', '--rm', '--network', 'nonet', 'busybox', 'true']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /network nonet not found/);
  const inUse = await d.berth(['network', 'rm', 'appnet']);
  assert.notEqual(inUse.code, 0);
  assert.match(inUse.stderr, /has active endpoints/);
  const builtin = await d.berth(['network', 'rm', 'bridge']);
  assert.match(builtin.stderr, /bridge is a pre-defined network and cannot be removed/);
  const badPort = await d.berth(['run', '--rm', '-p', '80000:80', 'busybox', 'true']);
  assert.notEqual(badPort.code, 0);
});

test('the docker CLI creates, lists, inspects, uses and removes networks', async () => {
  const create = await d.docker(['network', 'create', '--subnet', '10.91.0.0/24', '--label', 'via=docker', 'dnet']);
  assert.equal(create.code, 0, create.stderr);
  const id = create.stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ls = await d.docker(['network', 'ls', '--filter', 'label=via=docker', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
  assert.equal(ls.stdout.trim(), 'dnet bridge local');
  const all = await d.docker(['network', 'ls']);
  assert.match(all.stdout, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE/);
  for (const builtin of ['bridge', 'host', 'none']) assert.match(all.stdout, new RegExp(`\\s${builtin}\\s`));
  const inspectNet = JSON.parse((await d.docker(['network', 'inspect', 'dnet'])).stdout)[0];
  assert.equal(inspectNet.Id, id);
  assert.equal(inspectNet.IPAM.Config[0].Gateway, '10.91.0.1');
  const run = await d.docker(['run', '--rm', '--network', 'dnet', '--name', 'dcli', 'busybox', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
  assert.match(run.stdout, /inet 10\.91\.0\.\d+\/24/, run.stderr);
  const rm = await d.docker(['network', 'rm', 'dnet']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout.trim(), 'dnet');
});

test('removing containers and networks leaves nothing behind, also across a daemon crash', async () => {
  const bridgeOf = (await d.berth(['network', 'inspect', '-f', '{{.Id}}', 'appnet'])).stdout.trim().slice(0, 12);
  assert.equal((await d.berth(['run', '-d', '--name', 'survivor', '-p', '8090:80', 'nettools', 'httpd', '-f', '-p', '80', '-h', '/etc'])).code, 0);
  assert.equal((await d.berth(['run', '-d', '--name', 'leaver', '--network', 'appnet', 'busybox', 'sh', '-c', 'sleep 2'])).code, 0);
  const bridgeId = (await d.berth(['network', 'inspect', '-f', '{{.Id}}', 'bridge'])).stdout.trim();
  assert.match(bridgeId, /^[0-9a-f]{64}$/);
  await d.stopProcess('SIGKILL');
  // what a crash in the middle of a start leaves: a namespace and an address lease nobody holds
  const orphanNs = path.join(d.execRoot, 'netns', `${'f'.repeat(64)}-01020304`);
  await fsp.writeFile(orphanNs, '');
  execFileSync('unshare', [`--net=${orphanNs}`, 'true']);
  const orphanLease = path.join(d.dataRoot, 'network', 'ipam', bridgeId, '172.17.0.250');
  await fsp.mkdir(path.dirname(orphanLease), { recursive: true });
  await fsp.writeFile(orphanLease, `${'e'.repeat(64)}-0a0b0c0d\r\neth0`);
  await new Promise((r) => setTimeout(r, 2500)); // leaver exits while berthd is down
  await d.startProcess();
  assert.equal(await fsp.access(orphanNs).then(() => true, () => false), false, 'orphan namespace removed at start-up');
  assert.equal(await fsp.access(orphanLease).then(() => true, () => false), false, 'orphan lease released at start-up');
  const still = await inDaemonNs('curl', '-s', '--max-time', '5', 'http://127.0.0.1:8090/hostname');
  assert.equal(still.stdout.trim(), await inspect('survivor', '{{.Config.Hostname}}'), 'published port works after the crash');
  assert.equal(await inspect('leaver', '{{.State.Status}}'), 'exited');
  assert.equal(await inspect('leaver', '{{.NetworkSettings.SandboxKey}}'), '', 'its sandbox was released at start-up');

  assert.equal((await d.berth(['rm', '-f', 'survivor', 'leaver', 'db'])).code, 0);
  // a sandbox without published ports is torn down just after the container is gone
  let links = '';
  let netnsDir: string[] = [];
  for (let i = 0; i < 40; i++) {
    links = (await inDaemonNs('ip', '-o', 'link', 'show', 'type', 'veth')).stdout;
    netnsDir = await fsp.readdir(path.join(d.execRoot, 'netns')).catch(() => []);
    if (!/master (berth0|br-)/.test(links) && netnsDir.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.doesNotMatch(links, /master (berth0|br-)/, `no veth left on a bridge:\n${links}`);
  assert.deepEqual(netnsDir, [], 'no network namespace left');
  assert.equal((await d.berth(['network', 'rm', 'appnet', 'inet'])).code, 0);
  const bridge = await inDaemonNs('ip', 'link', 'show', `br-${bridgeOf}`);
  assert.notEqual(bridge.code, 0, 'the bridge of a removed network is gone');
  assert.match(bridge.stderr, /^Device "br-[0-9a-f]+" does not exist\.$/m);
  const leases = await fsp.readdir(path.join(d.dataRoot, 'network', 'ipam')).catch(() => []);
  assert.ok(leases.every((n) => n.length === 64), `only leases of existing networks: ${leases}`);
  const nat = await inDaemonNs('iptables', '-t', 'nat', '-S', 'BERTH-POSTROUTING');
  assert.doesNotMatch(nat.stdout, /10\.89\.0\.0/, 'no NAT rule of a removed network');
});
