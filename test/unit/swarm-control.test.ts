import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { validateServiceSpec } from '../../src/swarm/cluster/control';
import type { ServiceSpec } from '../../src/swarm/cluster/model';

const spec = (o: Partial<ServiceSpec>): ServiceSpec => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, ...o });

test('service specs: a job is refused rather than run as a service; replicas must be whole and not negative', () => {
  assert.throws(() => validateServiceSpec(spec({ Mode: { ReplicatedJob: { TotalCompletions: 3 } } as ServiceSpec['Mode'] })), /does not run jobs/);
  assert.throws(() => validateServiceSpec(spec({ Mode: { GlobalJob: {} } as ServiceSpec['Mode'] })), /does not run jobs/);
  assert.throws(() => validateServiceSpec(spec({ Mode: { Replicated: { Replicas: -1 } } })), /invalid replicas value -1/);
  assert.throws(() => validateServiceSpec(spec({ Mode: { Replicated: { Replicas: 1.5 } } })), /invalid replicas value/);
  assert.throws(() => validateServiceSpec(spec({ TaskTemplate: { ContainerSpec: { Image: '' } } })), /image reference must be provided/);
  validateServiceSpec(spec({ Mode: { Replicated: { Replicas: 0 } } }));
  validateServiceSpec(spec({ Mode: { Global: {} } }));
});
