import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkCreateRequest, checkRealtime } from '../../src/container/create-checks';
import { mergeUpdate } from '../../src/container/update';

const RT = { cpuRealtime: true };
const NO_RT = { cpuRealtime: false };

test('real-time CPU options: refused in dockerd\'s words where the kernel has no RT group scheduling', () => {
  assert.throws(() => checkCreateRequest({ Image: 'busybox' }, { CpuRealtimeRuntime: 950000 }, NO_RT), { message: 'Your kernel does not support CPU real-time scheduler' });
  assert.throws(() => checkCreateRequest({ Image: 'busybox' }, { CpuRealtimePeriod: 1000000 }, NO_RT), { message: 'Your kernel does not support CPU real-time scheduler' });
  // none asked: nothing to refuse on any kernel
  checkCreateRequest({ Image: 'busybox' }, {}, NO_RT);
});

test('real-time CPU options: the runtime may not exceed the period', () => {
  assert.throws(() => checkRealtime({ CpuRealtimePeriod: 1000, CpuRealtimeRuntime: 2000 }, RT), /cpu-rt-runtime cannot be higher than cpu-rt-period/);
  checkRealtime({ CpuRealtimePeriod: 2000, CpuRealtimeRuntime: 1000 }, RT);
  checkRealtime({ CpuRealtimeRuntime: 1000 }, RT);
});

test('update checks the real-time options it is given against the ones the container has', () => {
  // (on a kernel without RT group scheduling the kernel's refusal comes first)
  assert.throws(() => mergeUpdate({ CpuRealtimePeriod: 1000 }, { CpuRealtimeRuntime: 5000 }), /cpu-rt-runtime cannot be higher than cpu-rt-period|does not support CPU real-time/);
  assert.deepEqual(mergeUpdate({}, { CpuShares: 512 }).CpuShares, 512);
});
