// Runs the unit tests, then the integration and end-to-end tests (several files at once:
// each starts its own daemon in its own network namespace, so they share no state).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist', 'test');
const files = (dir) =>
  fs.existsSync(path.join(dist, dir))
    ? fs.readdirSync(path.join(dist, dir)).filter((f) => f.endsWith('.test.js')).map((f) => path.join(dist, dir, f))
    : [];

const only = process.argv[2];
const suites = only ? [only] : ['unit', 'integration', 'e2e'];
const all = suites.flatMap(files);
if (all.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
// the time-out bounds each file's whole run: test/e2e/docker-py.test.js runs an outside suite of
// ~400 tests (about 3 minutes alone, more beside other files)
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=3', '--test-timeout=600000', ...all], { stdio: 'inherit' });
process.exit(r.status ?? 1);
