import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cniPortMappings, portRequests } from '../../src/network/ports';
import type { ContainerConfig, HostConfig } from '../../src/api/types';

const request = (HostPort: string | undefined) =>
  portRequests({ PortBindings: { '80/tcp': [{ HostIp: '', HostPort }] } } as HostConfig, {} as ContainerConfig);

test('HostPort "0", "" and absent all ask for any free port, as Docker takes them (testcontainers sends "0")', () => {
  for (const hostPort of ['0', '', undefined]) {
    assert.deepEqual(request(hostPort), [{ hostIP: '', hostPortFrom: 0, hostPortTo: 0, containerPort: 80, protocol: 'tcp' }], `HostPort ${JSON.stringify(hostPort)}`);
  }
});

test('a fixed host port and a range are kept; a port out of range is refused with Docker\'s words', () => {
  assert.deepEqual(request('8080')[0], { hostIP: '', hostPortFrom: 8080, hostPortTo: 8080, containerPort: 80, protocol: 'tcp' });
  assert.equal(request('9000-9010')[0].hostPortTo, 9010);
  assert.throws(() => request('70000'), { message: 'invalid port specification: "70000"' });
  assert.throws(() => request('x'), { message: 'invalid port specification: "x"' });
});

test('no host IP is kept unspecified (both families); an explicit 0.0.0.0 stays IPv4 alone, as Docker binds it', () => {
  const explicit = portRequests({ PortBindings: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] } } as HostConfig, {} as ContainerConfig);
  assert.equal(explicit[0].hostIP, '0.0.0.0');
  const all = portRequests({ PublishAllPorts: true } as HostConfig, { ExposedPorts: { '80/tcp': {} } } as ContainerConfig);
  assert.equal(all[0].hostIP, '');
  assert.throws(() => portRequests({ PortBindings: { '80/tcp': [{ HostIp: 'nope', HostPort: '1' }] } } as HostConfig, {} as ContainerConfig), { message: 'invalid host IP: nope' });
});

test('the CNI portmap plugin gets 0.0.0.0 as "" and not the [::] twin of it; an explicit [::] alone is kept', () => {
  const m = (hostIP: string, hostPort: number) => ({ hostIP, hostPort, containerPort: 80, protocol: 'tcp' as const });
  assert.deepEqual(cniPortMappings([m('0.0.0.0', 8080), m('::', 8080), m('::', 9090), m('127.0.0.1', 7070)]), [
    { hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostIP: '::', hostPort: 9090, containerPort: 80, protocol: 'tcp' },
    { hostIP: '127.0.0.1', hostPort: 7070, containerPort: 80, protocol: 'tcp' },
  ]);
});
