import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseFlags, FlagDef } from '../../src/cli/flags';
import { UsageError, StatusError } from '../../src/cli/errors';
import { containerFlags, runOnlyFlags, buildContainerRequest } from '../../src/cli/opts/container';
import { parsePortSpec, parseMount, parseUlimit, parseDetachKeys, parseRestartPolicy, readKeyValueFile } from '../../src/cli/opts/values';
import { parseSize, parseNanoCpus } from '../../src/common/units';
import { parseGoDuration } from '../../src/common/time';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runFlags = [...containerFlags, ...runOnlyFlags];
const parseRun = (argv: string[]) => parseFlags(argv, runFlags, { interspersed: false });
const build = (argv: string[], env: NodeJS.ProcessEnv = {}) => buildContainerRequest(parseRun(argv), env);

test('sizes: binary units, bytes, and docker error texts', () => {
  assert.equal(parseSize('64m'), 64 * 1024 * 1024);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('1000'), 1000);
  assert.equal(parseSize('10b'), 10);
  assert.throws(() => parseSize('lots'), /^Error: invalid size: 'lots'$/);
  assert.throws(() => parseSize('1x'), /^Error: invalid suffix: 'x'$/);
  assert.throws(() => parseSize('-1'), /invalid size: '-1'/);
});

test('--cpus becomes NanoCpus; bad values are rejected as docker does', () => {
  assert.equal(parseNanoCpus('1.5'), 1_500_000_000);
  assert.equal(parseNanoCpus('0.25'), 250_000_000);
  assert.equal(parseNanoCpus('3/2'), 1_500_000_000);
  assert.throws(() => parseNanoCpus('abc'), /failed to parse abc as a rational number/);
  assert.throws(() => parseNanoCpus('0.0000000001'), /value is too precise/);
});

test('Go durations', () => {
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.throws(() => parseGoDuration('5'), /missing unit in duration "5"/);
});

test('flag syntax: long, short, =value, clustered booleans, repeated flags', () => {
  const p = parseRun(['-it', '--name=web', '-e', 'A=1', '-eB=2', '--env', 'C=3', '-m=1g', '--rm', 'busybox']);
  assert.equal(p.values.interactive, true);
  assert.equal(p.values.tty, true);
  assert.equal(p.values.name, 'web');
  assert.deepEqual(p.values.env, ['A=1', 'B=2', 'C=3']);
  assert.equal(p.values.memory, 1024 ** 3);
  assert.equal(p.values.rm, true);
  assert.deepEqual(p.args, ['busybox']);
  assert.equal(parseRun(['--rm=false', 'x']).values.rm, false);
});

test('run stops parsing flags at the image: the rest is the command', () => {
  const p = parseRun(['-d', 'busybox', 'ls', '-la', '--rm']);
  assert.deepEqual(p.args, ['busybox', 'ls', '-la', '--rm']);
  assert.equal(p.values.rm, false);
  const body = build(['busybox', 'ls', '-la']).body;
  assert.deepEqual(body.Cmd, ['ls', '-la']);
  assert.equal(body.Image, 'busybox');
});

test('interspersed commands take flags after arguments', () => {
  const defs: FlagDef[] = [{ name: 'force', short: 'f', type: 'bool', help: '' }];
  const p = parseFlags(['a', '-f', 'b'], defs);
  assert.deepEqual(p.args, ['a', 'b']);
  assert.equal(p.values.force, true);
});

test('bad flags and values give pflag/docker messages', () => {
  const msg = (argv: string[]) => {
    try {
      parseRun(argv);
    } catch (e) {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 125);
      return e.message;
    }
    assert.fail('no error');
  };
  assert.equal(msg(['-m', 'lots', 'busybox']), `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'`);
  assert.equal(msg(['--cpus', 'abc', 'x']), 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number');
  assert.equal(msg(['--bogus', 'x']), 'unknown flag: --bogus');
  assert.equal(msg(['-Z', 'x']), "unknown shorthand flag: 'Z' in -Z");
  assert.equal(msg(['--name']), 'flag needs an argument: --name');
  assert.equal(msg(['-m']), "flag needs an argument: 'm' in -m");
  assert.equal(msg(['--pids-limit', 'x', 'i']), 'invalid argument "x" for "--pids-limit" flag: strconv.ParseInt: parsing "x": invalid syntax');
  assert.equal(msg(['-e', '=', 'i']), 'invalid argument "=" for "-e, --env" flag: invalid environment variable: =');
  assert.equal(msg(['--ulimit', 'nofile=10:5', 'i']), 'invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 10 > 5');
  assert.equal(msg(['--rm=maybe', 'i']), 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
});

test('env: KEY=value, KEY from the environment, env files first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  const file = join(dir, 'env');
  writeFileSync(file, '# comment\nFROM_FILE=1\n\nPASS\nUNSET_ONE\n');
  const body = build(['--env-file', file, '-e', 'X=1', '-e', 'HOME_DIR', 'img'], { HOME_DIR: '/root', PASS: 'p' }).body;
  assert.deepEqual(body.Env, ['FROM_FILE=1', 'PASS=p', 'X=1', 'HOME_DIR=/root']);
  assert.deepEqual(readKeyValueFile(file, false), ['FROM_FILE=1', 'PASS', 'UNSET_ONE']);
  rmSync(dir, { recursive: true, force: true });
});

test('labels, resources and host options reach the create body', () => {
  const r = build([
    '--name', 'web', '-l', 'a=1', '--label', 'b', '-m', '64m', '--memory-swap', '-1', '--cpus', '1.5', '-c', '512',
    '--cpu-period', '100000', '--cpu-quota', '50000', '--cpuset-cpus', '0-1', '--pids-limit', '100', '--network', 'none',
    '--entrypoint', '/bin/sh', '--privileged', '--cap-add', 'net_admin', '--cap-drop', 'ALL', '--read-only', '--security-opt', 'no-new-privileges',
    '--ulimit', 'nofile=1024:2048', '--init', '--restart', 'on-failure:3', '--stop-signal', 'SIGINT', '--stop-timeout', '5',
    '-w', '/tmp', '-u', '1000:1000', '-h', 'box', '--shm-size', '128m', '--sysctl', 'net.ipv4.ip_forward=1', '--oom-kill-disable',
    '--log-driver', 'json-file', '--log-opt', 'max-size=1m', '--tmpfs', '/run:size=1m', '-v', '/src:/dst:ro', '-v', '/anon',
    '--mount', 'type=bind,src=/a,dst=/b,readonly', '-p', '127.0.0.1:8080:80/tcp', '--expose', '9000-9001', '-P',
    '--dns', '1.1.1.1', '--add-host', 'db:10.0.0.2', 'busybox', 'sh',
  ]);
  const b = r.body;
  const h = b.HostConfig!;
  assert.equal(r.name, 'web');
  assert.deepEqual(b.Labels, { a: '1', b: '' });
  assert.equal(h.Memory, 64 * 1024 * 1024);
  assert.equal(h.MemorySwap, -1);
  assert.equal(h.NanoCpus, 1_500_000_000);
  assert.equal(h.CpuShares, 512);
  assert.equal(h.CpuPeriod, 100000);
  assert.equal(h.CpuQuota, 50000);
  assert.equal(h.CpusetCpus, '0-1');
  assert.equal(h.PidsLimit, 100);
  assert.equal(h.NetworkMode, 'none');
  assert.deepEqual(b.Entrypoint, ['/bin/sh']);
  assert.equal(h.Privileged, true);
  assert.deepEqual(h.CapAdd, ['CAP_NET_ADMIN']);
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(h.SecurityOpt, ['no-new-privileges=true']);
  assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  assert.equal(h.Init, true);
  assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.equal(b.StopSignal, 'SIGINT');
  assert.equal(b.StopTimeout, 5);
  assert.equal(b.WorkingDir, '/tmp');
  assert.equal(b.User, '1000:1000');
  assert.equal(b.Hostname, 'box');
  assert.equal(h.ShmSize, 128 * 1024 * 1024);
  assert.deepEqual(h.Sysctls, { 'net.ipv4.ip_forward': '1' });
  assert.equal(h.OomKillDisable, true);
  assert.deepEqual(h.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m' } });
  assert.deepEqual(h.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(h.Binds, ['/src:/dst:ro']);
  assert.deepEqual(b.Volumes, { '/anon': {} });
  assert.deepEqual(h.Mounts, [{ Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true }]);
  assert.deepEqual(h.PortBindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
  assert.deepEqual(b.ExposedPorts, { '80/tcp': {}, '9000/tcp': {}, '9001/tcp': {} });
  assert.equal(h.PublishAllPorts, true);
  assert.deepEqual(h.Dns, ['1.1.1.1']);
  assert.deepEqual(h.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(b.Cmd, ['sh']);
  assert.deepEqual(Object.keys(b.NetworkingConfig!.EndpointsConfig!), ['none']);
});

test('defaults: stdout/stderr attached, default network, no AutoRemove', () => {
  const b = build(['busybox']).body;
  assert.equal(b.AttachStdout, true);
  assert.equal(b.AttachStderr, true);
  assert.equal(b.AttachStdin, false);
  assert.equal(b.HostConfig!.NetworkMode, 'default');
  assert.equal(b.HostConfig!.AutoRemove, false);
  assert.equal(b.Cmd, undefined);
  assert.equal(build(['--rm', '-d', 'busybox']).body.HostConfig!.AutoRemove, true);
  assert.equal(build(['--entrypoint', '', 'busybox']).body.Entrypoint![0], '');
});

test('option conflicts and policies are validated before contacting the daemon', () => {
  assert.throws(() => build(['--rm', '--restart', 'always', 'x']), (e: unknown) => e instanceof StatusError && e.exitCode === 125 && /cannot specify both --restart and --rm/.test(e.message));
  assert.throws(() => build(['--pull', 'sometimes', 'x']), /invalid pull option: 'sometimes'/);
  assert.throws(() => build(['-p', 'abc', 'x']), /invalid containerPort: abc/);
  assert.throws(() => parseRestartPolicy('on-failure:x'), /maximum retry count must be an integer/);
});

test('ports, mounts, ulimits and detach keys', () => {
  assert.deepEqual(parsePortSpec('8080:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('[::1]:53:53/udp'), [{ port: '53/udp', binding: { HostIp: '::1', HostPort: '53' } }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81').map((m) => [m.port, m.binding.HostPort]), [['80/tcp', '8000'], ['81/tcp', '8001']]);
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.throws(() => parseMount('foo'), /invalid field 'foo' must be a key=value pair/);
  assert.throws(() => parseMount('type=bind,src=/a'), /target is required/);
  assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 * 1024 } });
  assert.deepEqual(parseUlimit('nproc=10'), { Name: 'nproc', Soft: 10, Hard: 10 });
  assert.throws(() => parseUlimit('foo'), /invalid ulimit argument: foo/);
  assert.deepEqual([...parseDetachKeys('ctrl-p,ctrl-q')], [16, 17]);
  assert.deepEqual([...parseDetachKeys('a,ctrl-@,ctrl-[')], [97, 0, 27]);
  assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid escape keys \(ctrl-1\) provided/);
});
