import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { logLimits, validateLogConfig } from '../../src/container/log-options';

test("a container's log keeps to its own options, over the daemon's, over berth's default of 5 files of 20 MiB", () => {
  assert.deepEqual(logLimits(undefined, {}), { maxSize: 20 * 1024 * 1024, maxFiles: 5 });
  assert.deepEqual(logLimits({ Type: '' }, { 'max-size': '10m' }), { maxSize: 10 * 1024 * 1024, maxFiles: 5 });
  assert.deepEqual(logLimits({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '2' } }, { 'max-size': '10m', 'max-file': '9' }), { maxSize: 1024, maxFiles: 2 });
  assert.deepEqual(logLimits({ Type: 'local', Config: { 'max-size': '-1' } }, {}), { maxSize: 0, maxFiles: 5 });
});

test('log drivers and options berth does not keep are refused in dockerd words', () => {
  assert.throws(() => validateLogConfig({ Type: 'syslog' }), { message: "logger: no log driver named 'syslog' is registered" });
  assert.throws(() => validateLogConfig({ Type: '', Config: { 'max-sise': '1m' } }), { message: "unknown log opt 'max-sise' for json-file log driver" });
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-file': '0' } }), { message: 'max-file cannot be less than 1' });
  assert.throws(() => validateLogConfig({ Type: 'json-file', Config: { 'max-size': 'lots' } }), { status: 400 });
  assert.throws(() => validateLogConfig({ Type: 'local', Config: { labels: 'a' } }), { message: "unknown log opt 'labels' for local log driver" });
  validateLogConfig({ Type: 'k8s-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  validateLogConfig(undefined, 'local');
});
