import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cidr6String, contains6, firstHost6, formatIPv6, lastHost6, overlaps6, parseCidr6, parseIPv6, randomUla64 } from '../../src/network/subnets6';

test('IPv6 addresses parse and print in their shortest form', () => {
  for (const [text, shortest] of [
    ['2001:389::f00d', '2001:389::f00d'],
    ['2001:0389:0000:0000:0000:0000:0000:f00d', '2001:389::f00d'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
  ]) assert.equal(formatIPv6(parseIPv6(text)!), shortest, text);
  assert.equal(parseIPv6('10.0.0.1'), undefined);
  assert.equal(parseIPv6('2001:::1'), undefined);
});

test('IPv6 subnets: host bits cleared, containment, overlap, first and last hosts', () => {
  const c = parseCidr6('2001:389::5/64');
  assert.equal(cidr6String(c), '2001:389::/64');
  assert.ok(contains6(c, parseIPv6('2001:389::ffff')!));
  assert.ok(!contains6(c, parseIPv6('2001:389:0:1::1')!));
  assert.ok(overlaps6(c, parseCidr6('2001:389::/96')));
  assert.ok(!overlaps6(c, parseCidr6('2001:38a::/64')));
  assert.equal(firstHost6(c), '2001:389::1');
  assert.equal(lastHost6(parseCidr6('2001:389::/96')), '2001:389::ffff:ffff');
  assert.throws(() => parseCidr6('2001:389::/129'), /invalid CIDR address: 2001:389::\/129/);
});

test('a network given no IPv6 subnet gets a unique local /64 no other network holds', () => {
  const ula = randomUla64([]);
  assert.equal(ula.bits, 64);
  assert.match(cidr6String(ula), /^fd[0-9a-f]{2}:/);
  assert.ok(!overlaps6(randomUla64([ula]), ula));
});
