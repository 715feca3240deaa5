/**
 * Runs a spec from buildSpec with the real runc: a busybox rootfs in a temp dir, a private
 * runc --root, an empty network namespace (Docker's --network none). Needs root, runc and
 * Debian's busybox-static; skipped otherwise. The runc state, the container's cgroup and
 * the temp dirs are removed even when an assertion fails.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerConfig, HostConfig } from '../../src/api/types';
import { run } from '../../src/common/exec';
import { cgroupDir, CgroupVersion, detectCgroupVersion } from '../../src/container/cgroups';
import { buildSpec, specToJSON } from '../../src/container/spec';
import { resolveUser } from '../../src/container/user';

const RUNC = '/usr/sbin/runc';
const BUSYBOX = '/bin/busybox';
const canRun = process.getuid?.() === 0 && existsSync(RUNC) && existsSync(BUSYBOX);
/** CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP */
const DOCKER_DEFAULT_CAPEFF = '00000000a80425fb';
const CGROUP_PARENT = '/berth-spec-test';
const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc', 'systemd', 'unified'];

describe('runc runs a built spec', { skip: canRun ? false : 'needs root, runc and busybox-static' }, () => {
  let tmp: string;
  let rootfs: string;
  let stateRoot: string;
  let version: CgroupVersion;
  const started: string[] = [];

  before(() => {
    version = detectCgroupVersion();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'berth-spec-runc-'));
    rootfs = path.join(tmp, 'rootfs');
    stateRoot = path.join(tmp, 'runc-state');
    for (const d of ['bin', 'etc', 'tmp']) mkdirSync(path.join(rootfs, d), { recursive: true });
    copyFileSync(BUSYBOX, path.join(rootfs, 'bin/busybox'));
    for (const applet of ['sh', 'echo', 'cat', 'grep', 'id']) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
    writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n');
    writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
    writeFileSync(path.join(tmp, 'hosts'), '127.0.0.1\tlocalhost\n');
    writeFileSync(path.join(tmp, 'hostname'), 'spectest\n');
    writeFileSync(path.join(tmp, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  });

  after(async () => {
    for (const id of started) {
      await run(RUNC, ['--root', stateRoot, 'delete', '--force', id]).catch(() => undefined);
      // runc delete removes the cgroup; make sure of it, then remove our parent group (on a
      // hybrid v1 host runc also makes one under the unified mount)
      for (const controller of version === 'v2' ? ['unified'] : V1_CONTROLLERS) {
        for (const dir of [cgroupDir(controller, `${CGROUP_PARENT}/${id}`, version), cgroupDir(controller, CGROUP_PARENT, version)]) {
          try {
            rmdirSync(dir);
          } catch {
            // absent, or not ours to remove
          }
        }
      }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function runContainer(script: string, hostConfig: HostConfig = {}, config: ContainerConfig = {}): Promise<string> {
    const id = `berth-spec-${process.pid}-${started.length}`;
    started.push(id);
    const bundle = path.join(tmp, id);
    mkdirSync(bundle);
    const merged: ContainerConfig = { Cmd: ['/bin/sh', '-c', script], Hostname: 'spectest', ...config };
    const spec = buildSpec({
      id,
      config: merged,
      hostConfig,
      rootfs,
      user: await resolveUser(rootfs, merged.User),
      etcFiles: { hosts: path.join(tmp, 'hosts'), hostname: path.join(tmp, 'hostname'), resolvConf: path.join(tmp, 'resolv.conf') },
      netns: 'new',
      cgroupsPath: `${CGROUP_PARENT}/${id}`,
      cgroupVersion: version,
      terminal: false,
    });
    writeFileSync(path.join(bundle, 'config.json'), specToJSON(spec));
    const { stdout } = await run(RUNC, ['--root', stateRoot, 'run', '--bundle', bundle, id], { timeoutMs: 30_000 });
    return stdout;
  }

  it('echoes with Docker\'s capabilities, seccomp filter and no network', async () => {
    const out = await runContainer('echo hi; grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs):" /proc/self/status; cat /proc/net/dev | grep -c :; hostname');
    const lines = out.split('\n');
    assert.equal(lines[0], 'hi');
    assert.match(out, new RegExp(`CapEff:\\s+${DOCKER_DEFAULT_CAPEFF}`));
    assert.match(out, new RegExp(`CapBnd:\\s+${DOCKER_DEFAULT_CAPEFF}`));
    assert.match(out, /Seccomp:\s+2/);
    assert.match(out, /NoNewPrivs:\s+0/);
    assert.match(out, /^1$/m, 'only the loopback interface in a new network namespace');
    assert.match(out, /^spectest$/m);
  });

  it('applies limits, no-new-privileges, a non-root user and a read-only root', async () => {
    const memFile = version === 'v2' ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const pidsFile = version === 'v2' ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max';
    const out = await runContainer(
      `id -u; grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; cat ${memFile} ${pidsFile}; ulimit -n; echo x > /tmp/f 2>/dev/null && echo writable || echo readonly`,
      { Memory: 64 * 1024 * 1024, PidsLimit: 64, SecurityOpt: ['no-new-privileges'], ReadonlyRootfs: true, Ulimits: [{ Name: 'nofile', Soft: 1000, Hard: 2000 }] },
      { User: 'user' },
    );
    const lines = out.trim().split('\n');
    assert.equal(lines[0], '1000');
    assert.match(out, /CapEff:\s+0000000000000000/);
    assert.match(out, /NoNewPrivs:\s+1/);
    assert.ok(lines.includes('67108864'), out);
    assert.ok(lines.includes('64'), out);
    assert.ok(lines.includes('1000'), out);
    assert.equal(lines.at(-1), 'readonly');
  });

  it('runs privileged without a filter and with every available capability', async () => {
    const out = await runContainer('grep -E "^(CapEff|Seccomp):" /proc/self/status', { Privileged: true });
    assert.match(out, /Seccomp:\s+0/);
    const capEff = /CapEff:\s+([0-9a-f]+)/.exec(out)?.[1];
    const own = /CapBnd:\s+([0-9a-f]+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))?.[1];
    assert.equal(capEff, own);
  });
});
