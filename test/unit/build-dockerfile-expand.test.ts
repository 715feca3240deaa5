import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { expandHeredoc, expandInstruction, expandWord, EXPANDING_KINDS } from '../../src/build/dockerfile/expand';
import { parseDockerfile } from '../../src/build/dockerfile/parse';
import type { Instruction } from '../../src/build/dockerfile/types';

const vars = new Map([
  ['FOO', '/bar'],
  ['EMPTY', ''],
  ['str', 'foobarbaz'],
  ['abc', 'hello'],
]);
const x = (w: string, escape = '\\') => expandWord(w, vars, escape);
const one = (body: string): Instruction => parseDockerfile(`FROM scratch\n${body}`).stages[0].instructions[0];

describe('dockerfile expansion: words', () => {
  it('$VAR and ${VAR}', () => {
    assert.equal(x('$FOO'), '/bar');
    assert.equal(x('${FOO}_x'), '/bar_x');
    assert.equal(x('$FOO_x'), '');
    assert.equal(x('a$UNSET-b'), 'a-b');
    assert.equal(x('cost $ 5'), 'cost $ 5');
    assert.equal(x('end$'), 'end$');
  });

  it(':- and - distinguish unset from empty', () => {
    assert.equal(x('${EMPTY:-word}'), 'word');
    assert.equal(x('${EMPTY-word}'), '');
    assert.equal(x('${UNSET-word}'), 'word');
    assert.equal(x('${FOO:-word}'), '/bar');
  });

  it(':+ and + distinguish unset from empty', () => {
    assert.equal(x('${FOO:+word}'), 'word');
    assert.equal(x('${EMPTY:+word}'), '');
    assert.equal(x('${EMPTY+word}'), 'word');
    assert.equal(x('${UNSET+word}'), '');
  });

  it('nested words with variables and quotes', () => {
    assert.equal(x('${UNSET:-${FOO}/x}'), '/bar/x');
    assert.equal(x('${UNSET:-$abc world}'), 'hello world');
    assert.equal(x('${UNSET:-"a b"}'), 'a b');
    assert.equal(x('${FOO:+${abc:+yes}}'), 'yes');
  });

  it(':? fails on unset or empty', () => {
    assert.throws(() => x('${UNSET:?must be set}'), /UNSET: must be set/);
    assert.throws(() => x('${EMPTY:?}'), /EMPTY: is not allowed to be empty/);
    assert.throws(() => x('${UNSET?}'), /UNSET: is not allowed to be unset/);
    assert.equal(x('${EMPTY?}'), '');
  });

  it('pattern modifiers', () => {
    assert.equal(x('${str#f*b}'), 'arbaz');
    assert.equal(x('${str##f*b}'), 'az');
    assert.equal(x('${str%b*}'), 'foobar');
    assert.equal(x('${str%%b*}'), 'foo');
    assert.equal(x('${str/ba/fo}'), 'fooforbaz');
    assert.equal(x('${str//ba/fo}'), 'fooforfoz');
  });

  it('escapes and quotes', () => {
    assert.equal(x('\\$FOO'), '$FOO');
    assert.equal(x('\\${FOO}'), '${FOO}');
    assert.equal(x("'$FOO'"), '$FOO');
    assert.equal(x('"$FOO"'), '/bar');
    assert.equal(x('"a \\"q\\" \\$FOO \\n"'), 'a "q" $FOO \\n');
    assert.equal(x('Rex\\ The\\ Dog'), 'Rex The Dog');
    assert.equal(x('"John Doe"'), 'John Doe');
    assert.equal(x('a\\'), 'a');
  });

  it('the escape directive changes the escape character', () => {
    assert.equal(x('`$FOO', '`'), '$FOO');
    assert.equal(x('c:\\$FOO', '`'), 'c:\\/bar');
  });

  it('syntax errors', () => {
    assert.throws(() => x('${FOO'), /missing '}'/);
    assert.throws(() => x('${}'), /bad substitution/);
    assert.throws(() => x('${:a}'), /bad substitution/);
    assert.throws(() => x('${FOO:=x}'), /unsupported modifier \(:=\) in substitution/);
    assert.throws(() => x("'abc"), /matching single-quote/);
    assert.throws(() => x('"abc'), /matching double-quote/);
  });

  it('heredoc bodies keep quotes', () => {
    assert.equal(expandHeredoc('echo "hello ${abc}" \'$abc\' \\$abc\n', vars), 'echo "hello hello" \'hello\' $abc\n');
  });
});

describe('dockerfile expansion: instructions', () => {
  it('lists the instructions the reference expands', () => {
    for (const k of ['ADD', 'COPY', 'ENV', 'EXPOSE', 'FROM', 'LABEL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']) assert.ok(EXPANDING_KINDS.has(k), k);
    for (const k of ['RUN', 'CMD', 'ENTRYPOINT', 'ONBUILD', 'SHELL', 'HEALTHCHECK']) assert.ok(!EXPANDING_KINDS.has(k), k);
  });

  it('ENV sees the values from before the instruction', () => {
    const e = expandInstruction(one('ENV abc=bye def=$abc ghi="x $FOO"\n'), vars);
    assert.deepEqual(e.kind === 'ENV' && e.pairs, [
      { key: 'abc', value: 'bye' },
      { key: 'def', value: 'hello' },
      { key: 'ghi', value: 'x /bar' },
    ]);
  });

  it('WORKDIR, COPY, USER, EXPOSE, VOLUME, LABEL', () => {
    assert.deepEqual((expandInstruction(one('WORKDIR ${FOO}/$DIRNAME\n'), vars) as { path: string }).path, '/bar/');
    const c = expandInstruction(one('COPY --chown=$abc --from=${abc} \\$FOO $FOO/a /quux\n'), vars);
    assert.deepEqual(c.kind === 'COPY' && [c.sources, c.dest, c.chown, c.from], [['$FOO', '/bar/a'], '/quux', 'hello', 'hello']);
    assert.equal((expandInstruction(one('USER ${u:-some_user}\n'), vars) as { user: string }).user, 'some_user');
    const ports = new Map([['P', '80 443/udp']]);
    assert.deepEqual((expandInstruction(one('EXPOSE $P 22\n'), ports) as { ports: string[] }).ports, ['80', '443/udp', '22']);
    assert.deepEqual((expandInstruction(one('VOLUME ["$FOO", "/x"]\n'), vars) as { paths: string[] }).paths, ['/bar', '/x']);
    const l = expandInstruction(one('LABEL "a.b"="x $abc" c=\'$abc\'\n'), vars);
    assert.deepEqual(l.kind === 'LABEL' && l.pairs, [{ key: 'a.b', value: 'x hello' }, { key: 'c', value: '$abc' }]);
  });

  it('COPY heredocs expand unless the delimiter is quoted', () => {
    const a = expandInstruction(one('COPY <<-EOT /script.sh\n\techo "hello ${abc}"\n\tEOT\n'), vars);
    assert.equal(a.kind === 'COPY' && a.heredocs[0].content, 'echo "hello hello"\n');
    const b = expandInstruction(one('COPY <<-"EOT" /script.sh\n\techo "hello ${abc}"\nEOT\n'), vars);
    assert.equal(b.kind === 'COPY' && b.heredocs[0].content, 'echo "hello ${abc}"\n');
  });

  it('leaves RUN, CMD and ONBUILD alone', () => {
    const r = one('RUN echo $FOO\n');
    assert.deepEqual(expandInstruction(r, vars), r);
    const o = one('ONBUILD WORKDIR $FOO\n');
    assert.deepEqual(expandInstruction(o, vars), o);
  });

  it('RUN --mount options are expanded', () => {
    const r = expandInstruction(one('RUN --mount=type=cache,target=$FOO,id=${abc} make\n'), vars);
    assert.deepEqual(r.kind === 'RUN' && [r.mounts[0].target, r.mounts[0].id], ['/bar', 'hello']);
  });
});
