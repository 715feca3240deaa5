import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanPath, decodePathSegment, MalformedTargetError, parseRequestTarget } from '../../src/common/request-target';

test('a request target is split into its path and query as sent; //host/p stays a path', () => {
  const t = parseRequestTarget('//x/_ping?a=1&b=%zz');
  assert.equal(t.path, '//x/_ping');
  assert.equal(t.search, '?a=1&b=%zz');
  assert.equal(t.query.get('a'), '1');
  assert.equal(parseRequestTarget('http://h:1/v1.50/info?x').path, '/v1.50/info');
  assert.equal(parseRequestTarget('http://h').path, '/');
  assert.equal(parseRequestTarget('*').path, '*');
  assert.equal(parseRequestTarget(undefined).path, '/');
});

test('a malformed escape or a target that is not a path is refused in Go\'s words', () => {
  assert.throws(() => parseRequestTarget('/containers/%zz/json'), new MalformedTargetError('invalid URL escape "%zz"'));
  assert.throws(() => parseRequestTarget('/a%2'), new MalformedTargetError('invalid URL escape "%2"'));
  assert.throws(() => parseRequestTarget('/a%'), new MalformedTargetError('invalid URL escape "%"'));
  assert.throws(() => parseRequestTarget('containers/json'), new MalformedTargetError('malformed request target "containers/json"'));
});

test('cleanPath is Go\'s path.Clean keeping a trailing slash, as gorilla/mux redirects', () => {
  for (const [given, clean] of [
    ['/', '/'],
    ['//', '/'],
    ['//x/_ping', '/x/_ping'],
    ['/a/./b', '/a/b'],
    ['/a/../../b', '/b'],
    ['/v2/', '/v2/'],
    ['/v2//a/', '/v2/a/'],
    ['/..', '/'],
    ['/a/b/..', '/a'],
    ['/containers/json', '/containers/json'],
  ]) {
    assert.equal(cleanPath(given), clean, given);
  }
});

test('a path segment that is not UTF-8 decodes to replacement characters instead of throwing', () => {
  assert.equal(decodePathSegment('a%2Fb'), 'a/b');
  assert.equal(decodePathSegment('%ff%fe'), '\ufffd\ufffd');
  assert.equal(decodePathSegment('x%C3%A9%ffy'), 'xé\ufffdy');
});
