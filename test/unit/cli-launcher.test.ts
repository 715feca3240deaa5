import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../helpers/daemon';
import { CLI_VERSION, buildTag, cliRuntime } from '../../src/cli/build-info';

// A copy of bin/berth in a tree of its own, with stand-ins for the two CLIs it can start:
// dist/bin/berth (the compiled one) and dist/src/cli/main.js (the Node one).
const root = mkdtempSync(path.join(os.tmpdir(), 'berth-launcher-'));
after(() => rmSync(root, { recursive: true, force: true }));
const launcher = path.join(root, 'bin', 'berth');
const compiled = path.join(root, 'dist', 'bin', 'berth');
const nodeCli = path.join(root, 'dist', 'src', 'cli', 'main.js');
const buildInfo = path.join(root, 'dist', '.tsbuildinfo');
mkdirSync(path.dirname(launcher), { recursive: true });
mkdirSync(path.dirname(compiled), { recursive: true });
mkdirSync(path.dirname(nodeCli), { recursive: true });
copyFileSync(path.join(REPO, 'bin', 'berth'), launcher);
chmodSync(launcher, 0o755);
writeFileSync(nodeCli, "process.stdout.write('node ' + JSON.stringify(process.argv.slice(2)) + '\\n');\n");
writeFileSync(buildInfo, '{}');

const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}` };
const run = (cmd: string, args: string[], cwd = root) => execFileSync(cmd, args, { env, cwd }).toString().trim();
const at = (file: string, seconds: number) => utimesSync(file, seconds, seconds);

function makeCompiled(): void {
  writeFileSync(compiled, '#!/bin/sh\necho compiled "$#" "$@"\n');
  chmodSync(compiled, 0o755);
}

test('no compiled CLI: the Node one, with the arguments as given', () => {
  rmSync(compiled, { force: true });
  assert.equal(run(launcher, ['ps', '-a', 'two words']), 'node ["ps","-a","two words"]');
});

test('a compiled CLI newer than the tsc build runs instead, with the arguments as given', () => {
  makeCompiled();
  at(nodeCli, 1000);
  at(buildInfo, 1000);
  at(compiled, 2000);
  assert.equal(run(launcher, ['ps', '-a', 'two words']), 'compiled 3 ps -a two words');
});

test('a compiled CLI older than the tsc build (main.js or .tsbuildinfo) is stale: the Node one runs', () => {
  makeCompiled();
  at(compiled, 2000);
  at(nodeCli, 3000);
  at(buildInfo, 1000);
  assert.equal(run(launcher, ['version']), 'node ["version"]');
  at(nodeCli, 1000);
  at(buildInfo, 3000);
  assert.equal(run(launcher, ['version']), 'node ["version"]');
});

test('a compiled CLI that is not executable is not run', () => {
  makeCompiled();
  chmodSync(compiled, 0o644);
  at(nodeCli, 1000);
  at(buildInfo, 1000);
  at(compiled, 2000);
  assert.equal(run(launcher, ['info']), 'node ["info"]');
});

test('found through a symlink (npm bin links), by relative path, and run as `node bin/berth`', () => {
  makeCompiled();
  at(nodeCli, 1000);
  at(buildInfo, 1000);
  at(compiled, 2000);
  const links = path.join(root, 'links');
  mkdirSync(links, { recursive: true });
  symlinkSync('../bin/berth', path.join(links, 'berth'));
  assert.equal(run(path.join(links, 'berth'), ['ps']), 'compiled 1 ps');
  assert.equal(run('sh', ['-c', 'cd bin && ./berth ps']), 'compiled 1 ps');
  assert.equal(run('sh', ['-c', 'PATH="$PWD/links:$PATH" berth ps']), 'compiled 1 ps');
  // Node reads the same file as JavaScript and always loads the Node CLI
  assert.equal(run(process.execPath, [launcher, 'ps']), 'node ["ps"]');
});

test('the version names the runtime that built and runs the CLI', () => {
  assert.equal(buildTag({ name: 'bun', version: '1.4.5' }), 'bun-1.4.5');
  assert.equal(buildTag({ name: 'node', version: '20.20.2' }), 'node-v20.20.2');
  // under node --test this process is Node
  assert.deepEqual(cliRuntime(), { name: 'node', version: process.versions.node });
  const viaNode = execFileSync(process.execPath, [path.join(REPO, 'bin', 'berth'), '--version']).toString();
  assert.equal(viaNode, `berth version ${CLI_VERSION}, build node-v${process.versions.node}\n`);
});
