/**
 * The OCI runtimes berthd registers by itself: crun as the default when installed (as
 * scripts/setup.sh does), runc beside it, each container on the runtime it was created with.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';

const crunInstalled = ['/usr/bin/crun', '/usr/sbin/crun'].some(existsSync);

let d: TestDaemon;
let onRunc: TestDaemon;
before(async () => {
  // a second daemon told to keep runc as its default, started alongside
  [d, onRunc] = await Promise.all([TestDaemon.start(), TestDaemon.start(['--default-runtime', 'runc'])]);
});
after(async () => {
  await Promise.all([d?.cleanup(), onRunc?.cleanup()]);
});

test('info lists both runtimes; crun is the default where it is installed, runc where the daemon is told', { skip: !crunInstalled && 'crun is not installed' }, async () => {
  const info = (await d.api('GET', '/info')).json();
  assert.deepEqual(Object.keys(info.Runtimes).sort(), ['crun', 'runc']);
  assert.equal(info.DefaultRuntime, 'crun');
  assert.equal(path.basename(info.Runtimes.crun.path), 'crun');
  assert.equal((await onRunc.api('GET', '/info')).json().DefaultRuntime, 'runc');
  const r = await onRunc.docker(['run', '--name', 'old-way', 'busybox', 'true']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await onRunc.docker(['inspect', '-f', '{{.HostConfig.Runtime}}', 'old-way'])).stdout.trim(), 'runc');
});

test('each container runs, execs and ends on the runtime it was created with', { skip: !crunInstalled && 'crun is not installed' }, async () => {
  for (const [name, flags, runtime, root] of [
    ['on-crun', [], 'crun', 'runtime-crun'],
    ['on-runc', ['--runtime', 'runc'], 'runc', 'runtime'],
  ] as const) {
    const run = await d.docker(['run', '-d', '--name', name, ...flags, 'busybox', 'sleep', '300']);
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.equal((await d.docker(['inspect', '-f', '{{.HostConfig.Runtime}}', name])).stdout.trim(), runtime);
    assert.ok(existsSync(path.join(d.execRoot, root, id)), `${name}: its state is under ${root}`);
    // the profile's filter is in place for an exec too
    const exec = await d.docker(['exec', name, 'sh', '-c', 'grep ^Seccomp: /proc/self/status']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.match(exec.stdout, /Seccomp:\s+2/);
    assert.equal((await d.docker(['exec', name, 'no-such-command'])).code, 127, name);
    assert.equal((await d.docker(['exec', name, '/etc'])).code, 126, name);
    assert.equal((await d.docker(['rm', '-f', name])).code, 0);
    assert.ok(!existsSync(path.join(d.execRoot, root, id)), `${name}: its state is gone`);
  }
  // docker-py sends runtime= as a top-level field
  const created = await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Runtime: 'runc' });
  assert.equal(created.status, 201, created.body);
  assert.equal((await d.api('GET', `/containers/${created.json().Id}/json`)).json().HostConfig.Runtime, 'runc');
  const unknown = await d.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Runtime: 'nope' } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body, /unknown or invalid runtime name: nope/);
});

test("crun's compiled seccomp filter is kept once and serves the next containers", { skip: !crunInstalled && 'crun is not installed' }, async () => {
  for (let i = 0; i < 3; i++) {
    const r = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'grep ^Seccomp: /proc/self/status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Seccomp:\s+2/, `run ${i}: the filter is loaded`);
  }
  // one profile (the default one for the default capabilities), one filter
  assert.equal(readdirSync(path.join(d.execRoot, 'seccomp-bpf')).filter((f) => /^[0-9a-f]{64}$/.test(f)).length, 1);
  const unconfined = await d.docker(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'sh', '-c', 'grep ^Seccomp: /proc/self/status']);
  assert.match(unconfined.stdout, /Seccomp:\s+0/);
});
