import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { getTimestamp, parseGoDurationNs, parseTimeArg, parseTimestamps } from '../../src/common/time';
import { isBerthError } from '../../src/common/errors';

// 2023-11-14T22:13:20Z
const NOW = 1_700_000_000_000;
const NOW_S = 1_700_000_000;
// a layout without a zone is read in the daemon's local zone, as Docker's ParseInLocation does
const LOCAL = -new Date(NOW).getTimezoneOffset() * 60;
const at = (iso: string, nanos = '000000000') => `${Date.parse(iso) / 1000}.${nanos}`;
const local = (isoNoZone: string, nanos = '000000000') => `${Date.parse(`${isoNoZone}Z`) / 1000 - LOCAL}.${nanos}`;

const invalidWith = (message: string) => (e: unknown) => isBerthError(e, 'INVALID_PARAMETER') && e.status === 400 && e.message === message;

test('Go durations: the forms time.ParseDuration takes, in nanoseconds', () => {
  const accepted: [string, number][] = [
    ['24h', 24 * 3600e9],
    ['1h30m', 5400e9],
    ['1.5s', 1.5e9],
    ['.5s', 0.5e9],
    ['5.s', 5e9],
    ['300ms', 300e6],
    ['1µs', 1e3],
    ['1us', 1e3],
    ['7ns', 7],
    ['-5m', -300e9],
    ['+5m', 300e9],
    ['0', 0],
    ['-0', 0],
    ['1h0m0s', 3600e9],
  ];
  for (const [text, ns] of accepted) assert.equal(parseGoDurationNs(text), ns, text);
});

test('Go durations: refusals in Go words, as 400s', () => {
  const refused: [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['-', 'time: invalid duration "-"'],
    ['5', 'time: missing unit in duration "5"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['.s', 'time: invalid duration ".s"'],
    ['1h-5m', 'time: unknown unit "h-" in duration "1h-5m"'],
    ['1h.', 'time: invalid duration "1h."'],
    ['3000000h', 'time: invalid duration "3000000h"'],
    ['NaN', 'time: invalid duration "NaN"'],
  ];
  for (const [text, message] of refused) assert.throws(() => parseGoDurationNs(text), invalidWith(message), text);
});

test("timestamps: Docker's GetTimestamp forms", () => {
  const accepted: [string, string][] = [
    ['24h', String(NOW_S - 86400)],
    ['1h30m', String(NOW_S - 5400)],
    ['-5m', String(NOW_S + 300)],
    ['0s', String(NOW_S)],
    ['1.5s', String(NOW_S - 2)],
    ['0', '0'],
    ['1700000000', '1700000000'],
    ['1700000000.123', '1700000000.123'],
    ['2006-01-02T15:04:05Z', at('2006-01-02T15:04:05Z')],
    ['2006-01-02T15:04:05.123456789Z', at('2006-01-02T15:04:05Z', '123456789')],
    ['2006-01-02T15:04:05.5Z', at('2006-01-02T15:04:05Z', '500000000')],
    ['2006-01-02T15:04:05+07:00', at('2006-01-02T15:04:05+07:00')],
    ['2006-01-02T15:04:05-07:00', at('2006-01-02T15:04:05-07:00')],
    ['2006-01-02T15:04Z', at('2006-01-02T15:04:00Z')],
    ['2006-01-02T15Z', at('2006-01-02T15:00:00Z')],
    ['2006-01-02Z', at('2006-01-02T00:00:00Z')],
    ['2006-01-02', local('2006-01-02T00:00:00')],
    ['2006-01-02T15:04:05', local('2006-01-02T15:04:05')],
    ['2006-01-02T15:04:05.25', local('2006-01-02T15:04:05', '250000000')],
    ['2006-01-02T15:04', local('2006-01-02T15:04:00')],
    ['2006-01-02T15', local('2006-01-02T15:00:00')],
    ['2024-02-29', local('2024-02-29T00:00:00')],
  ];
  for (const [text, want] of accepted) assert.equal(getTimestamp(text, NOW), want, text);
});

test('timestamps: refusals in Go and Docker words, as 400s', () => {
  const refused: [string, string][] = [
    ['abc', 'failed to parse value as time or duration: "abc"'],
    ['', 'failed to parse value as time or duration: ""'],
    ['10x', 'failed to parse value as time or duration: "10x"'],
    ['1700000000.abc', 'failed to parse value as time or duration: "1700000000.abc"'],
    ['-1', 'parsing time "-1" as "2006-01-02": cannot parse "-1" as "2006"'],
    ['2006-13-02', 'parsing time "2006-13-02": month out of range'],
    ['2023-02-29', 'parsing time "2023-02-29": day out of range'],
    ['2006-01-02T25:00:00Z', 'parsing time "2006-01-02T25:00:00Z": hour out of range'],
    ['2006-01-02T15:04:05Zjunk', 'parsing time "2006-01-02T15:04:05Zjunk": extra text: "junk"'],
    ['2006-1-02', 'parsing time "2006-1-02" as "2006-01-02": cannot parse "1-02" as "01"'],
    ['2006/01/02', 'failed to parse value as time or duration: "2006/01/02"'],
  ];
  for (const [text, message] of refused) assert.throws(() => getTimestamp(text, NOW), invalidWith(message), text);
});

test('ParseTimestamps: seconds and a fraction scaled to nanoseconds', () => {
  assert.deepEqual(parseTimestamps('1700000000.5'), { seconds: 1_700_000_000, nanos: 500_000_000 });
  assert.deepEqual(parseTimestamps('1700000000.000000001'), { seconds: 1_700_000_000, nanos: 1 });
  assert.deepEqual(parseTimestamps('', 7), { seconds: 7, nanos: 0 });
  assert.throws(() => parseTimestamps('x'), invalidWith('strconv.ParseInt: parsing "x": invalid syntax'));
  assert.throws(() => parseTimestamps('99999999999999999999'), invalidWith('strconv.ParseInt: parsing "99999999999999999999": value out of range'));
});

test('parseTimeArg: the time a filter or query value means, in ms', () => {
  assert.equal(parseTimeArg('24h', NOW), NOW - 86_400_000);
  assert.equal(parseTimeArg('2006-01-02T15:04:05.5Z', NOW), Date.parse('2006-01-02T15:04:05.500Z'));
  assert.equal(parseTimeArg('1700000000.25', NOW), 1_700_000_000_250);
});
