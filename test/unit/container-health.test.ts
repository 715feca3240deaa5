import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyResult, probeCommand, validateHealthcheck, LOG_ENTRIES } from '../../src/container/health';
import type { HealthState } from '../../src/container/model';

const entry = (code: number, i = 0) => ({ Start: `s${i}`, End: `e${i}`, ExitCode: code, Output: `o${i}` });
const starting = (): HealthState => ({ Status: 'starting', FailingStreak: 0, Log: [] });

test('a success makes a container healthy; Retries failures in a row unhealthy', () => {
  let h = applyResult(starting(), entry(0), { retries: 2, inStartPeriod: false });
  assert.equal(h.Status, 'healthy');
  h = applyResult(h, entry(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 1]);
  h = applyResult(h, entry(1), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['unhealthy', 2]);
  h = applyResult(h, entry(0), { retries: 2, inStartPeriod: false });
  assert.deepEqual([h.Status, h.FailingStreak], ['healthy', 0]);
  // retries 0 means Docker's default of 3
  let d = starting();
  for (let i = 0; i < 2; i++) d = applyResult(d, entry(1), { retries: 0, inStartPeriod: false });
  assert.equal(d.Status, 'starting');
  d = applyResult(d, entry(1), { retries: 0, inStartPeriod: false });
  assert.equal(d.Status, 'unhealthy');
});

test('failures in the start period do not count; a success in it does', () => {
  let h = starting();
  for (let i = 0; i < 5; i++) h = applyResult(h, entry(1), { retries: 1, inStartPeriod: true });
  assert.deepEqual([h.Status, h.FailingStreak], ['starting', 0]);
  h = applyResult(h, entry(0), { retries: 1, inStartPeriod: true });
  assert.equal(h.Status, 'healthy');
});

test('the log keeps the last five results', () => {
  let h = starting();
  for (let i = 0; i < 8; i++) h = applyResult(h, entry(i % 2, i), { retries: 3, inStartPeriod: false });
  assert.equal(h.Log.length, LOG_ENTRIES);
  assert.deepEqual(h.Log.map((e) => e.Start), ['s3', 's4', 's5', 's6', 's7']);
});

test('the probe command from each Test form, and validation in Docker words', () => {
  assert.deepEqual(probeCommand({ Test: ['CMD-SHELL', 'wget -q localhost || exit 1'] }), ['/bin/sh', '-c', 'wget -q localhost || exit 1']);
  assert.deepEqual(probeCommand({ Test: ['CMD', 'true', 'x'] }), ['true', 'x']);
  assert.equal(probeCommand({ Test: ['NONE'] }), undefined);
  assert.equal(probeCommand({}), undefined);
  assert.equal(probeCommand(undefined), undefined);
  assert.throws(() => validateHealthcheck({ Interval: 10 }), /Interval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ Timeout: 999_999 }), /Timeout in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ Retries: -1 }), /Retries in Healthcheck cannot be negative/);
  validateHealthcheck({ Interval: 1_000_000, Timeout: 0, Retries: 0 });
});
