import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

// What a container asks for on a network (EndpointSettings) is kept, shown in inspect and applied:
// MAC addresses, link-local addresses, driver options, links; and connect/disconnect as Docker.
// Legacy links (HostConfig.Links on the default bridge) give Docker's environment and hosts entry.
let d: TestDaemon;
before(async () => {
  d = await TestDaemon.start();
  const n = await d.api('POST', '/networks/create', { Name: 'epnet' });
  assert.equal(n.status, 201, n.body);
});
after(async () => {
  await d?.cleanup();
});

async function run(name: string, extra: Record<string, unknown>, cmd = ['sleep', '300']): Promise<string> {
  const c = await d.api('POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: cmd, ...extra });
  assert.equal(c.status, 201, c.body);
  const s = await d.api('POST', `/containers/${name}/start`);
  assert.equal(s.status, 204, s.body);
  return c.json().Id as string;
}

const endpoint = async (name: string, network: string) => (await d.api('GET', `/containers/${name}/json`)).json().NetworkSettings.Networks[network];

test('endpoint settings are kept and shown: DriverOpts, IPAMConfig.LinkLocalIPs, Links, MacAddress; the MAC and link-local address are on the interface', async () => {
  await run('ep1', {
    HostConfig: { NetworkMode: 'epnet' },
    NetworkingConfig: {
      EndpointsConfig: {
        epnet: {
          DriverOpts: { 'com.example.setting': 'on' },
          IPAMConfig: { LinkLocalIPs: ['169.254.8.8'] },
          Links: ['upstream:up'],
          MacAddress: '02:42:0a:0b:0c:0d',
        },
      },
    },
  });
  const ep = await endpoint('ep1', 'epnet');
  assert.deepEqual(ep.DriverOpts, { 'com.example.setting': 'on' });
  assert.deepEqual(ep.IPAMConfig, { LinkLocalIPs: ['169.254.8.8'] });
  assert.deepEqual(ep.Links, ['upstream:up']);
  assert.equal(ep.MacAddress, '02:42:0a:0b:0c:0d');
  const addr = await d.berth(['exec', 'ep1', 'ip', 'addr', 'show', 'eth0']);
  assert.equal(addr.code, 0, addr.stderr);
  assert.match(addr.stdout, /link\/ether 02:42:0a:0b:0c:0d/);
  assert.match(addr.stdout, /inet 169\.254\.8\.8\//);
  assert.equal((await d.berth(['rm', '-f', 'ep1'])).code, 0);
});

test('a bad MAC address in the endpoint settings of a connect is refused', async () => {
  const c = await d.api('POST', '/containers/create?name=badmac', { Image: 'busybox' });
  assert.equal(c.status, 201, c.body);
  const conn = await d.api('POST', '/networks/epnet/connect', { Container: 'badmac', EndpointConfig: { MacAddress: 'nope' } });
  assert.equal(conn.status, 400, conn.body);
  assert.match(conn.json().message, /invalid MAC address nope/);
  assert.equal((await d.berth(['rm', '-f', 'badmac'])).code, 0);
});

test('the container-wide MacAddress is the main network\'s endpoint\'s, on the default bridge too', async () => {
  await run('mac1', { MacAddress: '02:42:ac:11:00:0a' });
  const inspect = (await d.api('GET', '/containers/mac1/json')).json();
  assert.equal(inspect.NetworkSettings.MacAddress, '02:42:ac:11:00:0a');
  assert.equal(inspect.NetworkSettings.Networks.bridge.MacAddress, '02:42:ac:11:00:0a');
  const addr = await d.berth(['exec', 'mac1', 'cat', '/sys/class/net/eth0/address']);
  assert.equal(addr.stdout.trim(), '02:42:ac:11:00:0a');
  assert.equal((await d.berth(['rm', '-f', 'mac1'])).code, 0);
});

test('connect with a MacAddress: shown on the endpoint before the container runs, and applied when it starts', async () => {
  const c = await d.api('POST', '/containers/create?name=mac2', { Image: 'busybox', Cmd: ['sleep', '300'] });
  assert.equal(c.status, 201, c.body);
  const conn = await d.api('POST', '/networks/epnet/connect', { Container: 'mac2', EndpointConfig: { MacAddress: '02:42:ac:11:00:02' } });
  assert.equal(conn.status, 200, conn.body);
  assert.equal((await endpoint('mac2', 'epnet')).MacAddress, '02:42:ac:11:00:02');
  assert.equal((await d.api('POST', '/containers/mac2/start')).status, 204);
  assert.equal((await endpoint('mac2', 'epnet')).MacAddress, '02:42:ac:11:00:02');
  assert.equal((await d.berth(['rm', '-f', 'mac2'])).code, 0);
});

test('an endpoint link on a user network: its alias resolves for the linking container only', async () => {
  await run('linker', { HostConfig: { NetworkMode: 'epnet' }, NetworkingConfig: { EndpointsConfig: { epnet: { Links: ['upstream:bar'] } } } });
  await run('bystander', { HostConfig: { NetworkMode: 'epnet' } });
  const upstreamId = await run('upstream', { HostConfig: { NetworkMode: 'epnet' } });
  const upstreamIp = (await endpoint(upstreamId, 'epnet')).IPAddress as string;
  const seen = await d.berth(['exec', 'linker', 'nslookup', 'bar']);
  assert.equal(seen.code, 0, seen.stdout + seen.stderr);
  assert.match(seen.stdout, new RegExp(`Address: ${upstreamIp.replace(/\./g, '\\.')}`));
  const other = await d.berth(['exec', 'bystander', 'nslookup', 'bar']);
  assert.notEqual(other.code, 0, other.stdout);
  assert.equal((await d.berth(['rm', '-f', 'linker', 'bystander', 'upstream'])).code, 0);
});

test('disconnect, forced or not, of a container that is not on the network is refused', async () => {
  await run('loner', { HostConfig: { NetworkMode: 'bridge' } });
  for (const Force of [false, true]) {
    const r = await d.api('POST', '/networks/epnet/disconnect', { Container: 'loner', Force });
    assert.equal(r.status, 403, r.body);
    assert.match(r.json().message, /is not connected to network epnet/);
  }
  assert.equal((await d.berth(['rm', '-f', 'loner'])).code, 0);
});

test('legacy links: ALIAS_PORT_*, ALIAS_NAME and ALIAS_ENV_* variables and an /etc/hosts entry; the container\'s own variables win', async () => {
  const childId = await run('linked-db', { Env: ['FOO=1', 'SHARED=child'], ExposedPorts: { '5432/tcp': {}, '53/udp': {} } });
  const childIp = (await endpoint(childId, 'bridge')).IPAddress as string;
  assert.match(childIp, /^\d+\.\d+\.\d+\.\d+$/);
  await run('linking', { Env: ['DB_ENV_SHARED=mine'], HostConfig: { Links: ['linked-db:db'] } });
  const env = (await d.berth(['exec', 'linking', 'env'])).stdout.split('\n');
  for (const want of [
    `DB_PORT=udp://${childIp}:53`,
    `DB_PORT_53_UDP=udp://${childIp}:53`,
    `DB_PORT_5432_TCP=tcp://${childIp}:5432`,
    `DB_PORT_5432_TCP_ADDR=${childIp}`,
    'DB_PORT_5432_TCP_PORT=5432',
    'DB_PORT_5432_TCP_PROTO=tcp',
    'DB_NAME=/linking/db',
    'DB_ENV_FOO=1',
    'DB_ENV_SHARED=mine',
  ]) assert.ok(env.includes(want), `${want} not in:\n${env.join('\n')}`);
  assert.ok(!env.some((e) => e.startsWith('DB_ENV_PATH=')), 'PATH is not passed on');
  const hosts = (await d.berth(['exec', 'linking', 'cat', '/etc/hosts'])).stdout;
  assert.match(hosts, new RegExp(`^${childIp.replace(/\./g, '\\.')}\\tdb ${childId.slice(0, 12)} linked-db$`, 'm'));
  assert.equal((await d.berth(['rm', '-f', 'linking', 'linked-db'])).code, 0);
});

test('legacy links: the linked container must exist at create and run at start', async () => {
  const missing = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Links: ['nosuch:x'] } });
  assert.equal(missing.status, 404, missing.body);
  assert.match(missing.json().message, /could not get container for nosuch/);
  assert.equal((await d.api('POST', '/containers/create?name=stopped-db', { Image: 'busybox' })).status, 201);
  const c = await d.api('POST', '/containers/create?name=eager', { Image: 'busybox', HostConfig: { Links: ['stopped-db:db'] } });
  assert.equal(c.status, 201, c.body);
  const s = await d.api('POST', '/containers/eager/start');
  assert.equal(s.status, 409, s.body);
  assert.match(s.json().message, /Cannot link to a non running container: \/stopped-db AS \/eager\/db/);
  assert.equal((await d.berth(['rm', '-f', 'eager', 'stopped-db'])).code, 0);
});

test('DELETE /containers/{parent}/{alias}?link=1 removes the link and leaves both containers', async () => {
  await run('target', {});
  await run('parent', { HostConfig: { Links: ['target:tgt'] } });
  const r = await d.api('DELETE', '/containers/parent/tgt?link=1');
  assert.equal(r.status, 204, r.body);
  assert.equal((await d.api('GET', '/containers/parent/json')).json().HostConfig.Links, null);
  assert.equal((await d.api('GET', '/containers/target/json')).status, 200);
  const again = await d.api('DELETE', '/containers/parent/tgt?link=1');
  assert.equal(again.status, 404, again.body);
  const own = await d.api('DELETE', '/containers/parent?link=1');
  assert.equal(own.status, 409, own.body);
  assert.equal((await d.api('GET', '/containers/parent/json')).status, 200);
  assert.equal((await d.berth(['rm', '-f', 'parent', 'target'])).code, 0);
});

test('IPv6 networks: EnableIPv6 shown, containers get IPv6 addresses and the gateway, a fixed one with IPv6Address (also on connect)', async () => {
  const n = await d.api('POST', '/networks/create', { Name: 'v6net', EnableIPv6: true, IPAM: { Config: [{ Subnet: '2001:db8:389::/64', IPRange: '2001:db8:389::/96', Gateway: '2001:db8:389::ffff' }] } });
  assert.equal(n.status, 201, n.body);
  const net = (await d.api('GET', '/networks/v6net')).json();
  assert.equal(net.EnableIPv6, true);
  const v6 = net.IPAM.Config.find((c: { Subnet: string }) => c.Subnet.includes(':'));
  assert.deepEqual(v6, { Subnet: '2001:db8:389::/64', IPRange: '2001:db8:389::/96', Gateway: '2001:db8:389::ffff' });
  assert.ok(net.IPAM.Config.some((c: { Subnet: string }) => !c.Subnet.includes(':')), 'an IPv4 subnet is allocated too');

  await run('six', { HostConfig: { NetworkMode: 'v6net' } });
  const ep = await endpoint('six', 'v6net');
  assert.match(ep.GlobalIPv6Address, /^2001:db8:389::/);
  assert.equal(ep.GlobalIPv6PrefixLen, 64);
  assert.equal(ep.IPv6Gateway, '2001:db8:389::ffff');
  const route = await d.berth(['exec', 'six', 'ip', '-6', 'route', 'show', 'default']);
  assert.match(route.stdout, /default via 2001:db8:389::ffff/);
  const ping = await d.berth(['exec', 'six', 'ping', '-6', '-c', '1', '-W', '5', '2001:db8:389::ffff']);
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);

  const fixed = await d.api('POST', '/containers/create?name=six-fixed', { Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'v6net' }, NetworkingConfig: { EndpointsConfig: { v6net: { IPAMConfig: { IPv6Address: '2001:db8:389::f00d' } } } } });
  assert.equal(fixed.status, 201, fixed.body);
  assert.equal((await d.api('POST', '/containers/six-fixed/start')).status, 204);
  assert.equal((await endpoint('six-fixed', 'v6net')).GlobalIPv6Address, '2001:db8:389::f00d');
  assert.equal((await d.api('POST', '/networks/v6net/disconnect', { Container: 'six-fixed' })).status, 200);
  const again = await d.api('POST', '/networks/v6net/connect', { Container: 'six-fixed', EndpointConfig: { IPAMConfig: { IPv6Address: '2001:db8:389::beef' } } });
  assert.equal(again.status, 200, again.body);
  const ep2 = await endpoint('six-fixed', 'v6net');
  assert.equal(ep2.IPAMConfig.IPv6Address, '2001:db8:389::beef');
  assert.equal(ep2.GlobalIPv6Address, '2001:db8:389::beef');
  const shown = (await d.api('GET', '/networks/v6net')).json().Containers;
  assert.ok(Object.values(shown).some((c) => (c as { IPv6Address: string }).IPv6Address === '2001:db8:389::beef/64'), JSON.stringify(shown));
  await run('six-out', {});
  const outside = await d.api('POST', '/networks/v6net/connect', { Container: 'six-out', EndpointConfig: { IPAMConfig: { IPv6Address: '2001:db8:999::1' } } });
  assert.equal(outside.status, 400, outside.body);
  assert.match(outside.json().message, /no configured subnet or ip-range contain the IP address 2001:db8:999::1/);
  assert.equal((await d.berth(['rm', '-f', 'six', 'six-fixed', 'six-out'])).code, 0);
  assert.equal((await d.api('DELETE', '/networks/v6net')).status, 204);
});
