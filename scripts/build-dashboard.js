// Bundles the web dashboard's front end (src/dashboard/ui: preact, uPlot, xterm.js, all from
// npm) with Bun's bundler into dist/dashboard/, which berthd serves as static files; nothing is
// fetched at run time. The UI is type-checked first (its own tsconfig: DOM, JSX).
//
//   node scripts/build-dashboard.js    (npm run build runs it)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const ui = path.join(root, 'src', 'dashboard', 'ui');
const out = path.join(root, 'dist', 'dashboard');

function bunPath() {
  const oven = path.join(root, 'node_modules', '@oven');
  const candidates = fs.existsSync(oven)
    ? fs.readdirSync(oven).filter((p) => p.startsWith(`bun-${process.platform}-`)).map((p) => path.join(oven, p, 'bin', 'bun'))
    : [];
  candidates.push(path.join(root, 'node_modules', 'bun', 'bin', 'bun.exe'), path.join(root, 'node_modules', 'bun', 'bin', 'bun'));
  return candidates.find((f) => fs.existsSync(f) && spawnSync(f, ['--version']).status === 0);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build-dashboard: ${path.basename(cmd)} ${args.join(' ')} failed`);
    process.exit(1);
  }
}

const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
run(process.execPath, [tsc, '-p', path.join(ui, 'tsconfig.json')]);
const bun = bunPath();
if (!bun) {
  // like the compiled CLI, a missing Bun must not cost the daemon: berthd then says the
  // dashboard is not built
  console.warn('build-dashboard: no working bun in node_modules (npm ci installs it); the dashboard is not built');
  fs.rmSync(out, { recursive: true, force: true });
  process.exit(0);
}
const assets = path.join(out, 'assets');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(assets, { recursive: true });
run(bun, ['build', path.join(ui, 'main.tsx'), '--outdir', assets, '--minify', '--splitting', '--target', 'browser', '--entry-naming', '[name].[ext]', '--chunk-naming', 'chunk-[hash].[ext]', '--asset-naming', '[name].[ext]']);
// the chunks main.js imports statically are announced in the page, so they load beside it
// rather than after it
const mainJs = fs.readFileSync(path.join(assets, 'main.js'), 'utf8');
const statics = [...new Set([...mainJs.matchAll(/(?:from|import)\s*"\.\/(chunk-[\w-]+\.js)"/g)].map((m) => m[1]))];
const preload = statics.map((c) => `<link rel="modulepreload" href="/assets/${c}">`).join('\n');
const html = fs.readFileSync(path.join(ui, 'index.html'), 'utf8').replace('</head>', `${preload ? `${preload}\n` : ''}</head>`);
fs.writeFileSync(path.join(out, 'index.html'), html);
const size = fs.readdirSync(assets).map((f) => `${f} ${(fs.statSync(path.join(assets, f)).size / 1024).toFixed(0)} KiB`);
console.log(`build-dashboard: dist/dashboard (${size.join(', ')})`);
