/**
 * Manager autolock's files (src/swarm/autolock.ts): unlock keys in Docker's form, sealing that
 * only the same key opens, and a node's private files through seal, lock (the readable copies
 * forgotten), open, rotation and unseal.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isBerthError } from '../../src/common/errors';
import { newUnlockKey, NodeKeys, parseUnlockKey, seal, unseal } from '../../src/swarm/autolock';

test('unlock keys are Docker\'s SWMKEY-1- and 32 bytes in unpadded base64; other strings are refused as Docker does', () => {
  const k = newUnlockKey();
  assert.match(k, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.notEqual(newUnlockKey(), k);
  assert.equal(parseUnlockKey(k).length, 32);
  assert.equal(parseUnlockKey(`  ${k}\n`).toString('hex'), parseUnlockKey(k).toString('hex'));
  for (const bad of ['', 'SWMTKN-1-abc', 'SWMKEY-1-', 'SWMKEY-1-not base64!']) {
    assert.throws(() => parseUnlockKey(bad), (e: unknown) => isBerthError(e, 'INVALID_PARAMETER') && e.message === 'invalid key string', bad);
  }
  // a well-formed key of another length never sealed anything: the wrong key's answer
  assert.throws(() => parseUnlockKey('SWMKEY-1-AAAA'), (e: unknown) => isBerthError(e, 'UNAUTHORIZED'));
});

test('sealed data opens with its key only', () => {
  const key = parseUnlockKey(newUnlockKey());
  const sealed = seal(key, Buffer.from('secret key material'));
  assert.ok(!sealed.includes(Buffer.from('secret')));
  assert.equal(unseal(key, sealed).toString(), 'secret key material');
  assert.throws(() => unseal(parseUnlockKey(newUnlockKey()), sealed), (e: unknown) => isBerthError(e, 'UNAUTHORIZED') && /invalid key provided/.test(e.message));
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1] ^= 1;
  assert.throws(() => unseal(key, tampered), (e: unknown) => isBerthError(e, 'UNAUTHORIZED'));
});

test('a node\'s files: sealed on disk, locked once the copies are forgotten, opened with the key, rotated, unsealed', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-autolock-'));
  try {
    const certs = path.join(dir, 'certs');
    const runtime = path.join(dir, 'run', 'keys');
    mkdirSync(certs);
    writeFileSync(path.join(certs, 'node.key'), 'NODE KEY');
    writeFileSync(path.join(certs, 'etcd.password'), 'PASSWORD');
    writeFileSync(path.join(certs, 'node.crt'), 'CERT');
    const keys = new NodeKeys(certs, runtime);
    await keys.load();
    assert.equal(readFileSync(keys.path('node.key'), 'utf8'), 'NODE KEY');
    assert.equal(keys.sealed, false);

    const k1 = newUnlockKey();
    await keys.seal(parseUnlockKey(k1));
    assert.deepEqual(readdirSync(certs).sort(), ['etcd.password.sealed', 'node.crt', 'node.key.sealed']);
    assert.equal(statSync(path.join(certs, 'node.key.sealed')).mode & 0o777, 0o600);
    assert.equal(keys.sealed, true);
    assert.equal(keys.locked, false);
    assert.equal(readFileSync(keys.path('etcd.password'), 'utf8'), 'PASSWORD');

    await keys.forget();
    assert.equal(keys.locked, true);
    await assert.rejects(keys.open(parseUnlockKey(newUnlockKey())), (e: unknown) => isBerthError(e, 'UNAUTHORIZED'));
    assert.equal(keys.locked, true);
    await keys.open(parseUnlockKey(k1));
    assert.equal(keys.locked, false);
    assert.equal(readFileSync(keys.path('node.key'), 'utf8'), 'NODE KEY');

    const k2 = newUnlockKey();
    await keys.seal(parseUnlockKey(k2));
    await keys.forget();
    await assert.rejects(keys.open(parseUnlockKey(k1)), (e: unknown) => isBerthError(e, 'UNAUTHORIZED'));
    await keys.open(parseUnlockKey(k2));

    await keys.unseal();
    assert.deepEqual(readdirSync(certs).sort(), ['etcd.password', 'node.crt', 'node.key']);
    assert.equal(readFileSync(path.join(certs, 'node.key'), 'utf8'), 'NODE KEY');
    assert.equal(keys.sealed, false);
    assert.ok(existsSync(keys.path('node.key')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
