import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { CriuProbe } from '../../src/container/checkpoints';

// Checkpoints answer as dockerd's do: only with --experimental, names checked, and where CRIU
// cannot run (as on these machines: its vDSO check fails on this kernel) a clear error and no
// half-made checkpoint.
let d: TestDaemon;
let plain: TestDaemon;
before(async () => {
  [d, plain] = await Promise.all([TestDaemon.start(['--experimental']), TestDaemon.start()]);
});
after(async () => {
  await Promise.all([d?.cleanup(), plain?.cleanup()]);
});

test('without --experimental: no routes, and both CLIs say why', async () => {
  assert.equal((await plain.docker(['version', '--format', '{{.Server.Experimental}}'])).stdout.trim(), 'false');
  assert.equal((await plain.api('GET', '/containers/x/checkpoints')).status, 404);
  const b = await plain.berth(['checkpoint', 'ls', 'x']);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /only supported on a daemon with experimental features enabled/);
  const dk = await plain.docker(['checkpoint', 'ls', 'x']);
  assert.notEqual(dk.code, 0);
  assert.match(dk.stderr, /experimental/);
});

test('with --experimental: create is refused clearly, nothing is left; ls, rm and start --checkpoint answer as dockerd', async () => {
  assert.equal((await d.docker(['version', '--format', '{{.Server.Experimental}}'])).stdout.trim(), 'true');
  assert.equal((await d.api('GET', '/info')).json().ExperimentalBuild, true);
  assert.equal((await d.berth(['run', '-d', '--name', 'cp1', 'busybox', 'sleep', '300'])).code, 0);

  const bad = await d.api('POST', '/containers/cp1/checkpoints', { CheckpointID: '../up' });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /Invalid checkpoint ID \(\.\.\/up\)/);

  const why = await new CriuProbe().whyNot();
  const made = await d.docker(['checkpoint', 'create', 'cp1', 'snap1']);
  if (why !== undefined) {
    assert.notEqual(made.code, 0);
    assert.match(made.stderr, /Cannot checkpoint container cp1: CRIU cannot run on this host: /);
    assert.ok(made.stderr.includes(why), made.stderr);
    // nothing half-made, and the container still runs
    assert.equal((await d.berth(['checkpoint', 'ls', 'cp1'])).stdout, 'CHECKPOINT NAME\n');
    assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'cp1'])).stdout.trim(), 'true');
  } else {
    // a machine where CRIU works: the checkpoint is whole and listed
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await d.berth(['checkpoint', 'ls', 'cp1'])).stdout, 'CHECKPOINT NAME\nsnap1\n');
  }

  // a checkpoint folder put there by hand (as one copied from another host would be)
  const rec = (await d.api('GET', '/containers/cp1/json')).json() as { Id: string };
  const folder = path.join(d.dataRoot, 'containers', rec.Id, 'checkpoints', 'copied');
  await fsp.mkdir(folder, { recursive: true });
  const ls = await d.docker(['checkpoint', 'ls', 'cp1']);
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^CHECKPOINT NAME\n(snap1\n)?copied\n$|^CHECKPOINT NAME\ncopied\n(snap1\n)?$/);

  assert.equal((await d.berth(['stop', '-t', '0', 'cp1'])).code, 0);
  const start = await d.berth(['start', '--checkpoint', 'copied', 'cp1']);
  assert.notEqual(start.code, 0);
  assert.match(start.stderr, why !== undefined ? /Cannot restore container cp1: CRIU cannot run on this host/ : /not supported by berth yet/);
  assert.equal((await d.berth(['inspect', '-f', '{{.State.Running}}', 'cp1'])).stdout.trim(), 'false');
  const missing = await d.berth(['start', '--checkpoint', 'nope', 'cp1']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /checkpoint nope does not exist for container cp1/);

  assert.equal((await d.berth(['checkpoint', 'rm', 'cp1', 'copied'])).code, 0);
  const again = await d.berth(['checkpoint', 'rm', 'cp1', 'copied']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /checkpoint copied does not exist for container cp1/);
  const rel = await d.api('GET', '/containers/cp1/checkpoints?dir=relative/path');
  assert.equal(rel.status, 400);
  assert.equal((await d.berth(['rm', '-f', 'cp1'])).code, 0);
});
