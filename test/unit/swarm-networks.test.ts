import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { allocateAddresses, findNetwork, overlayJSON, removeNetwork, resolveServiceNetworks, serviceVips } from '../../src/swarm/cluster/networks';
import { routes } from '../../src/swarm/cluster/mesh';
import type { ClusterNetwork, Service, ServiceSpec, SwarmNode, Task } from '../../src/swarm/cluster/model';
import type { ClusterStore, Snapshot } from '../../src/swarm/cluster/store';
import { macForIP, overlayBridgeMac } from '../../src/network/overlay';
import { vipRules } from '../../src/network/vip';

function network(id: string, name: string, subnet: string, gateway: string, vni: number): ClusterNetwork {
  const ipam = { Driver: { Name: 'default' }, Configs: [{ Subnet: subnet, Gateway: gateway }] };
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: name, DriverConfiguration: { Name: 'overlay' }, IPAMOptions: ipam, Scope: 'swarm' },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni) } },
    IPAMOptions: ipam,
    VNI: vni,
  };
}

function snapshot(o: Partial<Snapshot>): Snapshot {
  return { nodes: [], services: [], tasks: [], networks: [], secrets: [], configs: [], alive: new Set(), revision: '1', ...o };
}

function spec(networks: { Target: string; Aliases?: string[] }[], mode?: 'vip' | 'dnsrr'): ServiceSpec {
  return { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: networks }, EndpointSpec: mode ? { Mode: mode } : undefined };
}

function task(id: string, networks: string[], state: Task['Status']['State'] = 'new', addresses: string[] = []): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { ContainerSpec: { Image: 'busybox' }, Networks: networks.map((Target) => ({ Target })) },
    ServiceID: 's1',
    Status: { Timestamp: '', State: state, Message: '' },
    DesiredState: 'running',
    NetworksAttachments: addresses.length ? addresses.map((a, i) => ({ Network: { ID: networks[i], Spec: { Name: networks[i] } }, Addresses: [a] })) : undefined,
  };
}

const appnet = network('net1', 'appnet', '10.0.1.0/24', '10.0.1.1', 4097);

test('an endpoint\'s MAC follows from its address, as Docker\'s', () => {
  assert.equal(macForIP('10.0.1.2'), '02:42:0a:00:01:02');
  assert.equal(macForIP('192.168.255.254'), '02:42:c0:a8:ff:fe');
});

test('service networks are named by ID; unknown or repeated networks are refused', () => {
  const snap = snapshot({ networks: [appnet] });
  const s = spec([{ Target: 'appnet', Aliases: ['www'] }]);
  (s as ServiceSpec & { Networks?: unknown }).Networks = undefined;
  resolveServiceNetworks(s, snap);
  assert.deepEqual(s.TaskTemplate.Networks, [{ Target: 'net1', Aliases: ['www'] }]);
  assert.throws(() => resolveServiceNetworks(spec([{ Target: 'nope' }]), snap), /network nope not found/);
  assert.throws(() => resolveServiceNetworks(spec([{ Target: 'appnet' }, { Target: 'net1' }]), snap), /duplicate network attachment/);
  // the deprecated top-level field means the same
  const old = { ...spec([]), Networks: [{ Target: 'appnet' }] };
  resolveServiceNetworks(old, snap);
  assert.deepEqual(old.TaskTemplate.Networks, [{ Target: 'net1' }]);
  assert.equal(old.Networks, undefined);
  assert.equal(findNetwork(snap, 'ne')?.ID, 'net1');
});

test('tasks get distinct addresses, never the gateway, a VIP or a live task\'s, and freed ones are not reused at once', () => {
  const vipHolder: Service = { ID: 's0', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: spec([{ Target: 'net1' }]), Endpoint: { Spec: {}, VirtualIPs: [{ NetworkID: 'net1', Addr: '10.0.1.3/24' }] } };
  const live = task('live', ['net1'], 'running', ['10.0.1.2/24']);
  const gone = task('gone', ['net1'], 'shutdown', ['10.0.1.4/24']);
  const snap = snapshot({ networks: [appnet], services: [vipHolder], tasks: [live, gone] });
  const cursors = new Map<string, number>();
  const fresh = [task('a', ['net1']), task('b', ['net1']), task('c', ['net1'])];
  allocateAddresses(fresh, snap, cursors);
  // .2 is a live task's, .3 a VIP; .4 was freed by a stopped task and is free again
  assert.deepEqual(fresh.map((t) => t.NetworksAttachments![0].Addresses[0]), ['10.0.1.4/24', '10.0.1.5/24', '10.0.1.6/24']);
  // the next round goes on after the last address given, not back to the lowest free one
  const later = [task('d', ['net1'])];
  allocateAddresses(later, snapshot({ networks: [appnet], services: [vipHolder], tasks: [live] }), cursors);
  assert.equal(later[0].NetworksAttachments![0].Addresses[0], '10.0.1.7/24');
  // a task on no overlay gets no attachments
  const plain = [task('e', [])];
  allocateAddresses(plain, snap, cursors);
  assert.equal(plain[0].NetworksAttachments, undefined);
});

test('a full subnet wraps around to what was freed, and rejects the task when nothing is', () => {
  const tiny = network('net2', 'tiny', '10.0.9.0/29', '10.0.9.1', 4098);
  const holders = ['10.0.9.2', '10.0.9.3', '10.0.9.4', '10.0.9.5', '10.0.9.6'].map((a, i) => task(`t${i}`, ['net2'], 'running', [`${a}/29`]));
  const cursors = new Map([['net2', (10 << 24) + (9 << 8) + 6]]);
  const none = [task('x', ['net2'])];
  allocateAddresses(none, snapshot({ networks: [tiny], tasks: holders }), cursors);
  assert.equal(none[0].NetworksAttachments, undefined);
  // never started off its network: rejected with the reason (its restart policy retries)
  assert.equal(none[0].Status.State, 'rejected');
  assert.match(none[0].Status.Err ?? '', /no available IPv4 addresses on network tiny/);
  const one = [task('y', ['net2'])];
  allocateAddresses(one, snapshot({ networks: [tiny], tasks: holders.filter((t) => t.ID !== 't1') }), cursors);
  assert.equal(one[0].NetworksAttachments![0].Addresses[0], '10.0.9.3/29');
});

test('service VIPs: from the top of the subnet, kept across updates, none in dnsrr mode', () => {
  const snap = snapshot({ networks: [appnet] });
  const vips = serviceVips(spec([{ Target: 'net1' }]), snap, 's1', undefined);
  assert.deepEqual(vips, [{ NetworkID: 'net1', Addr: '10.0.1.254/24' }]);
  const other: Service = { ID: 's1', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: spec([{ Target: 'net1' }]), Endpoint: { Spec: {}, VirtualIPs: vips } };
  const second = serviceVips(spec([{ Target: 'net1' }]), snapshot({ networks: [appnet], services: [other] }), 's2', undefined);
  assert.deepEqual(second, [{ NetworkID: 'net1', Addr: '10.0.1.253/24' }]);
  assert.deepEqual(serviceVips(spec([{ Target: 'net1' }]), snapshot({ networks: [appnet], services: [other] }), 's1', vips), vips);
  assert.equal(serviceVips(spec([{ Target: 'net1' }], 'dnsrr'), snap, 's3', undefined), undefined);
  assert.equal(serviceVips(spec([]), snap, 's4', undefined), undefined);
});

test('VIP rules: a DNAT per backend with even odds, in the container\'s own nat OUTPUT', () => {
  const rules = vipRules([{ vip: '10.0.1.254', backends: ['10.0.1.4', '10.0.1.2', '10.0.1.3'] }]);
  const lines = rules.split('\n');
  assert.ok(lines.includes('-A OUTPUT -j BERTH-VIP'));
  const dnat = lines.filter((l) => l.includes('DNAT'));
  assert.deepEqual(dnat, [
    '-A BERTH-VIP -d 10.0.1.254/32 -m statistic --mode random --probability 0.33333333 -j DNAT --to-destination 10.0.1.2',
    '-A BERTH-VIP -d 10.0.1.254/32 -m statistic --mode random --probability 0.50000000 -j DNAT --to-destination 10.0.1.3',
    '-A BERTH-VIP -d 10.0.1.254/32 -j DNAT --to-destination 10.0.1.4',
  ]);
  assert.equal(lines[0], '*nat');
  assert.ok(rules.endsWith('COMMIT\n'));
  // the same services give the same text, whatever the order (so unchanged rules are not rewritten)
  assert.equal(vipRules([{ vip: 'b', backends: ['2', '1'] }, { vip: 'a', backends: ['3'] }]), vipRules([{ vip: 'a', backends: ['3'] }, { vip: 'b', backends: ['1', '2'] }]));
});

test('mesh routes: TCP and UDP ports of running tasks on ready nodes', () => {
  const node = (id: string, addr: string, state: SwarmNode['Status']['State']): SwarmNode =>
    ({ ID: id, Status: { State: state, Addr: addr }, Spec: { Role: 'worker', Availability: 'active' } }) as SwarmNode;
  const svc: Service = {
    ID: 's1',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: spec([]),
    Endpoint: { Spec: {}, Ports: [{ TargetPort: 53, Protocol: 'udp', PublishedPort: 5353, PublishMode: 'ingress' }, { TargetPort: 80, Protocol: 'tcp', PublishedPort: 8080, PublishMode: 'ingress' }, { TargetPort: 81, PublishedPort: 81, PublishMode: 'host' }] },
  };
  const t = (id: string, nodeId: string, state: Task['Status']['State']): Task => ({
    ...task(id, [], state),
    NodeID: nodeId,
    MeshPorts: [{ TargetPort: 53, Protocol: 'udp', HostPort: 31000 }, { TargetPort: 80, Protocol: 'tcp', HostPort: 31001 }],
  });
  const r = routes([svc], [t('a', 'n1', 'running'), t('b', 'n2', 'running'), t('c', 'n1', 'starting')], [node('n1', '10.9.0.1', 'ready'), node('n2', '10.9.0.2', 'down')]);
  assert.deepEqual([...r.keys()].sort(), ['5353/udp', '8080/tcp']);
  assert.deepEqual(r.get('5353/udp'), [{ addr: '10.9.0.1', port: 31000 }]);
  assert.deepEqual(r.get('8080/tcp'), [{ addr: '10.9.0.1', port: 31001 }]);
});

test('an overlay as the API shows it', () => {
  const j = overlayJSON(appnet);
  assert.equal(j.Scope, 'swarm');
  assert.equal(j.Driver, 'overlay');
  assert.deepEqual((j.IPAM as { Config: unknown[] }).Config, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  assert.equal((j.Options as Record<string, string>)['com.docker.network.driver.overlay.vxlanid_list'], '4097');
});

test('an overlay bridge\'s MAC: fixed for a node, different between nodes, never an endpoint\'s', () => {
  const a = overlayBridgeMac('10.0.1.1', '192.168.9.1');
  assert.equal(a, overlayBridgeMac('10.0.1.1', '192.168.9.1'));
  assert.notEqual(a, overlayBridgeMac('10.0.1.1', '192.168.9.2'));
  assert.match(a, /^02:43(:[0-9a-f]{2}){4}$/);
});

test('a network is removable once its service is gone, while the tasks of that service still stop', async () => {
  const net = network('n1', 'appnet', '10.0.1.0/24', '10.0.1.1', 4097);
  const svc = { ID: 's1', Spec: spec([{ Target: 'n1' }]) } as unknown as Service;
  const running = task('t1', ['n1'], 'running', ['10.0.1.2/24']);
  const removed: string[] = [];
  const storeOf = (snap: Snapshot) => ({ snapshot: async () => snap, remove: async (_kind: string, id: string) => void removed.push(id) }) as unknown as ClusterStore;
  await assert.rejects(removeNetwork(storeOf(snapshot({ networks: [net], services: [svc], tasks: [running] })), 'appnet'), /is in use by service s1/);
  // the service's tasks still want to run: they block it only while the service exists
  const svcNoNet = { ID: 's1', Spec: spec([]) } as unknown as Service;
  await assert.rejects(removeNetwork(storeOf(snapshot({ networks: [net], services: [svcNoNet], tasks: [running] })), 'appnet'), /is in use by task t1/);
  assert.deepEqual(removed, []);
  await removeNetwork(storeOf(snapshot({ networks: [net], services: [], tasks: [running] })), 'appnet');
  assert.deepEqual(removed, ['n1']);
});
