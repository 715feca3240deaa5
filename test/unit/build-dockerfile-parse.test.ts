import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isBerthError } from '../../src/common/errors';
import { runScript } from '../../src/build/dockerfile/heredoc';
import { parseDockerfile } from '../../src/build/dockerfile/parse';
import type { Instruction } from '../../src/build/dockerfile/types';

/** The instructions of the only (or last) stage of `FROM scratch\n` + body. */
function instrs(body: string): Instruction[] {
  const df = parseDockerfile(`FROM scratch\n${body}`);
  return df.stages[df.stages.length - 1].instructions;
}
const one = (body: string) => instrs(body)[0];

function fails(text: string, message: string | RegExp): void {
  assert.throws(
    () => parseDockerfile(text),
    (e: unknown) => {
      assert.ok(isBerthError(e, 'INVALID_PARAMETER'), String(e));
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

describe('dockerfile parse: structure', () => {
  it('splits stages, names them lowercased, keeps global ARGs', () => {
    const df = parseDockerfile('ARG A=1 B\nFROM --platform=$P img:$A AS Builder\nRUN x\nfrom builder\ncmd ["a"]\n');
    assert.equal(df.globalArgs.length, 1);
    assert.deepEqual(df.globalArgs[0].args, [{ name: 'A', default: '1' }, { name: 'B' }]);
    assert.equal(df.stages.length, 2);
    assert.deepEqual(
      { name: df.stages[0].name, base: df.stages[0].baseName, platform: df.stages[0].platform, line: df.stages[0].line, index: df.stages[0].index },
      { name: 'builder', base: 'img:$A', platform: '$P', line: 2, index: 0 },
    );
    assert.equal(df.stages[1].name, undefined);
    assert.equal(df.stages[1].index, 1);
    assert.equal(df.stages[1].instructions[0].kind, 'CMD');
    assert.equal(df.directives.escape, '\\');
  });

  it('reports line numbers of an instruction first line and skips comments and blanks', () => {
    const i = instrs('# c\n\n   RUN a \\\n  b\n\tENV X=1\n');
    assert.equal(i[0].line, 4);
    assert.equal(i[0].endLine, 5);
    assert.equal(i[0].original, 'RUN a   b');
    assert.equal(i[1].line, 6);
  });

  it('handles CRLF and a BOM', () => {
    const df = parseDockerfile('\uFEFFFROM a\r\nRUN echo hi \\\r\n  there\r\n');
    const run = df.stages[0].instructions[0];
    assert.equal(run.kind, 'RUN');
    assert.deepEqual(run.kind === 'RUN' && run.cmd, { form: 'shell', command: 'echo hi   there' });
  });

  it('drops comment lines and empty lines inside continuations, with a warning for the empty one', () => {
    const df = parseDockerfile('FROM a\nRUN echo hello \\\n# comment\n\n  world\n');
    const run = df.stages[0].instructions[0];
    assert.deepEqual(run.kind === 'RUN' && run.cmd, { form: 'shell', command: 'echo hello   world' });
    assert.equal(df.warnings.length, 1);
    assert.equal(df.warnings[0].line, 2);
  });

  it('keeps whitespace inside continued arguments', () => {
    const run = one('RUN echo "\\\n     hello\\\n     world"\n');
    assert.deepEqual(run.kind === 'RUN' && run.cmd, { form: 'shell', command: 'echo "     hello     world"' });
  });

  it('treats # after the start of a line as an argument', () => {
    const run = one("RUN echo 'we are running some # of cool things'\n");
    assert.deepEqual(run.kind === 'RUN' && run.cmd, { form: 'shell', command: "echo 'we are running some # of cool things'" });
  });

  it('accepts instruction names in any case', () => {
    assert.deepEqual(instrs('run a\nWorkDir /x\n').map((i) => i.kind), ['RUN', 'WORKDIR']);
  });
});

describe('dockerfile parse: directives', () => {
  it('reads escape, syntax and check, with spacing and any key case', () => {
    const df = parseDockerfile('#  SYNTAX = docker/dockerfile:1\n# escape=`\n#check=skip=all\nFROM a\nCOPY testfile.txt c:\\\nRUN dir c:\\\n');
    assert.deepEqual(df.directives, { escape: '`', syntax: 'docker/dockerfile:1', check: 'skip=all' });
    const [copy, run] = df.stages[0].instructions;
    assert.equal(copy.kind === 'COPY' && copy.dest, 'c:\\');
    assert.deepEqual(run.kind === 'RUN' && run.cmd, { form: 'shell', command: 'dir c:\\' });
  });

  it('uses the escape character for line continuations', () => {
    const df = parseDockerfile('# escape=`\nFROM a\nRUN echo a `\n  b\n');
    const run = df.stages[0].instructions[0];
    assert.deepEqual(run.kind === 'RUN' && run.cmd, { form: 'shell', command: 'echo a   b' });
  });

  it('without the directive a trailing backslash joins lines', () => {
    const df = parseDockerfile('FROM a\nCOPY testfile.txt c:\\\\\nRUN dir c:\\\n');
    const copy = df.stages[0].instructions[0];
    assert.equal(df.stages[0].instructions.length, 1);
    // the reference's "COPY testfile.txt c:\RUN dir c:"
    assert.equal(copy.original, 'COPY testfile.txt c:\\RUN dir c:');
    assert.deepEqual(copy.kind === 'COPY' && [copy.sources, copy.dest], [['testfile.txt', 'c:\\RUN', 'dir'], 'c:']);
  });

  it('stops looking for directives after a comment, blank line or unknown directive', () => {
    assert.equal(parseDockerfile('# About\n# escape=`\nFROM a\n').directives.escape, '\\');
    assert.equal(parseDockerfile('\n# escape=`\nFROM a\n').directives.escape, '\\');
    assert.equal(parseDockerfile('# unknowndirective=value\n# syntax=value\nFROM a\n').directives.syntax, undefined);
    assert.equal(parseDockerfile('FROM a\n# escape=`\n').directives.escape, '\\');
  });

  it('refuses a repeated directive and a bad escape', () => {
    fails('# escape=\\\n# escape=`\nFROM a\n', 'only one escape parser directive can be used');
    fails('# escape=x\nFROM a\n', "invalid escape token 'x' does not match ` or \\");
  });
});

describe('dockerfile parse: command forms', () => {
  it('exec vs shell form for RUN, CMD, ENTRYPOINT', () => {
    const [a, b, c, d] = instrs('RUN ["echo", "$HOME"]\nCMD echo hi\nENTRYPOINT ["top","-b"]\nRUN ["c:\\windows\\x.exe"]\n');
    assert.deepEqual(a.kind === 'RUN' && a.cmd, { form: 'exec', args: ['echo', '$HOME'] });
    assert.deepEqual(b.kind === 'CMD' && b.cmd, { form: 'shell', command: 'echo hi' });
    assert.deepEqual(c.kind === 'ENTRYPOINT' && c.cmd, { form: 'exec', args: ['top', '-b'] });
    // not valid JSON: shell form, as the reference warns
    assert.deepEqual(d.kind === 'RUN' && d.cmd, { form: 'shell', command: '["c:\\windows\\x.exe"]' });
  });

  it('refuses JSON arrays of non-strings', () => {
    fails('FROM a\nCMD [1, 2]\n', 'dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only');
  });

  it('SHELL must be JSON', () => {
    const s = one('SHELL ["powershell", "-command"]\n');
    assert.deepEqual(s.kind === 'SHELL' && s.args, ['powershell', '-command']);
    fails('FROM a\nSHELL /bin/bash -c\n', 'dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form');
  });

  it('RUN flags: mounts, network, security', () => {
    const r = one('RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=secret,id=aws --network=none --security=insecure apt-get update\n');
    assert.equal(r.kind, 'RUN');
    if (r.kind !== 'RUN') return;
    assert.equal(r.network, 'none');
    assert.equal(r.security, 'insecure');
    assert.deepEqual(r.cmd, { form: 'shell', command: 'apt-get update' });
    assert.equal(r.mounts.length, 2);
    assert.deepEqual([r.mounts[0].type, r.mounts[0].target, r.mounts[0].sharing, r.mounts[0].readonly], ['cache', '/var/cache/apt', 'locked', false]);
    assert.deepEqual([r.mounts[1].type, r.mounts[1].id, r.mounts[1].target], ['secret', 'aws', '/run/secrets/aws']);
    const b = one('RUN --mount=target=.,from=build go build\n');
    assert.deepEqual(b.kind === 'RUN' && [b.mounts[0].type, b.mounts[0].readonly, b.mounts[0].from], ['bind', true, 'build']);
  });

  it('RUN flag errors', () => {
    fails('FROM a\nRUN --foo=1 echo\n', 'dockerfile parse error on line 2: unknown flag: foo');
    fails('FROM a\nRUN --network=bogus echo\n', /unsupported network mode "bogus"/);
    fails('FROM a\nRUN --network echo\n', /missing a value on flag: network/);
    fails('FROM a\nRUN --mount=type=nope,target=/x echo\n', /unsupported mount type "nope"/);
    fails('FROM a\nRUN --mount=type=cache echo\n', /mount target is required/);
    fails('FROM a\nRUN\n', 'dockerfile parse error on line 2: RUN requires at least one argument');
  });
});

describe('dockerfile parse: heredocs', () => {
  it('RUN with one heredoc', () => {
    const df = parseDockerfile('FROM a\nRUN <<EOF\napt-get update\n  apt-get install -y curl\nEOF\nRUN echo after\n');
    const [r, after] = df.stages[0].instructions;
    assert.equal(r.kind, 'RUN');
    if (r.kind !== 'RUN') return;
    assert.deepEqual(r.heredocs, [{ name: 'EOF', content: 'apt-get update\n  apt-get install -y curl\n', expand: true, chomp: false }]);
    assert.equal(r.endLine, 5);
    assert.equal(after.line, 6);
    assert.deepEqual(runScript(r), { kind: 'shell', command: 'apt-get update\n  apt-get install -y curl\n' });
  });

  it('a shebang makes the heredoc a script file', () => {
    const r = one('RUN <<EOT\n#!/usr/bin/env python\nprint("hello world")\nEOT\n');
    assert.deepEqual(r.kind === 'RUN' && runScript(r), { kind: 'file', content: '#!/usr/bin/env python\nprint("hello world")\n', shebang: true });
  });

  it('several heredocs on one line, <<- tab stripping, quoted delimiters', () => {
    const r = one('RUN <<FILE1 cat > file1 && <<-"FILE2" cat > file2\nI am\nfirst\nFILE1\n\tI am\n\t$second\n\tFILE2\n');
    assert.equal(r.kind, 'RUN');
    if (r.kind !== 'RUN') return;
    assert.deepEqual(r.heredocs, [
      { name: 'FILE1', content: 'I am\nfirst\n', expand: true, chomp: false },
      { name: 'FILE2', content: 'I am\n$second\n', expand: false, chomp: true },
    ]);
    assert.deepEqual(runScript(r), {
      kind: 'shell',
      command: '<<FILE1 cat > file1 && <<-"FILE2" cat > file2\nI am\nfirst\nFILE1\nI am\n$second\nFILE2',
    });
  });

  it("single-quoted and escaped delimiters disable expansion", () => {
    const [a, b] = instrs("RUN <<'X' cat\nx\nX\nRUN <<\\Y cat\ny\nY\n");
    assert.deepEqual(a.kind === 'RUN' && [a.heredocs[0].name, a.heredocs[0].expand], ['X', false]);
    assert.deepEqual(b.kind === 'RUN' && [b.heredocs[0].name, b.heredocs[0].expand], ['Y', false]);
  });

  it('COPY <<EOF dest', () => {
    const c = one('COPY <<EOF greeting.txt\nhello world\nEOF\n');
    assert.equal(c.kind, 'COPY');
    if (c.kind !== 'COPY') return;
    assert.deepEqual(c.sources, []);
    assert.equal(c.dest, 'greeting.txt');
    assert.deepEqual(c.heredocs, [{ name: 'EOF', content: 'hello world\n', expand: true, chomp: false }]);
  });

  it('heredoc bodies are not comments or continuations', () => {
    const r = one('RUN <<EOF\n# not a comment \\\nEOF\n');
    assert.deepEqual(r.kind === 'RUN' && r.heredocs[0].content, '# not a comment \\\n');
  });

  it('no heredocs in the exec form, nor in words like cat<<EOF', () => {
    const [a, b] = instrs('RUN ["cat", "<<EOF"]\nRUN cat<<EOF\n');
    assert.deepEqual(a.kind === 'RUN' && a.heredocs, []);
    assert.deepEqual(b.kind === 'RUN' && b.heredocs, []);
  });

  it('an unterminated heredoc is an error', () => {
    fails('FROM a\nRUN <<EOF\nabc\n', /line 2: unterminated heredoc/);
  });
});

describe('dockerfile parse: ENV, LABEL, ARG', () => {
  it('ENV key=value pairs keep quotes and escapes for expansion', () => {
    const e = one('ENV MY_NAME="John Doe" MY_DOG=Rex\\ The\\ Dog \\\n    MY_CAT=fluffy\n');
    assert.deepEqual(e.kind === 'ENV' && [e.pairs, e.legacy], [
      [
        { key: 'MY_NAME', value: '"John Doe"' },
        { key: 'MY_DOG', value: 'Rex\\ The\\ Dog' },
        { key: 'MY_CAT', value: 'fluffy' },
      ],
      false,
    ]);
  });

  it('the legacy ENV form takes the rest of the line', () => {
    const e = one('ENV ONE TWO= THREE=world\n');
    assert.deepEqual(e.kind === 'ENV' && [e.pairs, e.legacy], [[{ key: 'ONE', value: 'TWO= THREE=world' }], true]);
  });

  it('LABEL pairs with quoted keys', () => {
    const l = one('LABEL "com.example.vendor"="ACME Incorporated" version=1.0 other=\'x y\'\n');
    assert.deepEqual(l.kind === 'LABEL' && l.pairs, [
      { key: '"com.example.vendor"', value: '"ACME Incorporated"' },
      { key: 'version', value: '1.0' },
      { key: 'other', value: "'x y'" },
    ]);
  });

  it('ENV and LABEL errors', () => {
    fails('FROM a\nENV\n', 'dockerfile parse error on line 2: ENV requires at least one argument');
    fails('FROM a\nENV foo\n', 'dockerfile parse error on line 2: ENV must have two arguments');
    fails('FROM a\nENV a=1 b\n', 'dockerfile parse error on line 2: Syntax error - can\'t find = in "b". Must be of the form: name=value');
    fails('FROM a\nLABEL =x\n', 'dockerfile parse error on line 2: LABEL names can not be blank');
  });

  it('ARG with several names and defaults', () => {
    const a = one('ARG user1=someuser buildno "q=a b"\n');
    assert.deepEqual(a.kind === 'ARG' && a.args, [{ name: 'user1', default: 'someuser' }, { name: 'buildno' }, { name: '"q', default: 'a b"' }]);
    fails('FROM a\nARG\n', 'dockerfile parse error on line 2: ARG requires at least one argument');
    fails('FROM a\nARG =1\n', 'dockerfile parse error on line 2: ARG names can not be blank');
  });
});

describe('dockerfile parse: other instructions', () => {
  it('EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER', () => {
    const [ex, v1, v2, u, w, s, m] = instrs(
      'EXPOSE 80/tcp 53/udp $P\nVOLUME ["/var/www", "/var/log"]\nVOLUME /var/log /var/db\nUSER 1000:1000\nWORKDIR /path with space\nSTOPSIGNAL SIGKILL\nMAINTAINER Sven <sven@x>\n',
    );
    assert.deepEqual(ex.kind === 'EXPOSE' && ex.ports, ['80/tcp', '53/udp', '$P']);
    assert.deepEqual(v1.kind === 'VOLUME' && [v1.paths, v1.json], [['/var/www', '/var/log'], true]);
    assert.deepEqual(v2.kind === 'VOLUME' && [v2.paths, v2.json], [['/var/log', '/var/db'], false]);
    assert.equal(u.kind === 'USER' && u.user, '1000:1000');
    assert.equal(w.kind === 'WORKDIR' && w.path, '/path with space');
    assert.equal(s.kind === 'STOPSIGNAL' && s.signal, 'SIGKILL');
    assert.equal(m.kind === 'MAINTAINER' && m.name, 'Sven <sven@x>');
  });

  it('argument count errors', () => {
    fails('FROM a\nEXPOSE\n', 'dockerfile parse error on line 2: EXPOSE requires at least one argument');
    fails('FROM a\nUSER\n', 'dockerfile parse error on line 2: USER requires exactly one argument');
    fails('FROM a\nWORKDIR\n', 'dockerfile parse error on line 2: WORKDIR requires exactly one argument');
    fails('FROM a\nVOLUME [""]\n', 'dockerfile parse error on line 2: VOLUME specified can not be an empty string');
    fails('FROM a\nCOPY onlyone\n', /line 2: COPY requires at least two arguments, but only one was provided/);
  });

  it('COPY flags and JSON form', () => {
    const c = one('COPY --from=build --chown=55:mygroup --chmod=644 --link --parents --exclude=*.txt --exclude=*.md a b /dst/\n');
    assert.equal(c.kind, 'COPY');
    if (c.kind !== 'COPY') return;
    assert.deepEqual(
      [c.from, c.chown, c.chmod, c.link, c.parents, c.exclude, c.sources, c.dest, c.json],
      ['build', '55:mygroup', '644', true, true, ['*.txt', '*.md'], ['a', 'b'], '/dst/', false],
    );
    const j = one('COPY ["a b", "c d/"]\n');
    assert.deepEqual(j.kind === 'COPY' && [j.sources, j.dest, j.json, j.link], [['a b'], 'c d/', true, false]);
    const q = one('COPY --chown="1:2" --link=false x y\n');
    assert.deepEqual(q.kind === 'COPY' && [q.chown, q.link], ['1:2', false]);
  });

  it('ADD flags', () => {
    const a = one('ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false --chmod=755 https://x/a.tgz /d\n');
    assert.equal(a.kind, 'ADD');
    if (a.kind !== 'ADD') return;
    assert.deepEqual([a.checksum, a.keepGitDir, a.unpack, a.chmod, a.sources, a.dest], ['sha256:abc', true, false, '755', ['https://x/a.tgz'], '/d']);
    fails('FROM a\nADD --from=x a b\n', 'dockerfile parse error on line 2: unknown flag: from');
    fails('FROM a\nCOPY --link=maybe a b\n', 'dockerfile parse error on line 2: expecting boolean value for flag link, not: maybe');
    fails('FROM a\nCOPY --from=a --from=b a b\n', 'dockerfile parse error on line 2: duplicate flag specified: from');
  });

  it('HEALTHCHECK forms and durations in nanoseconds', () => {
    const [n, s, e] = instrs(
      'HEALTHCHECK NONE\nHEALTHCHECK --interval=5m --timeout=3s --start-period=1.5s --start-interval=250ms --retries=4 \\\n  CMD curl -f http://localhost/ || exit 1\nHEALTHCHECK CMD ["/bin/check", "-x"]\n',
    );
    assert.deepEqual(n.kind === 'HEALTHCHECK' && n.health, { Test: ['NONE'] });
    assert.deepEqual(s.kind === 'HEALTHCHECK' && s.health, {
      Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      Interval: 300e9,
      Timeout: 3e9,
      StartPeriod: 1.5e9,
      StartInterval: 250e6,
      Retries: 4,
    });
    assert.deepEqual(e.kind === 'HEALTHCHECK' && e.health, { Test: ['CMD', '/bin/check', '-x'] });
  });

  it('HEALTHCHECK errors', () => {
    fails('FROM a\nHEALTHCHECK NONE x\n', 'dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments');
    fails('FROM a\nHEALTHCHECK FOO x\n', 'dockerfile parse error on line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)');
    fails('FROM a\nHEALTHCHECK CMD\n', 'dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD');
    fails('FROM a\nHEALTHCHECK --interval=1us CMD x\n', 'dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms');
    fails('FROM a\nHEALTHCHECK --timeout=5 CMD x\n', /missing unit in duration "5"/);
    fails('FROM a\nHEALTHCHECK --retries=-1 CMD x\n', /--retries cannot be negative \(-1\)/);
  });

  it('ONBUILD holds its trigger', () => {
    const o = one('ONBUILD COPY --from=build /usr/bin/app /app\n');
    assert.equal(o.kind, 'ONBUILD');
    if (o.kind !== 'ONBUILD') return;
    assert.equal(o.expression, 'COPY --from=build /usr/bin/app /app');
    assert.deepEqual(o.instruction.kind === 'COPY' && [o.instruction.from, o.instruction.sources], ['build', ['/usr/bin/app']]);
    fails('FROM a\nONBUILD ONBUILD RUN x\n', 'dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    fails('FROM a\nONBUILD FROM x\n', "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger");
    fails('FROM a\nONBUILD MAINTAINER x\n', "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger");
    fails('FROM a\nONBUILD BOGUS x\n', 'dockerfile parse error on line 2: unknown instruction: BOGUS');
  });
});

describe('dockerfile parse: file-level errors', () => {
  it('unknown instruction with its line', () => {
    fails('FROM a\nRUN x\nRUNN y\n', 'dockerfile parse error on line 3: unknown instruction: RUNN');
    fails('FROM a\nrunn y\n', 'dockerfile parse error on line 2: unknown instruction: RUNN');
  });

  it('FROM argument count and stage names', () => {
    fails('FROM a b\n', 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    fails('FROM\n', 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    fails('FROM a TO b\n', 'dockerfile parse error on line 1: FROM requires either one or three arguments');
    fails('FROM a AS 1x\n', /invalid name for build stage: "1x", name can't start with a number or contain symbols/);
  });

  it('instructions before FROM, other than ARG', () => {
    fails('ARG x\nRUN y\nFROM a\n', 'no build stage in current context');
  });

  it('empty files', () => {
    fails('', 'Dockerfile cannot be empty');
    fails('# only a comment\n\n   \n', 'Dockerfile cannot be empty');
  });

  it('flags on CMD are refused as BuildKit does', () => {
    fails('FROM a\nCMD --help\n', 'dockerfile parse error on line 2: unknown flag: help');
  });
});
