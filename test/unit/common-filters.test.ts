import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { acceptFilters, filterBool, labelsMatch, pruneLabelsMatch, regexMatch, untilFilter } from '../../src/common/filters';
import { isBerthError } from '../../src/common/errors';

const args = (o: Record<string, string[]>) => new Map(Object.entries(o));
const invalidWith = (message: string) => (e: unknown) => isBerthError(e, 'INVALID_PARAMETER') && e.message === message;

test('unknown keys are refused with the key named', () => {
  assert.doesNotThrow(() => acceptFilters(args({ label: ['a'] }), ['label', 'until']));
  assert.throws(() => acceptFilters(args({ label: ['a'], colour: ['red'] }), ['label']), invalidWith("invalid filter 'colour'"));
});

test('labels: every KEY or KEY=VALUE must be there; an empty value is a value', () => {
  const labels = { a: '1', b: '' };
  assert.equal(labelsMatch(labels, undefined), true);
  assert.equal(labelsMatch(labels, ['a']), true);
  assert.equal(labelsMatch(labels, ['a=1', 'b']), true);
  assert.equal(labelsMatch(labels, ['b=']), true);
  assert.equal(labelsMatch(labels, ['a=2']), false);
  assert.equal(labelsMatch(labels, ['a', 'c']), false);
  assert.equal(labelsMatch(labels, ['a=1=x']), false, 'only the first = splits');
  assert.equal(labelsMatch({ 'a=1': 'x' }, ['a=1']), false);
  assert.equal(labelsMatch({}, ['toString']), false, 'no inherited property counts as a label');
  assert.equal(labelsMatch(null, ['a']), false);
});

test('prune labels: label!= excludes only when all of its values match (Docker matchLabels)', () => {
  const labels = { keep: 'yes', team: 'x' };
  assert.equal(pruneLabelsMatch(args({ 'label!': ['keep'] }), labels), false);
  assert.equal(pruneLabelsMatch(args({ 'label!': ['keep=no'] }), labels), true);
  assert.equal(pruneLabelsMatch(args({ 'label!': ['keep', 'other'] }), labels), true);
  assert.equal(pruneLabelsMatch(args({ label: ['team=x'], 'label!': ['keep=no'] }), labels), true);
  assert.equal(pruneLabelsMatch(args({ label: ['team=y'] }), labels), false);
});

test('booleans: 1/true or 0/false; neither or both is refused', () => {
  assert.equal(filterBool(args({}), 'dangling', true), true);
  assert.equal(filterBool(args({ dangling: ['1'] }), 'dangling', false), true);
  assert.equal(filterBool(args({ dangling: ['false'] }), 'dangling', true), false);
  assert.throws(() => filterBool(args({ dangling: ['yes'] }), 'dangling', false), invalidWith("invalid filter 'dangling=[yes]'"));
  assert.throws(() => filterBool(args({ dangling: ['true', 'false'] }), 'dangling', false), invalidWith("invalid filter 'dangling=[true false]'"));
});

test('regex match: any value matches part of the source; a bad pattern matches nothing', () => {
  assert.equal(regexMatch(args({}), 'name', 'web'), true);
  assert.equal(regexMatch(args({ name: ['^we'] }), 'name', 'web'), true);
  assert.equal(regexMatch(args({ name: ['^eb'] }), 'name', 'web'), false);
  assert.equal(regexMatch(args({ name: ['(', 'eb$'] }), 'name', 'web'), true);
  assert.equal(regexMatch(args({ name: ['('] }), 'name', '('), false);
});

test('until: one value, read as GetTimestamp reads it', () => {
  const now = 1_700_000_000_000;
  assert.equal(untilFilter(args({}), 'until', now), undefined);
  assert.equal(untilFilter(args({ until: ['24h'] }), 'until', now), now - 86_400_000);
  assert.equal(untilFilter(args({ until: ['1700000000.5'] }), 'until', now), 1_700_000_000_500);
  assert.throws(() => untilFilter(args({ until: ['1h', '2h'] }), 'until', now), invalidWith('more than one until filter specified'));
  assert.throws(() => untilFilter(args({ until: ['soon'] }), 'until', now), invalidWith('failed to parse value as time or duration: "soon"'));
});
