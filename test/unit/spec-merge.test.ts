import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { commandLine, mergeWithImage, validateHostConfig } from '../../src/container/config-merge';
import { isBerthError } from '../../src/common/errors';

const image = {
  Env: ['PATH=/usr/bin:/bin', 'LANG=C.UTF-8'],
  Entrypoint: ['/entry.sh'],
  Cmd: ['serve', '--port', '80'],
  WorkingDir: '/app',
  User: 'app',
  StopSignal: 'SIGQUIT',
  Labels: { a: 'image', b: 'image' },
  ExposedPorts: { '80/tcp': {} },
  Volumes: { '/data': {} },
  Healthcheck: { Test: ['CMD', 'true'], Interval: 5e9, Retries: 3 },
};

function rejects(fn: () => unknown, message: string | RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isBerthError(e, 'INVALID_PARAMETER'), `expected a 400 BerthError, got ${String(e)}`);
    if (typeof message === 'string') assert.equal((e as Error).message, message);
    else assert.match((e as Error).message, message);
    return true;
  });
}

describe('mergeWithImage: entrypoint and cmd', () => {
  it('takes both from the image when the user gives neither', () => {
    const m = mergeWithImage({}, image);
    assert.deepEqual(commandLine(m), ['/entry.sh', 'serve', '--port', '80']);
  });
  it('replaces only Cmd when the user gives Cmd', () => {
    const m = mergeWithImage({ Cmd: ['sh'] }, image);
    assert.deepEqual(commandLine(m), ['/entry.sh', 'sh']);
  });
  it("drops the image's Cmd when the user gives an Entrypoint alone", () => {
    const m = mergeWithImage({ Entrypoint: ['/bin/echo'] }, image);
    assert.deepEqual(m.Cmd ?? [], []);
    assert.deepEqual(commandLine(m), ['/bin/echo']);
  });
  it('uses both of the user\'s when both are given', () => {
    const m = mergeWithImage({ Entrypoint: ['/bin/echo'], Cmd: ['hi'] }, image);
    assert.deepEqual(commandLine(m), ['/bin/echo', 'hi']);
  });
  it('clears the image Entrypoint with [""] (--entrypoint "") and keeps the user Cmd', () => {
    const m = mergeWithImage({ Entrypoint: [''], Cmd: ['ls'] }, image);
    assert.equal(m.Entrypoint, null);
    assert.deepEqual(commandLine(m), ['ls']);
  });
  it('refuses [""] without a Cmd, as dockerd does: no command specified', () => {
    rejects(() => mergeWithImage({ Entrypoint: [''] }, image), 'no command specified');
  });
  it("an explicit [] Entrypoint clears the image's but keeps its Cmd", () => {
    const m = mergeWithImage({ Entrypoint: [] }, image);
    assert.deepEqual(commandLine(m), ['serve', '--port', '80']);
  });
  it('refuses a config without any command', () => {
    rejects(() => mergeWithImage({}, { Env: ['A=1'] }), 'no command specified');
    rejects(() => mergeWithImage({ Image: 'x' }, undefined), 'no command specified');
  });
});

describe('mergeWithImage: other fields', () => {
  it('overrides env by key: the user\'s variables, then the image\'s others', () => {
    const m = mergeWithImage({ Env: ['LANG=fr_FR', 'NEW=1'] }, image);
    assert.deepEqual(m.Env, ['LANG=fr_FR', 'NEW=1', 'PATH=/usr/bin:/bin']);
  });
  it("keeps the image's env when the user gives none", () => {
    assert.deepEqual(mergeWithImage({}, image).Env, image.Env);
  });
  it('fills WorkingDir, User, StopSignal from the image only when absent', () => {
    const m = mergeWithImage({}, image);
    assert.equal(m.WorkingDir, '/app');
    assert.equal(m.User, 'app');
    assert.equal(m.StopSignal, 'SIGQUIT');
    const u = mergeWithImage({ WorkingDir: '/w/', User: '0', StopSignal: 'SIGTERM' }, image);
    assert.equal(u.WorkingDir, '/w');
    assert.equal(u.User, '0');
    assert.equal(u.StopSignal, 'SIGTERM');
  });
  it('refuses a relative WorkingDir', () => {
    rejects(() => mergeWithImage({ WorkingDir: 'rel', Cmd: ['x'] }, undefined), /needs to be an absolute path/);
  });
  it('unions labels (user wins), ports and volumes', () => {
    const m = mergeWithImage({ Labels: { b: 'user', c: 'user' }, ExposedPorts: { '443/tcp': {} }, Volumes: { '/logs': {} } }, image);
    assert.deepEqual(m.Labels, { a: 'image', b: 'user', c: 'user' });
    assert.deepEqual(Object.keys(m.ExposedPorts!).sort(), ['443/tcp', '80/tcp']);
    assert.deepEqual(Object.keys(m.Volumes!).sort(), ['/data', '/logs']);
  });
  it('fills healthcheck fields the user left at zero', () => {
    const m = mergeWithImage({ Healthcheck: { Interval: 1e9 } }, image);
    assert.deepEqual(m.Healthcheck?.Test, ['CMD', 'true']);
    assert.equal(m.Healthcheck?.Interval, 1e9);
    assert.equal(m.Healthcheck?.Retries, 3);
  });
  it('does not modify its inputs', () => {
    const create = { Env: ['A=1'] };
    const img = JSON.parse(JSON.stringify(image));
    mergeWithImage(create, img);
    assert.deepEqual(create, { Env: ['A=1'] });
    assert.deepEqual(img, JSON.parse(JSON.stringify(image)));
  });
});

describe('validateHostConfig', () => {
  const MB = 1024 * 1024;
  it('accepts an empty or ordinary HostConfig', () => {
    validateHostConfig(undefined, 2);
    validateHostConfig({}, 2);
    validateHostConfig({ Memory: 64 * MB, MemorySwap: -1, NanoCpus: 5e8, PidsLimit: 64, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } }, 2);
  });
  it('uses dockerd messages for memory', () => {
    rejects(() => validateHostConfig({ Memory: 4 * MB }, 2), 'Minimum memory limit allowed is 6MB');
    rejects(() => validateHostConfig({ Memory: 64 * MB, MemorySwap: 32 * MB }, 2), 'Minimum memoryswap limit should be larger than memory limit, see usage');
    rejects(() => validateHostConfig({ MemorySwap: 32 * MB }, 2), 'You should always set the Memory limit when using Memoryswap limit, see usage');
    rejects(() => validateHostConfig({ MemorySwappiness: 101 }, 2), 'Invalid value: 101, valid memory swappiness range is 0-100');
  });
  it('uses dockerd messages for cpu', () => {
    rejects(() => validateHostConfig({ NanoCpus: 5e8, CpuPeriod: 100000 }, 2), 'Conflicting options: Nano CPUs and CPU Period cannot both be set');
    rejects(() => validateHostConfig({ NanoCpus: 5e8, CpuQuota: 50000 }, 2), 'Conflicting options: Nano CPUs and CPU Quota cannot both be set');
    rejects(() => validateHostConfig({ NanoCpus: 3e9 }, 2), 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available');
    rejects(() => validateHostConfig({ CpuPeriod: 10 }, 2), /CPU cfs period can not be less than 1ms/);
    rejects(() => validateHostConfig({ CpusetCpus: '0-7' }, 2), 'Requested CPUs are not available - requested 0-7, available: 0-1');
    rejects(() => validateHostConfig({ CpusetCpus: 'x' }, 2), 'Invalid value x for cpuset cpus');
  });
  it('checks restart policies', () => {
    rejects(() => validateHostConfig({ RestartPolicy: { Name: 'sometimes' as 'no' } }, 2), /unknown policy 'sometimes'/);
    rejects(() => validateHostConfig({ RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } }, 2), /can only be used with 'on-failure'/);
    rejects(() => validateHostConfig({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: -1 } }, 2), /cannot be negative/);
    rejects(() => validateHostConfig({ AutoRemove: true, RestartPolicy: { Name: 'always' } }, 2), "can't create 'AutoRemove' container with restart policy");
  });
  it('checks oom score, blkio weight, ulimits', () => {
    rejects(() => validateHostConfig({ OomScoreAdj: 1001 }, 2), 'Invalid value 1001, range for oom score adj is [-1000, 1000]');
    rejects(() => validateHostConfig({ BlkioWeight: 5 }, 2), 'Range of blkio weight is from 10 to 1000');
    rejects(() => validateHostConfig({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }, 2), /soft limit must be less than or equal to hard limit/);
  });
});
