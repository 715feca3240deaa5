import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CriuProbe, criuFailure } from '../../src/container/checkpoints';

test('criuFailure: the first error CRIU names, without its source location', () => {
  const stderr = 'Warn (criu/kerndat.c:1): something\nError (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\nError (criu/crtools.c:260): Could not initialize kernel features detection.\n';
  assert.equal(criuFailure(Object.assign(new Error('criu check: failed'), { stderr })), 'vdso: Unexpected rt vDSO area bounds');
  assert.equal(criuFailure(Object.assign(new Error('spawn criu ENOENT'), { code: 'ENOENT' })), 'criu is not installed (Debian package criu)');
});

test('CriuProbe: a missing binary is an answer, asked once', async () => {
  const probe = new CriuProbe('/nonexistent/criu');
  const first = probe.whyNot();
  assert.equal(await first, 'criu is not installed (Debian package criu)');
  assert.equal(probe.whyNot(), first);
});
