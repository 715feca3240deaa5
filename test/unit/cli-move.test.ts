import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { addressesOverlap, anonymousVolumes, createBody, publishedPorts, userNetworks, volumeNames, type ContainerInfo } from '../../src/cli/move/inspect';

const c: ContainerInfo = {
  Id: 'abcdef0123456789'.padEnd(64, '0'),
  Name: '/web',
  Image: 'sha256:' + '1'.repeat(64),
  State: { Running: true, Paused: false, Restarting: false, Status: 'running' },
  Config: { Image: 'busybox', Env: ['A=1'], Labels: { tier: 'web' }, Volumes: { '/anon/': {}, '/data': {} } },
  HostConfig: { NetworkMode: 'appnet', Binds: ['data:/data:rw', '/srv:/srv'], Mounts: [{ Type: 'volume', Target: '/m' }, { Type: 'volume', Source: 'named2', Target: '/n' }], PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '' }], '53/udp': [{ HostIp: '10.0.0.1', HostPort: '53' }] } },
  NetworkSettings: { Networks: { appnet: { Aliases: ['db', 'abcdef012345'], IPAMConfig: { IPv4Address: '10.1.0.5' } }, bridge: { Aliases: null } } },
  Mounts: [
    { Type: 'volume', Name: 'data', Destination: '/data' },
    { Type: 'volume', Name: 'f'.repeat(64), Destination: '/anon' },
    { Type: 'volume', Name: 'e'.repeat(64), Destination: '/m' },
    { Type: 'volume', Name: 'named2', Destination: '/n' },
    { Type: 'bind', Source: '/srv', Destination: '/srv' },
  ],
};

test('what a move reads of a container: user networks, named volumes, published host ports', () => {
  assert.deepEqual(userNetworks(c), ['appnet']);
  assert.deepEqual(volumeNames(c), ['data', 'f'.repeat(64), 'e'.repeat(64), 'named2']);
  // the image's VOLUME at /data is taken by the named volume; -v /anon and --mount without a source are anonymous
  assert.deepEqual(anonymousVolumes(c), { '/anon': 'f'.repeat(64), '/m': 'e'.repeat(64) });
  assert.deepEqual(publishedPorts(c), [
    { port: 8080, proto: 'tcp', ip: '' },
    { port: 53, proto: 'udp', ip: '10.0.0.1' },
  ]);
  assert.equal(addressesOverlap('', '127.0.0.1'), true);
  assert.equal(addressesOverlap('10.0.0.1', '10.0.0.2'), false);
  assert.equal(addressesOverlap('::', '10.0.0.2'), true);
});

test('the create request keeps configuration, host config and endpoints, without the source ID as an alias', () => {
  const body = createBody(c, 'sha256:' + '1'.repeat(64)) as { Image: string; Env: string[]; HostConfig: unknown; NetworkingConfig: { EndpointsConfig: Record<string, { Aliases: string[]; IPAMConfig: unknown }> } };
  assert.equal(body.Image, 'sha256:' + '1'.repeat(64));
  assert.deepEqual(body.Env, ['A=1']);
  assert.equal(body.HostConfig, c.HostConfig);
  assert.deepEqual(body.NetworkingConfig.EndpointsConfig.appnet.Aliases, ['db']);
  assert.deepEqual(body.NetworkingConfig.EndpointsConfig.appnet.IPAMConfig, { IPv4Address: '10.1.0.5' });
  assert.deepEqual(Object.keys(body.NetworkingConfig.EndpointsConfig).sort(), ['appnet', 'bridge']);
});

test('to a Docker target, anonymous volumes are mounted by name (their files came along under that name)', () => {
  const body = createBody(c, 'busybox', anonymousVolumes(c)) as { HostConfig: { Mounts: { Type: string; Source?: string; Target: string }[]; Binds: string[] } };
  assert.deepEqual(body.HostConfig.Mounts, [
    { Type: 'volume', Source: 'named2', Target: '/n' },
    { Type: 'volume', Source: 'f'.repeat(64), Target: '/anon' },
    { Type: 'volume', Source: 'e'.repeat(64), Target: '/m' },
  ]);
  assert.deepEqual(body.HostConfig.Binds, ['data:/data:rw', '/srv:/srv']);
  assert.equal((createBody(c, 'busybox') as { HostConfig: unknown }).HostConfig, c.HostConfig, 'unchanged without');
});
