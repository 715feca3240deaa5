import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isValidDigest, isValidName, isValidTag } from '../../src/registry/reference';
import { route } from '../../src/registry/app';
import { parseRange } from '../../src/registry/handlers/blobs';
import { paginate } from '../../src/registry/handlers/base';
import { checkBlobDescriptors, FOREIGN_LAYER_TYPE, manifestRefs, parseManifest } from '../../src/registry/manifest';

test('repository names follow the spec grammar', () => {
  for (const ok of ['a', 'library/busybox', 'a.b_c__d---e/f9', 'x/y/z/w', 'a' .repeat(200)]) assert.ok(isValidName(ok), ok);
  for (const bad of ['', 'A', 'a/', '/a', 'a//b', '-a', 'a-', 'a___b', 'a..b', '_a', 'a/_layers', 'a:b', 'a'.repeat(256)]) {
    assert.ok(!isValidName(bad), bad);
  }
});

test('tags and digests', () => {
  for (const ok of ['latest', 'v1.0', '_x', 'A-b.c_d', 'a'.repeat(128)]) assert.ok(isValidTag(ok), ok);
  for (const bad of ['', '.a', '-a', 'a'.repeat(129), 'a/b', 'a:b']) assert.ok(!isValidTag(bad), bad);
  assert.ok(isValidDigest('sha256:' + 'a'.repeat(64)));
  assert.ok(isValidDigest('sha512:' + '0'.repeat(128)));
  for (const bad of ['sha256:' + 'A'.repeat(64), 'sha256:abc', 'md5:' + 'a'.repeat(32), 'a'.repeat(64), 'sha256:' + 'a'.repeat(65)]) {
    assert.ok(!isValidDigest(bad), bad);
  }
});

test('routes split names holding slashes from the resource', () => {
  const d = 'sha256:' + 'a'.repeat(64);
  assert.deepEqual(route('/v2/'), { resource: 'base', name: '', ref: '' });
  assert.deepEqual(route('/v2/_catalog'), { resource: 'catalog', name: '', ref: '' });
  assert.deepEqual(route(`/v2/a/b/c/blobs/${d}`), { resource: 'blob', name: 'a/b/c', ref: d });
  assert.deepEqual(route('/v2/a/blobs/uploads/'), { resource: 'uploads', name: 'a', ref: '' });
  assert.deepEqual(route('/v2/a/blobs/uploads/u-1'), { resource: 'upload', name: 'a', ref: 'u-1' });
  assert.deepEqual(route(`/v2/team/blobs/blobs/${d}`), { resource: 'blob', name: 'team/blobs', ref: d });
  assert.deepEqual(route('/v2/x/y/manifests/latest'), { resource: 'manifest', name: 'x/y', ref: 'latest' });
  assert.deepEqual(route('/v2/x/tags/list'), { resource: 'tags', name: 'x', ref: '' });
  assert.deepEqual(route(`/v2/x/referrers/${d}`), { resource: 'referrers', name: 'x', ref: d });
  assert.equal(route('/v2/x/other'), undefined);
  assert.equal(route('/v1/x/tags/list'), undefined);
});

test('ranges', () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange('bytes=2-4', 10), { start: 2, end: 4 });
  assert.deepEqual(parseRange('bytes=5-', 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange('bytes=-3', 10), { start: 7, end: 9 });
  assert.deepEqual(parseRange('bytes=8-100', 10), { start: 8, end: 9 });
  assert.throws(() => parseRange('bytes=10-', 10), /range/);
  assert.throws(() => parseRange('bytes=4-2', 10), /range/);
  assert.throws(() => parseRange('items=1-2', 10), /range/);
});

test('pagination', () => {
  const all = ['a', 'b', 'c', 'd'];
  const u = (q: string) => new URL(`http://x/?${q}`);
  assert.deepEqual(paginate(all, u('')), { page: all, more: false });
  assert.deepEqual(paginate(all, u('n=2')), { page: ['a', 'b'], more: true, n: 2 });
  assert.deepEqual(paginate(all, u('n=2&last=b')), { page: ['c', 'd'], more: false, n: 2 });
  assert.deepEqual(paginate(all, u('last=a')), { page: ['b', 'c', 'd'], more: false });
  assert.deepEqual(paginate(all, u('n=0')), { page: [], more: false, n: 0 });
  assert.throws(() => paginate(all, u('n=-1')), /non-negative/);
});

test('manifest references', () => {
  const d = (c: string) => 'sha256:' + c.repeat(64);
  const refs = manifestRefs(parseManifest(Buffer.from(JSON.stringify({
    config: { digest: d('a') }, layers: [{ digest: d('b') }], subject: { digest: d('c') },
  }))));
  assert.deepEqual(refs.blobs.map((b) => b.digest), [d('a'), d('b')]);
  assert.equal(refs.subject?.digest, d('c'));
  assert.deepEqual(manifestRefs(parseManifest(Buffer.from(JSON.stringify({ manifests: [{ digest: d('e') }] })))).manifests.map((m) => m.digest), [d('e')]);
  assert.throws(() => parseManifest(Buffer.from('nope')), /JSON/);
  assert.throws(() => parseManifest(Buffer.from('{"layers":[{"digest":"x"}]}')), /digest/);
});

test('foreign URLs: only layers, only http(s) without a fragment, only where allowed', () => {
  const d = (c: string) => 'sha256:' + c.repeat(64);
  const allow = { allow: [/^https:\/\/cdn\.example\.com\//] };
  const layer = (urls?: string[], mediaType = FOREIGN_LAYER_TYPE) => ({ mediaType, digest: d('b'), urls });
  const check = (doc: Parameters<typeof checkBlobDescriptors>[0], policy = allow) => checkBlobDescriptors(doc, policy);

  const ok = check({ config: { digest: d('a') }, layers: [layer(['https://cdn.example.com/x'])] });
  assert.deepEqual(ok, { mustExist: [{ digest: d('a') }], problems: [] });
  assert.deepEqual(check({ config: { digest: d('a') }, layers: [layer(['https://cdn.example.com/x'])] }, { allow: [] }).problems, [
    { digest: d('b'), problem: 'invalid URL on layer', url: 'https://cdn.example.com/x' },
  ]);
  const config = check({ config: { digest: d('a'), urls: ['https://cdn.example.com/c'] } });
  assert.deepEqual(config.problems, [{ digest: d('a'), problem: 'unexpected URL on layer' }]);
  assert.deepEqual(config.mustExist.map((x) => x.digest), [d('a')], 'a config with URLs must still be here');
  for (const url of ['http://other.example.com/x', 'file:///etc/passwd', 'https://cdn.example.com/x#y', '::']) {
    assert.equal(check({ layers: [layer(['https://cdn.example.com/ok', url])] }).problems[0]?.problem, 'invalid URL on layer', url);
  }
  assert.equal(check({ layers: [layer([])] }).problems[0]?.problem, 'missing URL on layer');
  assert.deepEqual(check({ layers: [layer(undefined, 'application/vnd.oci.image.layer.v1.tar+gzip')] }).mustExist.map((x) => x.digest), [d('b')]);
});
