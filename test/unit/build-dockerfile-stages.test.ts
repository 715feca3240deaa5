import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { resolveGlobalArgs } from '../../src/build/dockerfile/args';
import { parseDockerfile } from '../../src/build/dockerfile/parse';
import { buildOrder, neededStages, stageDependencies, targetStage } from '../../src/build/dockerfile/stages';

const DF = parseDockerfile(`FROM ubuntu AS base
RUN apt-get update
FROM base AS dev
RUN apt-get install dev
FROM golang AS build
RUN go build
FROM base AS prod
COPY --from=build /app /app
FROM alpine AS unrelated
FROM scratch
COPY --from=1 /x /x
`);
const names = (s: { name?: string; index: number }[]) => s.map((x) => x.name ?? String(x.index));

describe('dockerfile stage selection', () => {
  it('defaults to the last stage', () => {
    assert.equal(targetStage(DF).index, 5);
    assert.deepEqual(names(neededStages(DF)), ['base', 'dev', '5']);
  });

  it('follows FROM <stage> and COPY --from by name', () => {
    assert.deepEqual(names(neededStages(DF, 'prod')), ['base', 'build', 'prod']);
    assert.deepEqual(names(neededStages(DF, 'dev')), ['base', 'dev']);
    assert.deepEqual(names(neededStages(DF, 'unrelated')), ['unrelated']);
  });

  it('targets are case-insensitive', () => {
    assert.equal(targetStage(DF, 'PROD').name, 'prod');
  });

  it('an unknown target fails', () => {
    assert.throws(() => neededStages(DF, 'nope'), /^BerthError: failed to reach build target nope in Dockerfile$/);
  });

  it('--from an image or a non-stage FROM is no dependency', () => {
    const df = parseDockerfile('FROM a\nCOPY --from=nginx:latest /etc/nginx/nginx.conf /x\nRUN --mount=from=tools,target=/t x\n');
    assert.deepEqual(stageDependencies(df, df.stages[0]), { copyFrom: [] });
  });

  it('RUN --mount=from and ARG-named stages count', () => {
    const df = parseDockerfile('ARG SRC=tools\nFROM alpine AS tools\nFROM alpine AS other\nFROM scratch\nRUN --mount=from=${SRC},target=/t x\n');
    assert.deepEqual(names(neededStages(df, undefined, resolveGlobalArgs(df.globalArgs, {}))), ['tools', '2']);
    assert.deepEqual(names(neededStages(df, undefined, resolveGlobalArgs(df.globalArgs, { SRC: 'other' }))), ['other', '2']);
  });

  it('FROM only names earlier stages; a later --from is built first', () => {
    const df = parseDockerfile('FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n');
    assert.deepEqual(names(neededStages(df, 'a')), ['a', 'b']);
    assert.deepEqual(names(buildOrder(df, 'a')), ['b', 'a']);
    const self = parseDockerfile('FROM x AS x\n');
    assert.deepEqual(stageDependencies(self, self.stages[0]), { copyFrom: [] });
  });

  it('refuses a --from index that is not earlier, and cycles', () => {
    const df = parseDockerfile('FROM a\nCOPY --from=0 /x /x\n');
    assert.throws(() => neededStages(df), /invalid from flag value 0: refers to current or future build stage/);
    const cyc = parseDockerfile('FROM a AS one\nCOPY --from=two /x /x\nFROM a AS two\nCOPY --from=one /y /y\n');
    assert.throws(() => neededStages(cyc, 'one'), /circular dependency detected/);
  });
});
