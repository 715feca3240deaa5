// Builds the daemon's native addon (src/native/*.c) into dist/native/ with the C compiler
// against Node's own headers (node_api.h, beside the node binary). Without a compiler or the
// headers it says so and leaves the addon out: the daemon then runs mount(8)/umount(8).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'native', 'berth_native.node');
const headers = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) => fs.existsSync(path.join(d, 'node_api.h')));
fs.mkdirSync(path.dirname(out), { recursive: true });
if (!headers) {
  console.warn('build-native: node_api.h not found; the daemon will use mount(8)/umount(8)');
  fs.rmSync(out, { force: true });
  process.exit(0);
}
const cc = process.env.CC || 'cc';
try {
  execFileSync(cc, ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-DNODE_GYP_MODULE_NAME=berth_native', `-I${headers}`, '-o', out, path.join(root, 'src', 'native', 'mount.c')], { stdio: 'inherit' });
} catch (e) {
  console.warn(`build-native: ${cc} failed (${e.message}); the daemon will use mount(8)/umount(8)`);
  fs.rmSync(out, { force: true });
}
