// Compiles the berth CLI into one executable with Bun (`bun build --compile --bytecode`), as
// dist/bin/berth, after tsc has built dist/. Why: a Node CLI pays 80-120 ms to start Node and
// load its modules on every command; the compiled one starts in under 10 ms, like the docker
// CLI. bin/berth runs it when it is there and not older than the tsc build, else the Node CLI,
// so a missing or failed Bun never breaks the build: it only makes `berth` slower.
//
//   node scripts/build-cli.js          (npm run build runs it after tsc)
//   BERTH_NO_BUN=1 npm run build       (no compiled CLI: bin/berth runs on Node)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'dist', 'src', 'cli', 'main.js');
const out = path.join(root, 'dist', 'bin', 'berth');

function warn(message) {
  console.warn(`build-cli: ${message}; bin/berth will run the CLI on Node`);
}

/** Bun's executable from npm: the platform package ships it; bun's own bin/ has it once its postinstall ran. */
function findBun() {
  const candidates = [];
  const oven = path.join(root, 'node_modules', '@oven');
  if (fs.existsSync(oven)) {
    for (const pkg of fs.readdirSync(oven).filter((p) => p.startsWith(`bun-${process.platform}-`))) {
      candidates.push(path.join(oven, pkg, 'bin', 'bun'));
    }
  }
  candidates.push(path.join(root, 'node_modules', 'bun', 'bin', 'bun.exe'), path.join(root, 'node_modules', 'bun', 'bin', 'bun'));
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    // the placeholder bun.exe of a package whose postinstall did not run is not an executable
    const r = spawnSync(file, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { file, version: r.stdout.trim() };
  }
  return undefined;
}

function main() {
  if (process.env.BERTH_NO_BUN) {
    fs.rmSync(out, { force: true });
    console.log('build-cli: BERTH_NO_BUN is set, no compiled CLI');
    return;
  }
  if (!fs.existsSync(entry)) return warn(`${path.relative(root, entry)} is missing (run tsc first)`);
  const bun = findBun();
  if (!bun) {
    // a stale binary must not outlive a build that could not replace it
    fs.rmSync(out, { force: true });
    return warn('no working bun in node_modules (npm ci installs it)');
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // written beside, then renamed: a berth started meanwhile never runs half a file
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(bun.file, ['build', '--compile', '--bytecode', entry, '--outfile', tmp], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(out, { force: true });
    return warn(`bun build failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}${r.stdout}`);
  }
  // the binary must answer as berth before bin/berth trusts it
  const check = spawnSync(tmp, ['--version'], { encoding: 'utf8' });
  if (check.status !== 0 || !/^berth version /.test(check.stdout)) {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(out, { force: true });
    return warn(`the compiled CLI does not run (${check.stderr || check.stdout || check.error?.message})`);
  }
  fs.renameSync(tmp, out);
  console.log(`build-cli: ${path.relative(root, out)} compiled with bun ${bun.version}`);
}

try {
  main();
} catch (e) {
  warn(e instanceof Error ? e.message : String(e));
}
