// Copies the files the compiled code reads at run time next to it in dist/.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
for (const rel of ['src/container/seccomp-default.json']) {
  const dest = path.join(root, 'dist', rel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.copyFileSync(path.join(root, rel), dest);
}
