import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cluster, validateServiceSpec } from '../../src/swarm/cluster/control';
import { BerthError } from '../../src/common/errors';
import { asItsServiceDefines } from '../../src/swarm/cluster/agent';
import type { Service, ServiceSpec, Task } from '../../src/swarm/cluster/model';

const spec = (o: Partial<ServiceSpec>): ServiceSpec => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, ...o });

test('service specs: jobs are accepted with whole limits; one mode only; replicas must be whole and not negative', () => {
  validateServiceSpec(spec({ Mode: { ReplicatedJob: { TotalCompletions: 3 } } }));
  validateServiceSpec(spec({ Mode: { GlobalJob: {} } }));
  assert.throws(() => validateServiceSpec(spec({ Mode: { ReplicatedJob: { MaxConcurrent: -1 } } })), /MaxConcurrent must be a non-negative integer/);
  assert.throws(() => validateServiceSpec(spec({ Mode: { GlobalJob: {}, Replicated: { Replicas: 1 } } })), /service mode is not valid/);
  assert.throws(() => validateServiceSpec(spec({ Mode: { Replicated: { Replicas: -1 } } })), /invalid replicas value -1/);
  assert.throws(() => validateServiceSpec(spec({ Mode: { Replicated: { Replicas: 1.5 } } })), /invalid replicas value/);
  assert.throws(() => validateServiceSpec(spec({ TaskTemplate: { ContainerSpec: { Image: '' } } })), /image reference must be provided/);
  validateServiceSpec(spec({ Mode: { Replicated: { Replicas: 0 } } }));
  validateServiceSpec(spec({ Mode: { Global: {} } }));
});

test('an agent runs a task with its service\'s spec, not the one written in the task object', () => {
  const v1 = { ContainerSpec: { Image: 'app:1' } };
  const v2 = { ContainerSpec: { Image: 'app:2' } };
  const svc = { ID: 's', SpecVersion: 2, Spec: spec({ TaskTemplate: v2 }), PreviousSpec: spec({ TaskTemplate: v1 }) } as Service;
  const task = (made: number) => ({ ID: 't', SpecVersion: made, Spec: { ContainerSpec: { Image: 'evil', Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] } } }) as unknown as Task;
  assert.deepEqual(asItsServiceDefines(task(2), svc)?.Spec, v2);
  assert.deepEqual(asItsServiceDefines(task(1), svc)?.Spec, v1);
  assert.equal(asItsServiceDefines(task(0), svc), undefined);
});

test('an etcd that lost quorum reads as no leader, whichever way the request failed', async () => {
  for (const msg of ['no answer within 5000 ms', 'socket hang up', 'read ECONNRESET', 'etcdserver: request timed out', 'connect ECONNREFUSED 10.0.0.1:2379']) {
    await assert.rejects(
      cluster(() => Promise.reject(new Error(msg))),
      (e: unknown) => e instanceof BerthError && e.status === 503 && /The swarm does not have a leader/.test(e.message),
      msg,
    );
  }
  // a refusal of berth's own (a status) is not mistaken for a lost quorum
  await assert.rejects(cluster(() => Promise.reject(new BerthError('NOT_FOUND', 'service x not found: socket hang up'))), (e: unknown) => e instanceof BerthError && e.status === 404);
});
