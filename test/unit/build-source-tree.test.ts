import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { closeSync, promises as fsp, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanSource, SourceTree, type SourceNode } from '../../src/build/context';

/** A source tree (a stage's root) holding links that lead to the host if the host followed them. */
let base: string;
let root: string;
let outside: string;

before(async () => {
  base = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-source-tree-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await fsp.mkdir(path.join(root, 'etc'), { recursive: true });
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(root, 'etc', 'hostname'), 'inside\n');
  await fsp.writeFile(path.join(outside, 'secret'), 'host\n');
  await fsp.symlink('/', path.join(root, 'escape'));
  await fsp.symlink('../../../../..', path.join(root, 'up'));
  await fsp.symlink(outside, path.join(root, 'abs-outside'));
});

after(async () => {
  await fsp.rm(base, { recursive: true, force: true });
});

const none = () => false;

function readNode(n: SourceNode): string {
  assert.equal(n.kind, 'file');
  const fd = (n as SourceNode & { kind: 'file' }).open();
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

describe('SourceTree', () => {
  it('expands globs through links inside the tree, never on the host', () => {
    const tree = SourceTree.open(root);
    try {
      assert.deepEqual(tree.expand('escape/etc/host*', none), ['escape/etc/hostname']);
      assert.deepEqual(tree.expand('up/etc/hostnam?', none), ['up/etc/hostname']);
      assert.throws(() => tree.expand(`escape${outside}/secre*`, none), /no source files were specified/);
      assert.throws(() => tree.expand('abs-outside/secre*', none), /no source files were specified/);
      assert.throws(() => tree.expand('abs-outside/secret', none), /file not found/);
    } finally {
      tree.close();
    }
  });

  it('reads a file named through a link as the tree\'s own file', async () => {
    const tree = SourceTree.open(root);
    try {
      assert.equal(await tree.visit('escape/etc/hostname', readNode), 'inside\n');
      const viaLink = await tree.digest(['escape/etc/hostname'], none);
      await fsp.writeFile(path.join(outside, 'secret'), 'host, changed\n');
      assert.equal(await tree.digest(['escape/etc/hostname'], none), viaLink, 'the host\'s files are no part of the key');
    } finally {
      tree.close();
    }
  });

  it('a file swapped for a link to the host after it was found is not opened', async () => {
    const tree = SourceTree.open(root);
    try {
      await tree.visit('etc/hostname', (n) => {
        const tmp = path.join(root, 'etc', '.swap');
        symlinkSync(path.join(outside, 'secret'), tmp);
        renameSync(tmp, path.join(root, 'etc', 'hostname'));
        assert.throws(() => (n as SourceNode & { kind: 'file' }).open(), { code: 'ELOOP' });
      });
      writeFileSync(path.join(root, 'etc', '.swap'), 'another file\n');
      renameSync(path.join(root, 'etc', '.swap'), path.join(root, 'etc', 'hostname'));
      await tree.visit('etc/hostname', (n) => {
        writeFileSync(path.join(root, 'etc', '.swap'), 'yet another\n');
        renameSync(path.join(root, 'etc', '.swap'), path.join(root, 'etc', 'hostname'));
        assert.throws(() => (n as SourceNode & { kind: 'file' }).open(), /changed while it was being read/);
      });
    } finally {
      tree.close();
    }
  });
});

describe('COPY sources that climb above their tree', () => {
  const forbidden = (p: string) => new RegExp(`^forbidden path outside the build context: ${p.replace(/[.*]/g, '\\$&')} \\(\\)$`);
  it('are refused as Docker\'s legacy builder refuses them, for a stage as for the context, also after a leading "/"', () => {
    const tree = SourceTree.open(root);
    try {
      for (const [src, shown] of [['../etc/hostname', '../etc/hostname'], ['/../etc/hostname', '../etc/hostname'], ['//../etc/hostname', '/../etc/hostname'], ['etc/../../etc/hostname', 'etc/../../etc/hostname'], ['../root/etc/hostname', '../root/etc/hostname'], ['./../etc', '../etc']]) {
        assert.throws(() => tree.expand(src, none), (e: Error) => forbidden(shown).test(e.message), src);
      }
    } finally {
      tree.close();
    }
  });
  it('that stay inside are cleaned as a join to the root', () => {
    assert.equal(cleanSource('/./etc/hostname'), 'etc/hostname');
    assert.equal(cleanSource('etc/../etc/hostname/'), 'etc/hostname');
    assert.equal(cleanSource('/'), '.');
    assert.equal(cleanSource('.'), '.');
    assert.equal(cleanSource('a/..'), '.');
  });
});
