/**
 * `berth network ...` and `berth port` run in-process against a fake Engine API
 * on a temp unix socket (given with -H): the requests they make (method, path,
 * query, body), what they print and their exit statuses, errors included.
 */
import { test, before, after, beforeEach } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { FakeEngine, json, noContent, runCli } from '../helpers/fake-engine';
import { naturalCompare } from '../../src/cli/format/strings';
import { goTimeStringFromRfc3339 } from '../../src/cli/format/time';
import { ipNetContains, ipNetString, ipString, parseCidr, parseIp } from '../../src/cli/opts/ip';

const engine = new FakeEngine('berth-cli-network-');
const { seen, answers } = engine;

before(() => engine.listen());
after(() => engine.stop());
beforeEach(() => engine.reset());

function berth(args: string[], opts: { stdin?: string } = {}) {
  return runCli(['-H', engine.host, ...args], { stdin: opts.stdin });
}

const calls = () => seen.map((s) => `${s.method} ${s.url}`);
const bodyOf = (i = 0) => JSON.parse(seen[i].body) as Record<string, unknown>;

const ID1 = 'f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566';
const ID2 = '13e871235c677f196c4e1ecebb9dc733b9b2d2ab589e30c539efeda84a24215e';
const ID3 = 'e086a3893b05ab69242d3c44e49483a3bbbd3a26b46baa8f61ab797c1088d794';
const ID4 = '7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99';

function created(res: http.ServerResponse) {
  json(res, 201, { Id: ID1, Warning: '' });
}

// ---------------------------------------------------------------- create

test('network create NAME: POSTs the defaults docker sends, prints the new ID', async () => {
  answers['POST /networks/create'] = (_s, res) => created(res);
  const r = await berth(['network', 'create', 'mynet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${ID1}\n`);
  assert.equal(r.stderr, '');
  assert.deepEqual(calls(), ['POST /networks/create']);
  assert.deepEqual(bodyOf(), {
    Name: 'mynet',
    Driver: 'bridge',
    Scope: '',
    IPAM: { Driver: 'default', Config: [], Options: {} },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigOnly: false,
    ConfigFrom: null,
    Options: {},
    Labels: {},
  });
});

test('network create with every option: IPAM grouped by subnet, ranges as networks, labels and options as maps', async () => {
  answers['POST /networks/create'] = (_s, res) => created(res);
  const r = await berth([
    'network', 'create',
    '-d', 'macvlan',
    '--subnet', '172.28.0.0/16',
    '--ip-range', '172.28.5.7/24',
    '--gateway', '172.28.5.254',
    '--aux-address', 'router=172.28.1.5',
    '--aux-address=nas=172.28.1.6',
    '--internal', '--attachable', '--ipv6', '--ipv4=false',
    '--label', 'com.example=yes', '--label', 'bare',
    '-o', 'com.docker.network.driver.mtu=1400', '--opt=parent',
    '--ipam-driver', 'custom', '--ipam-opt', 'k=v',
    '--scope', 'local', '--config-only', '--config-from', 'base',
    'br0',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${ID1}\n`);
  assert.deepEqual(bodyOf(), {
    Name: 'br0',
    Driver: 'macvlan',
    Scope: 'local',
    IPAM: {
      Driver: 'custom',
      Config: [{ Subnet: '172.28.0.0/16', IPRange: '172.28.5.0/24', Gateway: '172.28.5.254', AuxiliaryAddresses: { router: '172.28.1.5', nas: '172.28.1.6' } }],
      Options: { k: 'v' },
    },
    Internal: true,
    Attachable: true,
    Ingress: false,
    ConfigOnly: true,
    ConfigFrom: { Network: 'base' },
    Options: { 'com.docker.network.driver.mtu': '1400', parent: '' },
    Labels: { 'com.example': 'yes', bare: '' },
    EnableIPv4: false,
    EnableIPv6: true,
  });
});

test('network create with two subnets: gateways and aux addresses go to the subnet that holds them', async () => {
  answers['POST /networks/create'] = (_s, res) => created(res);
  const r = await berth([
    'network', 'create', '-d', 'overlay',
    '--subnet=192.168.10.0/25', '--subnet=192.168.20.0/25',
    '--gateway=192.168.20.100', '--gateway=192.168.10.100',
    '--aux-address=my-printer=192.168.20.5', '--aux-address=my-router=192.168.10.5',
    '--subnet', 'fd00:db8::/64',
    'multi',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const ipam = bodyOf().IPAM as { Config: unknown[] };
  assert.deepEqual(ipam.Config, [
    { Subnet: '192.168.10.0/25', Gateway: '192.168.10.100', AuxiliaryAddresses: { 'my-router': '192.168.10.5' } },
    { Subnet: '192.168.20.0/25', Gateway: '192.168.20.100', AuxiliaryAddresses: { 'my-printer': '192.168.20.5' } },
    { Subnet: 'fd00:db8::/64' },
  ]);

  // A lone subnet may be a bare address (a /32), and keeps its host bits as written.
  seen.length = 0;
  assert.equal((await berth(['network', 'create', '--subnet', '10.9.0.1', 'one'])).code, 0);
  assert.deepEqual((bodyOf().IPAM as { Config: unknown[] }).Config, [{ Subnet: '10.9.0.1/32' }]);
  seen.length = 0;
  assert.equal((await berth(['network', 'create', '--subnet', '10.9.3.1/16', 'one'])).code, 0);
  assert.deepEqual((bodyOf().IPAM as { Config: unknown[] }).Config, [{ Subnet: '10.9.3.1/16' }]);
});

test('network create: docker client-side IPAM checks fail with status 1 before any request', async () => {
  const cases: [string[], string][] = [
    [['--gateway', '10.0.0.1'], 'every ip-range or gateway must have a corresponding subnet'],
    [['--subnet', '10.0.0.0/24', '--ip-range', '10.0.0.0/25', '--ip-range', '10.0.0.128/25'], 'every ip-range or gateway must have a corresponding subnet'],
    [['--subnet', '10.0.0.0/24', '--gateway', '10.0.1.1'], 'no matching subnet for gateway 10.0.1.1'],
    [['--subnet', '10.0.0.0/24', '--ip-range', '10.1.0.0/24'], 'no matching subnet for range 10.1.0.0/24'],
    [['--subnet', '10.0.0.0/16', '--subnet', '10.0.1.0/24'], 'multiple overlapping subnet configuration is not supported'],
    [['--subnet', '10.0.0.0/16', '--subnet', '10.1.0.0/16', '--ip-range', '10.0.1.0/24', '--ip-range', '10.0.2.0/24'], 'cannot configure multiple ranges (10.0.2.0/24, 10.0.1.0/24) on the same subnet (10.0.0.0/16)'],
    [['--subnet', '10.0.0.0/16', '--subnet', '10.1.0.0/16', '--gateway', '10.0.0.1', '--gateway', '10.0.0.2'], 'cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/16)'],
    [['--subnet', '10.0.0.0/24', '--aux-address', 'x=10.5.0.1'], 'no matching subnet for aux-address 10.5.0.1'],
    [['--subnet', '10.0.0.0/24', '--aux-address', 'x=nope'], 'ParseAddr("nope"): unable to parse IP'],
    [['--subnet', 'nonsense'], 'invalid address: ParseAddr("nonsense"): unable to parse IP'],
    [['--subnet', '10.0.0.1', '--gateway', '10.0.0.1'], 'invalid subnet: invalid CIDR address: 10.0.0.1'],
  ];
  for (const [flags, message] of cases) {
    seen.length = 0;
    const r = await berth(['network', 'create', ...flags, 'n']);
    assert.equal(r.code, 1, flags.join(' '));
    assert.equal(r.stderr, `${message}\n`, flags.join(' '));
    assert.equal(r.stdout, '');
    assert.deepEqual(seen, [], flags.join(' '));
  }
});

test('network create: bad flag values are usage errors (status 125) with pflag texts', async () => {
  const cases: [string[], string][] = [
    [['--gateway', 'x.y'], 'invalid argument "x.y" for "--gateway" flag: invalid string being converted to IP address: x.y'],
    [['--ip-range', '10.0.0.0'], 'invalid argument "10.0.0.0" for "--ip-range" flag: invalid string being converted to CIDR: 10.0.0.0'],
    [['--label', '=v'], `invalid argument "=v" for "--label" flag: invalid label '=v': empty name`],
    [['--ipv6=maybe'], 'invalid argument "maybe" for "--ipv6" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
  ];
  for (const [flags, message] of cases) {
    const r = await berth(['network', 'create', ...flags, 'n']);
    assert.equal(r.code, 125, flags.join(' '));
    assert.ok(r.stderr.startsWith(`${message}\n\nUsage:  berth network create [OPTIONS] NETWORK\n`), r.stderr);
  }
  const none = await berth(['network', 'create']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /requires 1 argument/);
  assert.deepEqual(seen, []);
});

test('network create: the daemon refusing is "Error response from daemon: ..." with status 1', async () => {
  answers['POST /networks/create'] = (_s, res) => json(res, 409, { message: 'network with name mynet already exists' });
  const r = await berth(['network', 'create', 'mynet']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'Error response from daemon: network with name mynet already exists\n');
});

// ---------------------------------------------------------------- ls

const listed = [
  { Name: 'net10', Id: ID4, Created: '2024-05-01T10:00:00.5Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: true, Internal: true, Labels: { 'com.example.b': '2', 'com.example.a': '1' } },
  { Name: 'bridge', Id: ID1, Created: '2016-10-19T06:21:00.416543526Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: false, Internal: false, Labels: {} },
  { Name: 'none', Id: ID3, Created: '0001-01-01T00:00:00Z', Scope: 'local', Driver: 'null', Labels: null },
  { Name: 'net9', Id: ID2, Created: '2024-05-01T10:00:00Z', Scope: 'local', Driver: 'bridge', Labels: {} },
];

test('network ls: the default table, names in natural order, IDs cut to 12', async () => {
  answers['GET /networks'] = (_s, res) => json(res, 200, listed);
  const r = await berth(['network', 'ls']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'NETWORK ID     NAME      DRIVER    SCOPE\n' +
      'f2de39df4171   bridge    bridge    local\n' +
      '13e871235c67   net9      bridge    local\n' +
      '7d86d31b1478   net10     bridge    local\n' +
      'e086a3893b05   none      null      local\n',
  );
  assert.deepEqual(calls(), ['GET /networks']);
});

test('network list (alias) -q, --no-trunc, and -f filters sent as the API filters', async () => {
  answers['GET /networks'] = (_s, res) => json(res, 200, listed);
  const q = await berth(['network', 'list', '-q', '-f', 'driver=bridge', '--filter', 'type=custom', '-f', 'label=a=b']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout, 'f2de39df4171\n13e871235c67\n7d86d31b1478\ne086a3893b05\n');
  assert.deepEqual(JSON.parse(seen[0].query.get('filters') ?? ''), { driver: ['bridge'], type: ['custom'], label: ['a=b'] });

  const full = await berth(['network', 'ls', '--no-trunc', '-q']);
  assert.equal(full.stdout.split('\n')[0], ID1);
  const table = await berth(['network', 'ls', '--no-trunc']);
  assert.ok(table.stdout.split('\n')[1].startsWith(`${ID1}   bridge`), table.stdout);

  const bad = await berth(['network', 'ls', '-f', 'driver']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^invalid argument "driver" for "-f, --filter" flag: bad format of filter \(expected name=value\)\n/);
});

test('network ls --format: fields, Label, json, table TEMPLATE, raw', async () => {
  answers['GET /networks'] = (_s, res) => json(res, 200, [listed[0], listed[2]]);
  const t = await berth(['network', 'ls', '--format', '{{.ID}}: {{.Name}} {{.IPv4}} {{.IPv6}} {{.Internal}} [{{.Labels}}] {{.Label "com.example.b"}}']);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout, '7d86d31b1478: net10 true true true [com.example.a=1,com.example.b=2] 2\ne086a3893b05: none false false false [] \n');

  const j = await berth(['network', 'ls', '--format', 'json']);
  const lines = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(lines[0], {
    CreatedAt: '2024-05-01 10:00:00.5 +0000 UTC',
    Driver: 'bridge',
    ID: '7d86d31b1478',
    IPv4: 'true',
    IPv6: 'true',
    Internal: 'true',
    Labels: 'com.example.a=1,com.example.b=2',
    Name: 'net10',
    Scope: 'local',
  });
  assert.equal(lines[1].CreatedAt, '0001-01-01 00:00:00 +0000 UTC');
  assert.ok(j.stdout.startsWith('{"CreatedAt":'), 'keys in sorted order');

  const tt = await berth(['network', 'ls', '--format', 'table {{.Name}}\\t{{.Internal}}']);
  assert.equal(tt.stdout, 'NAME      INTERNAL\nnet10     true\nnone      false\n');

  const raw = await berth(['network', 'ls', '--format', 'raw']);
  assert.equal(raw.stdout, 'network_id: 7d86d31b1478\nname: net10\ndriver: bridge\nscope: local\n\nnetwork_id: e086a3893b05\nname: none\ndriver: null\nscope: local\n\n');

  const bad = await berth(['network', 'ls', '--format', '{{.Nope}}']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Nope/);
});

test('network ls with no networks prints only the header', async () => {
  answers['GET /networks'] = (_s, res) => json(res, 200, []);
  const r = await berth(['network', 'ls']);
  assert.equal(r.stdout, 'NETWORK ID   NAME      DRIVER    SCOPE\n');
  const extra = await berth(['network', 'ls', 'x']);
  assert.equal(extra.code, 1);
  assert.match(extra.stderr, /accepts no arguments/);
});

// ---------------------------------------------------------------- inspect

const inspected = { Name: 'mynet', Id: ID1, Created: '2024-05-01T10:00:00Z', Scope: 'local', Driver: 'bridge', EnableIPv6: false, IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }] }, Internal: false, Containers: {}, Options: {}, Labels: { a: 'b' } };

test('network inspect: a JSON array indented like docker; -v asks for verbose', async () => {
  answers['GET /networks/mynet'] = (_s, res) => json(res, 200, inspected);
  const r = await berth(['network', 'inspect', 'mynet']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, JSON.stringify([inspected], null, 4) + '\n');
  assert.deepEqual(calls(), ['GET /networks/mynet']);

  seen.length = 0;
  const v = await berth(['network', 'inspect', '-v', 'mynet']);
  assert.equal(v.code, 0);
  assert.equal(seen[0].query.get('verbose'), '1');
});

test('network inspect -f and several networks, one missing: the found ones, then the error, status 1', async () => {
  answers['GET /networks/mynet'] = (_s, res) => json(res, 200, inspected);
  answers['GET /networks/nope'] = (_s, res) => json(res, 404, { message: 'network nope not found' });
  const f = await berth(['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{(index .IPAM.Config 0).Gateway}}', 'mynet']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(f.stdout, 'mynet bridge 172.18.0.1\n');

  const r = await berth(['network', 'inspect', 'mynet', 'nope']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, JSON.stringify([inspected], null, 4) + '\n');
  assert.equal(r.stderr, 'Error response from daemon: network nope not found\n');

  const only = await berth(['network', 'inspect', 'nope']);
  assert.equal(only.code, 1);
  assert.equal(only.stdout, '[]\n');
  assert.equal(only.stderr, 'Error response from daemon: network nope not found\n');
});

// ---------------------------------------------------------------- rm

test('network rm: each name as given; failures reported, the rest still removed, status 1', async () => {
  answers['GET /networks/a'] = (_s, res) => json(res, 200, { Name: 'a', Id: ID1 });
  answers['DELETE /networks/a'] = (_s, res) => noContent(res);
  answers['DELETE /networks/3695c422697f'] = (_s, res) => noContent(res);
  answers['DELETE /networks/busy'] = (_s, res) => json(res, 403, { message: 'error while removing network: network busy id 123 has active endpoints' });
  answers['DELETE /networks/gone'] = (_s, res) => json(res, 404, { message: 'network gone not found' });
  const r = await berth(['network', 'rm', 'a', 'busy', 'gone', '3695c422697f']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'a\n3695c422697f\n');
  assert.equal(r.stderr, 'Error response from daemon: error while removing network: network busy id 123 has active endpoints\nError response from daemon: network gone not found\n');
  assert.deepEqual(calls().filter((c) => c.startsWith('DELETE')), ['DELETE /networks/a', 'DELETE /networks/busy', 'DELETE /networks/gone', 'DELETE /networks/3695c422697f']);
});

test('network remove -f: a missing network is not an error; other failures still are', async () => {
  answers['DELETE /networks/a'] = (_s, res) => noContent(res);
  answers['DELETE /networks/gone'] = (_s, res) => json(res, 404, { message: 'network gone not found' });
  const r = await berth(['network', 'remove', '-f', 'gone', 'a']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'a\n');
  assert.equal(r.stderr, '');

  answers['DELETE /networks/busy'] = (_s, res) => json(res, 403, { message: 'has active endpoints' });
  const busy = await berth(['network', 'rm', '--force', 'busy']);
  assert.equal(busy.code, 1);
  assert.equal(busy.stderr, 'Error response from daemon: has active endpoints\n');
});

test('network rm of an ingress network asks first; "n" skips it', async () => {
  answers['GET /networks/ingress'] = (_s, res) => json(res, 200, { Name: 'ingress', Ingress: true });
  answers['DELETE /networks/ingress'] = (_s, res) => noContent(res);
  const r = await berth(['network', 'rm', 'ingress'], { stdin: 'n\n' });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^WARNING! Before removing the routing-mesh network, .*\nAre you sure you want to continue\? \[y\/N\] $/);
  assert.ok(!calls().includes('DELETE /networks/ingress'));
});

// ---------------------------------------------------------------- prune

test('network prune: asks, POSTs /networks/prune with the filters, lists what went', async () => {
  answers['POST /networks/prune'] = (_s, res) => json(res, 200, { NetworksDeleted: ['n1', 'n2'] });
  const r = await berth(['network', 'prune', '--filter', 'until=24h', '--filter', 'label=foo'], { stdin: 'y\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Networks:\nn1\nn2\n\n',
  );
  assert.deepEqual(JSON.parse(seen[0].query.get('filters') ?? ''), { until: ['24h'], label: ['foo'] });
});

test('network prune: "N" cancels without a request; -f does not ask; nothing deleted prints nothing', async () => {
  answers['POST /networks/prune'] = (_s, res) => json(res, 200, { NetworksDeleted: null });
  const no = await berth(['network', 'prune'], { stdin: 'N\n' });
  assert.equal(no.code, 0);
  assert.deepEqual(seen, []);

  const forced = await berth(['network', 'prune', '-f']);
  assert.equal(forced.code, 0);
  assert.equal(forced.stdout, '');
  assert.deepEqual(calls(), ['POST /networks/prune']);
});

// ---------------------------------------------------------------- connect / disconnect

test('network connect: the endpoint config (aliases, IPs, links, driver options) in the body', async () => {
  answers['POST /networks/mynet/connect'] = (_s, res) => noContent(res, 200);
  const r = await berth([
    'network', 'connect',
    '--alias', 'db', '--alias', 'mysql,sql',
    '--ip', '172.20.128.2', '--ip6', '2001:DB8:0:0::33',
    '--link', 'other:o', '--link-local-ip', '169.254.1.1',
    '--driver-opt', 'com.example.opt = 1', '--gw-priority', '10',
    'mynet', 'web',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(calls(), ['POST /networks/mynet/connect']);
  assert.deepEqual(bodyOf(), {
    Container: 'web',
    EndpointConfig: {
      IPAMConfig: { IPv4Address: '172.20.128.2', IPv6Address: '2001:db8::33', LinkLocalIPs: ['169.254.1.1'] },
      Links: ['other:o'],
      Aliases: ['db', 'mysql', 'sql'],
      DriverOpts: { 'com.example.opt': '1' },
      GwPriority: 10,
    },
  });

  seen.length = 0;
  const plain = await berth(['network', 'connect', 'mynet', 'web']);
  assert.equal(plain.code, 0);
  assert.deepEqual(bodyOf(), { Container: 'web', EndpointConfig: { IPAMConfig: {}, Links: null, Aliases: [], DriverOpts: {} } });
});

test('network connect errors: bad --ip, bad driver option, wrong argument count, daemon refusal', async () => {
  const ip = await berth(['network', 'connect', '--ip', '300.1.1.1', 'n', 'c']);
  assert.equal(ip.code, 125);
  assert.match(ip.stderr, /^invalid argument "300\.1\.1\.1" for "--ip" flag: failed to parse IP: "300\.1\.1\.1"\n/);

  const opt = await berth(['network', 'connect', '--driver-opt', 'novalue', 'n', 'c']);
  assert.equal(opt.code, 1);
  assert.equal(opt.stderr, 'invalid key/value pair format in driver options\n');

  const link = await berth(['network', 'connect', '--link', 'a:b:c', 'n', 'c']);
  assert.equal(link.code, 125);
  assert.match(link.stderr, /bad format for links: a:b:c/);

  const one = await berth(['network', 'connect', 'n']);
  assert.equal(one.code, 1);
  assert.match(one.stderr, /requires 2 arguments/);
  assert.deepEqual(seen, []);

  answers['POST /networks/n/connect'] = (_s, res) => json(res, 404, { message: 'No such container: c' });
  const missing = await berth(['network', 'connect', 'n', 'c']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: No such container: c\n');
});

test('network disconnect [-f]: POSTs {Container, Force}', async () => {
  answers['POST /networks/mynet/disconnect'] = (_s, res) => noContent(res, 200);
  const r = await berth(['network', 'disconnect', 'mynet', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.deepEqual(bodyOf(), { Container: 'web', Force: false });
  seen.length = 0;
  const f = await berth(['network', 'disconnect', '-f', 'mynet', 'web']);
  assert.equal(f.code, 0);
  assert.deepEqual(bodyOf(), { Container: 'web', Force: true });

  answers['POST /networks/other/disconnect'] = (_s, res) => json(res, 403, { message: 'container web is not connected to network other' });
  const err = await berth(['network', 'disconnect', 'other', 'web']);
  assert.equal(err.code, 1);
  assert.equal(err.stderr, 'Error response from daemon: container web is not connected to network other\n');
});

// ---------------------------------------------------------------- port

const withPorts = {
  Id: ID1,
  Name: '/web',
  NetworkSettings: {
    Ports: {
      '9876/tcp': [{ HostIp: '0.0.0.0', HostPort: '1234' }],
      '7890/tcp': [
        { HostIp: '0.0.0.0', HostPort: '4321' },
        { HostIp: '::', HostPort: '4321' },
      ],
      '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
      '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }],
      '443/tcp': null,
      '22/tcp': [],
    },
  },
};

test('port CONTAINER: every mapping "PORT/PROTO -> HOST:PORT" in natural order, IPv6 hosts bracketed', async () => {
  answers['GET /containers/web/json'] = (_s, res) => json(res, 200, withPorts);
  const r = await berth(['port', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '53/udp -> 0.0.0.0:5353\n80/tcp -> 127.0.0.1:8080\n7890/tcp -> 0.0.0.0:4321\n7890/tcp -> [::]:4321\n9876/tcp -> 0.0.0.0:1234\n');
  assert.deepEqual(calls(), ['GET /containers/web/json']);
});

test('port CONTAINER PORT[/PROTO]: the host addresses; tcp when no protocol; container port alias', async () => {
  answers['GET /containers/web/json'] = (_s, res) => json(res, 200, withPorts);
  const r = await berth(['port', 'web', '7890/tcp']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '0.0.0.0:4321\n[::]:4321\n');
  const bare = await berth(['container', 'port', 'web', '7890']);
  assert.equal(bare.stdout, '0.0.0.0:4321\n[::]:4321\n');
  const udp = await berth(['port', 'web', '53/udp']);
  assert.equal(udp.stdout, '0.0.0.0:5353\n');
});

test('port errors: not published, invalid port, no such container, argument count', async () => {
  answers['GET /containers/web/json'] = (_s, res) => json(res, 200, withPorts);
  answers['GET /containers/nope/json'] = (_s, res) => json(res, 404, { message: 'No such container: nope' });
  for (const p of ['80/udp', '443/tcp', '22', '1']) {
    const r = await berth(['port', 'web', p]);
    assert.equal(r.code, 1, p);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `Error: No public port '${p}' published for web\n`);
  }
  const bad = await berth(['port', 'web', 'http/tcp']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'Error: invalid port (http): strconv.ParseUint: parsing "http": invalid syntax\n');
  const big = await berth(['port', 'web', '70000']);
  assert.equal(big.stderr, 'Error: invalid port (70000): strconv.ParseUint: parsing "70000": value out of range\n');
  const missing = await berth(['port', 'nope']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error response from daemon: No such container: nope\n');
  const none = await berth(['port']);
  assert.equal(none.code, 1);
  const three = await berth(['port', 'a', 'b', 'c']);
  assert.equal(three.code, 1);
});

// ---------------------------------------------------------------- help and helpers

test('help: network is a management command with its subcommands; port is listed', async () => {
  const top = await berth(['--help']);
  assert.match(top.stdout, /Management Commands:[\s\S]*\n  network +Manage networks\n[\s\S]*Commands:[\s\S]*\n  port +List port mappings or a specific mapping for the container\n/);
  const g = await berth(['network']);
  assert.equal(g.code, 0);
  for (const sub of ['connect', 'create', 'disconnect', 'inspect', 'ls', 'prune', 'rm']) assert.match(g.stdout, new RegExp(`\\n  ${sub} `));
  const h = await berth(['network', 'create', '--help']);
  assert.match(h.stdout, /-o, --opt map +Set driver specific options \(default map\[\]\)/);
  assert.match(h.stdout, /--ipv4 +Enable or disable IPv4 address assignment \(default true\)/);
  const c = await berth(['container', 'port', '--help']);
  assert.match(c.stdout, /Usage:  berth container port CONTAINER \[PRIVATE_PORT\[\/PROTO\]\]/);
  const unknown = await berth(['network', 'frob']);
  assert.equal(unknown.code, 1);
});

test('natural order: numbers by value, digits before letters', () => {
  const sorted = ['net10', 'net9', 'net09', 'a', '10/tcp -> x', '9/tcp -> x', 'Net', ''].sort(naturalCompare);
  assert.deepEqual(sorted, ['', '9/tcp -> x', '10/tcp -> x', 'Net', 'a', 'net9', 'net09', 'net10']);
});

test('IP helpers read and write addresses as Go does', () => {
  assert.equal(ipString(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  assert.equal(ipString(parseIp('::ffff:10.1.2.3')!), '10.1.2.3');
  assert.equal(ipString(parseIp('1:0:0:1:0:0:0:1')!), '1:0:0:1::1');
  assert.equal(ipString(parseIp('1:0:1:0:1:0:1:0')!), '1:0:1:0:1:0:1:0');
  assert.equal(parseIp('010.0.0.1'), undefined);
  assert.equal(parseIp('1::2::3'), undefined);
  assert.equal(parseIp('fe80::1%eth0'), undefined);
  assert.equal(ipNetString(parseCidr('172.28.5.7/24')!), '172.28.5.0/24');
  assert.equal(ipNetString(parseCidr('fd00::abcd/64')!), 'fd00::/64');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.ok(ipNetContains(parseCidr('10.0.0.0/8')!, parseIp('10.200.0.1')!));
  assert.ok(!ipNetContains(parseCidr('10.0.0.0/8')!, parseIp('11.0.0.1')!));
  assert.ok(!ipNetContains(parseCidr('10.0.0.0/8')!, parseIp('::1')!));
});

test("CreatedAt is Go's time.String of the API's RFC 3339 time", () => {
  assert.equal(goTimeStringFromRfc3339('2021-03-09T21:41:29.798999529Z'), '2021-03-09 21:41:29.798999529 +0000 UTC');
  assert.equal(goTimeStringFromRfc3339('2021-03-09T21:41:29.500Z'), '2021-03-09 21:41:29.5 +0000 UTC');
  assert.equal(goTimeStringFromRfc3339(undefined), '0001-01-01 00:00:00 +0000 UTC');
});
