import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { isExcluded, mayReinclude, parseDockerignore } from '../../src/build/dockerignore';

const ex = (rules: string, p: string) => isExcluded(p, parseDockerignore(rules));

describe('dockerignore', () => {
  it('skips comments and blank lines, cleans patterns', () => {
    const pats = parseDockerignore('# comment\n\n  /foo/../bar/  \r\n!./keep\n./a//b/\n');
    assert.deepEqual(pats.map((p) => [p.pattern, p.exclusion]), [['bar', false], ['keep', true], ['a/b', false]]);
  });

  it('matches a path and everything below a matched directory', () => {
    assert.ok(ex('node_modules', 'node_modules'));
    assert.ok(ex('node_modules', 'node_modules/x/y.js'));
    assert.ok(!ex('node_modules', 'src/node_modules'));
    assert.ok(ex('/secret', 'secret/key'));
  });

  it('* and ? stay within one path component', () => {
    assert.ok(ex('*.md', 'README.md'));
    assert.ok(!ex('*.md', 'docs/README.md'));
    assert.ok(ex('*/*.md', 'docs/README.md'));
    assert.ok(ex('temp?', 'temp1'));
    assert.ok(!ex('temp?', 'temp12'));
    assert.ok(!ex('temp?', 'temp/'));
  });

  it('** matches any number of directories, none included', () => {
    assert.ok(ex('**/*.go', 'a.go'));
    assert.ok(ex('**/*.go', 'x/y/z/a.go'));
    assert.ok(ex('a/**/b', 'a/b'));
    assert.ok(ex('a/**/b', 'a/x/y/b'));
    assert.ok(!ex('a/**/b', 'c/a/b'));
    assert.ok(ex('a/**', 'a/x'));
  });

  it('character classes and escapes', () => {
    assert.ok(ex('file[0-9].txt', 'file7.txt'));
    assert.ok(!ex('file[0-9].txt', 'filex.txt'));
    assert.ok(ex('file[^0-9].txt', 'filex.txt'));
    assert.ok(!ex('file[^0-9].txt', 'file1.txt'));
    assert.ok(ex('arr[[]0].txt', 'arr[0].txt'));
    assert.ok(ex('a\\*b', 'a*b'));
    assert.ok(!ex('a\\*b', 'axb'));
    assert.ok(ex('a.b', 'a.b'));
    assert.ok(!ex('a.b', 'axb'));
  });

  it('refuses bad patterns', () => {
    assert.throws(() => parseDockerignore('[a-'), /syntax error in pattern/);
    assert.throws(() => parseDockerignore('abc['), /syntax error in pattern/);
    assert.throws(() => parseDockerignore('!'), /illegal exclusion pattern: "!"/);
  });

  it('! exceptions: the last matching pattern wins', () => {
    const rules = '*.md\n!README.md\nREADME-secret.md\n';
    assert.ok(ex(rules, 'CHANGES.md'));
    assert.ok(!ex(rules, 'README.md'));
    assert.ok(ex(rules, 'README-secret.md'));
    assert.ok(!ex('*.md\n!README*.md\n', 'README-secret.md'));
    assert.ok(ex('!README.md\n*.md\n', 'README.md'));
  });

  it('re-including a file inside an excluded directory', () => {
    const rules = 'docs\n!docs/keep.txt\n';
    assert.ok(ex(rules, 'docs/other.txt'));
    assert.ok(!ex(rules, 'docs/keep.txt'));
    assert.ok(ex(rules, 'docs'));
  });

  it('tells a walker when an excluded directory may hold re-included files', () => {
    const pats = parseDockerignore('docs\n!docs/keep.txt\nbuild\n!*/deep/**\nvendor\n!vendor\n');
    assert.ok(mayReinclude('docs', pats));
    assert.ok(mayReinclude('build', pats)); // !*/deep/** could match build/deep/x
    assert.ok(!mayReinclude('docs/sub', parseDockerignore('docs\n!docs/keep.txt\n')));
    assert.ok(!mayReinclude('tmp', parseDockerignore('tmp\n!other/x\n')));
    assert.ok(!mayReinclude('tmp', parseDockerignore('tmp\n')));
    assert.ok(mayReinclude('a', parseDockerignore('*\n!**/*.go\n')));
  });
});
