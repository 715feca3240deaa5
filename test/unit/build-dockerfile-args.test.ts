import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { expandFrom, resolveGlobalArgs, StageScope, unconsumedBuildArgs, unconsumedWarning, type BuildArgs } from '../../src/build/dockerfile/args';
import { expandInstruction } from '../../src/build/dockerfile/expand';
import { parseDockerfile } from '../../src/build/dockerfile/parse';
import type { Dockerfile, Stage } from '../../src/build/dockerfile/types';

/** Runs a stage's ARG/ENV lines through a scope and returns the expanded instructions. */
function walk(df: Dockerfile, stage: Stage, buildArgs: BuildArgs, scope?: StageScope) {
  const globals = resolveGlobalArgs(df.globalArgs, buildArgs);
  const s = scope ?? StageScope.create(globals, buildArgs, ['PATH=/usr/bin']);
  const out = stage.instructions.map((i) => {
    const e = expandInstruction(i, s.vars);
    if (i.kind === 'ARG') s.declare(i);
    if (e.kind === 'ENV') for (const p of e.pairs) s.setEnv(p.key, p.value);
    return e;
  });
  return { scope: s, out };
}
const users = (r: ReturnType<typeof walk>) => r.out.filter((i) => i.kind === 'USER').map((i) => (i as { user: string }).user);

describe('dockerfile ARG scoping', () => {
  it('global ARGs are usable in FROM, with build-arg overrides and defaults referring to earlier globals', () => {
    const df = parseDockerfile('ARG CODE_VERSION=latest\nARG IMG=base:${CODE_VERSION}\nFROM $IMG\nFROM extras:${CODE_VERSION}\n');
    const g1 = resolveGlobalArgs(df.globalArgs, {});
    assert.equal(expandFrom(df.stages[0], g1).baseName, 'base:latest');
    const g2 = resolveGlobalArgs(df.globalArgs, { CODE_VERSION: '2' });
    assert.equal(expandFrom(df.stages[0], g2).baseName, 'base:2');
    assert.equal(expandFrom(df.stages[1], g2).baseName, 'extras:2');
    assert.throws(() => expandFrom(parseDockerfile('ARG X\nFROM $X\n').stages[0], resolveGlobalArgs([], {})), /base name \(\$X\) should not be blank/);
  });

  it('automatic platform args are global', () => {
    const df = parseDockerfile('FROM --platform=$BUILDPLATFORM golang\n');
    const g = resolveGlobalArgs(df.globalArgs, {}, { automatic: { BUILDPLATFORM: 'linux/amd64' } });
    assert.equal(expandFrom(df.stages[0], g).platform, 'linux/amd64');
  });

  it('global ARGs are not visible in a stage unless redeclared', () => {
    const df = parseDockerfile('ARG VERSION=latest\nFROM busybox:$VERSION\nUSER a$VERSION\nARG VERSION\nUSER b$VERSION\n');
    assert.deepEqual(users(walk(df, df.stages[0], {})), ['a', 'blatest']);
    assert.deepEqual(users(walk(df, df.stages[0], { VERSION: 'v9' })), ['a', 'bv9']);
  });

  it('a stage ARG is in scope from its line; build-args replace defaults', () => {
    const df = parseDockerfile('FROM busybox\nUSER ${username:-some_user}\nARG username\nUSER $username\nARG def=d1\nUSER $def\n');
    assert.deepEqual(users(walk(df, df.stages[0], { username: 'what_user' })), ['some_user', 'what_user', 'd1']);
    assert.deepEqual(users(walk(df, df.stages[0], { def: 'd2' })), ['some_user', '', 'd2']);
  });

  it('ENV wins over an ARG of the same name', () => {
    const df = parseDockerfile('FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=v1.0.0\nUSER $CONT_IMG_VER\n');
    const r = walk(df, df.stages[0], { CONT_IMG_VER: 'v2.0.1' });
    assert.deepEqual(users(r), ['v1.0.0']);
    assert.deepEqual(r.scope.runArgs(), []);
    assert.ok(r.scope.runEnv().includes('CONT_IMG_VER=v1.0.0'));
  });

  it('ENV can default from an ARG', () => {
    const df = parseDockerfile('FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n');
    assert.deepEqual(walk(df, df.stages[0], {}).scope.envList(), ['PATH=/usr/bin', 'CONT_IMG_VER=v1.0.0']);
    assert.deepEqual(walk(df, df.stages[0], { CONT_IMG_VER: 'v2' }).scope.envList(), ['PATH=/usr/bin', 'CONT_IMG_VER=v2']);
  });

  it('RUN sees declared args; proxies pass through without being declared or in history', () => {
    const df = parseDockerfile('FROM ubuntu\nARG A=1 B\nARG HTTPS_PROXY\n');
    const r = walk(df, df.stages[0], { HTTP_PROXY: 'http://p', HTTPS_PROXY: 'http://s', B: 'two' });
    assert.deepEqual(r.scope.runArgs(), ['A=1', 'B=two', 'HTTPS_PROXY=http://s']);
    assert.deepEqual(r.scope.runEnv(), ['PATH=/usr/bin', 'A=1', 'B=two', 'HTTPS_PROXY=http://s', 'HTTP_PROXY=http://p']);
  });

  it('a stage built FROM another inherits its args and env', () => {
    const df = parseDockerfile('FROM a AS base\nARG X=1\nENV Y=2\nFROM base\nUSER $X-$Y\n');
    const first = walk(df, df.stages[0], {});
    assert.deepEqual(users(walk(df, df.stages[1], {}, first.scope.fork())), ['1-2']);
  });

  it('reports build-args no ARG consumed', () => {
    const df = parseDockerfile('ARG G\nFROM a\nARG X\nFROM b AS other\nARG Y\n');
    const unused = unconsumedBuildArgs({ G: '1', X: '1', Y: '1', Z: '1', A: '1', HTTP_PROXY: 'p' }, df, [df.stages[0]]);
    assert.deepEqual(unused, ['A', 'Y', 'Z']);
    assert.equal(unconsumedWarning(unused), '[Warning] One or more build-args [A Y Z] were not consumed');
  });
});
