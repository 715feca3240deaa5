import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { nextBackoff, restartsAfterExit, startsWithDaemon, FIRST_BACKOFF_MS, MAX_BACKOFF_MS } from '../../src/container/restart-policy';
import { initialState, type ContainerRecord } from '../../src/container/model';

function record(policy: { Name: string; MaximumRetryCount?: number }, state: Partial<ContainerRecord['State']>, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    ID: 'a'.repeat(64),
    Created: new Date().toISOString(),
    Name: '/x',
    Path: 'true',
    Args: [],
    Config: {},
    HostConfig: { RestartPolicy: policy as ContainerRecord['HostConfig']['RestartPolicy'] },
    Image: 'sha256:' + 'b'.repeat(64),
    State: { ...initialState(), ...state },
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    ...extra,
  };
}

test('restartsAfterExit follows each policy', () => {
  assert.equal(restartsAfterExit(undefined, 1, false, 0), false);
  assert.equal(restartsAfterExit({ Name: 'no' }, 1, false, 0), false);
  assert.equal(restartsAfterExit({ Name: 'always' }, 0, false, 50), true);
  assert.equal(restartsAfterExit({ Name: 'unless-stopped' }, 0, false, 0), true);
  assert.equal(restartsAfterExit({ Name: 'on-failure' }, 0, false, 0), false, 'a clean exit is not a failure');
  assert.equal(restartsAfterExit({ Name: 'on-failure' }, 3, false, 1000), true, 'no maximum by default');
  assert.equal(restartsAfterExit({ Name: 'on-failure', MaximumRetryCount: 3 }, 1, false, 2), true);
  assert.equal(restartsAfterExit({ Name: 'on-failure', MaximumRetryCount: 3 }, 1, false, 3), false, 'three restarts, then no more');
  for (const Name of ['always', 'unless-stopped', 'on-failure'] as const) {
    assert.equal(restartsAfterExit({ Name }, 137, true, 0), false, `${Name}: a manual stop wins`);
  }
});

test('nextBackoff doubles from 100 ms, caps at a minute, and starts over after 10 s of running', () => {
  let wait = 0;
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    wait = nextBackoff(wait, 50);
    seen.push(wait);
  }
  assert.deepEqual(seen, [FIRST_BACKOFF_MS, 200, 400, 800, 1600]);
  for (let i = 0; i < 20; i++) wait = nextBackoff(wait, 50);
  assert.equal(wait, MAX_BACKOFF_MS);
  assert.equal(nextBackoff(wait, 10_000), FIRST_BACKOFF_MS);
  assert.equal(nextBackoff(1600, 9_999), 3200);
});

test('startsWithDaemon: always comes back even after a manual stop, unless-stopped only if not stopped by hand', () => {
  const ran = { Status: 'exited' as const, StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '2026-01-01T00:01:00Z' };
  assert.equal(startsWithDaemon(record({ Name: 'always' }, ran, { ManuallyStopped: true })), true);
  assert.equal(startsWithDaemon(record({ Name: 'unless-stopped' }, ran, { ManuallyStopped: true })), false);
  assert.equal(startsWithDaemon(record({ Name: 'unless-stopped' }, ran)), true);
  assert.equal(startsWithDaemon(record({ Name: 'no' }, ran)), false);
  assert.equal(startsWithDaemon(record({ Name: 'on-failure' }, { ...ran, ExitCode: 0 })), false);
  assert.equal(startsWithDaemon(record({ Name: 'on-failure' }, { ...ran, ExitCode: 2 })), true);
  assert.equal(startsWithDaemon(record({ Name: 'on-failure', MaximumRetryCount: 2 }, { ...ran, ExitCode: 2 }, { RestartCount: 2 })), false);
  assert.equal(startsWithDaemon(record({ Name: 'always' }, {})), false, 'a container that never ran stays created');
  assert.equal(startsWithDaemon(record({ Name: 'always' }, { ...ran, Status: 'running', Running: true })), false, 'running already');
  assert.equal(startsWithDaemon(record({ Name: 'no' }, { ...ran, Status: 'restarting', Running: true, Restarting: true })), true, 'a pending restart is kept');
  const leaving = { MovingOut: { To: 'node2', Since: '2026-01-01T00:02:00Z' } };
  assert.equal(startsWithDaemon(record({ Name: 'always' }, ran, { ManuallyStopped: true, ...leaving })), false, 'a container being moved away may run on the target already');
  assert.equal(startsWithDaemon(record({ Name: 'unless-stopped' }, ran, leaving)), false);
});
