// Builds the daemon's native addon (src/native/*.c) into dist/native/ with the C compiler
// against Node's own headers (node_api.h, beside the node binary). Without a compiler or the
// headers it says so and leaves the addon out: the daemon then runs mount(8)/umount(8).
// Also builds dist/native/berth-crun and dist/native/berth-idle, plain executables (see src/native/).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'native', 'berth_native.node');
const headers = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((d) => fs.existsSync(path.join(d, 'node_api.h')));
fs.mkdirSync(path.dirname(out), { recursive: true });

// berth-crun: the launcher that lets crun run on a hybrid cgroup host (src/native/berth-crun.c);
// without it the daemon keeps runc as its default runtime on such a host
const launcher = path.join(root, 'dist', 'native', 'berth-crun');
try {
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Werror', '-o', launcher, path.join(root, 'src', 'native', 'berth-crun.c')], { stdio: 'inherit' });
} catch (e) {
  console.warn(`build-native: berth-crun not built (${e.message}); crun stays usable only where it accepts the host's cgroups`);
  fs.rmSync(launcher, { force: true });
}

// berth-idle: the process the daemon's cgroup warmer moves (src/native/berth-idle.c); without it
// the warmer stays off
const idle = path.join(root, 'dist', 'native', 'berth-idle');
try {
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-Werror', '-o', idle, path.join(root, 'src', 'native', 'berth-idle.c')], { stdio: 'inherit' });
} catch (e) {
  console.warn(`build-native: berth-idle not built (${e.message}); containers start without the cgroup warmer`);
  fs.rmSync(idle, { force: true });
}

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
