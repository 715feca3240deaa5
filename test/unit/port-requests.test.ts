import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { portRequests } from '../../src/network/ports';
import type { ContainerConfig, HostConfig } from '../../src/api/types';

const request = (HostPort: string | undefined) =>
  portRequests({ PortBindings: { '80/tcp': [{ HostIp: '', HostPort }] } } as HostConfig, {} as ContainerConfig);

test('HostPort "0", "" and absent all ask for any free port, as Docker takes them (testcontainers sends "0")', () => {
  for (const hostPort of ['0', '', undefined]) {
    assert.deepEqual(request(hostPort), [{ hostIP: '0.0.0.0', hostPortFrom: 0, hostPortTo: 0, containerPort: 80, protocol: 'tcp' }], `HostPort ${JSON.stringify(hostPort)}`);
  }
});

test('a fixed host port and a range are kept; a port out of range is refused with Docker\'s words', () => {
  assert.deepEqual(request('8080')[0], { hostIP: '0.0.0.0', hostPortFrom: 8080, hostPortTo: 8080, containerPort: 80, protocol: 'tcp' });
  assert.equal(request('9000-9010')[0].hostPortTo, 9010);
  assert.throws(() => request('70000'), { message: 'invalid port specification: "70000"' });
  assert.throws(() => request('x'), { message: 'invalid port specification: "x"' });
});
