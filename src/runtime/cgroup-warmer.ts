import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CGROUP_ROOT, cgroupDir, type CgroupVersion } from '../container/cgroups';

/** The idle process the warmer moves: dist/native/berth-idle (src/native/berth-idle.c). */
const IDLE = path.join(__dirname, '..', '..', 'native', 'berth-idle');

/** How long one warming lasts, and how often it moves its process meanwhile. */
const WARM_MS = 60;
const MOVE_EVERY_MS = 5;

/**
 * Hides a kernel wait from container creates and execs. The OCI runtime moves every new
 * container process (and every exec) into its cgroups by writing to cgroup.procs, which takes
 * the kernel's cgroup_threadgroup_rwsem for writing. After a pause, the first such write waits
 * for an RCU grace period (the lock's readers, every fork and exit, are on a fast path that
 * only a grace period can switch off); writes that follow within a grace period do not wait.
 * Measured here (bench/cgroup-join.ts): 7-8 ms after 100 ms without a move, 0.1 ms right after
 * another, out of a `run --rm` of about 60 ms.
 *
 * So when a create or an exec begins, berthd moves a process of its own (berth-idle, which
 * does nothing and ends with berthd) between two empty cgroups, every few ms for a moment: the
 * first move pays the grace period while the daemon and the runtime still have other work, and
 * the runtime's own move, a few ms later, finds the lock already on its slow path. What it
 * costs: a few writes of a pid, and a short window in which the host's forks and exits take
 * the lock's slower path. BERTH_CGROUP_WARM=0 turns it off.
 */
export class CgroupWarmer {
  private until = 0;
  private timer?: NodeJS.Timeout;
  private moving = false;
  private next = 0;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly dirs: [string, string],
  ) {}

  /** Starts the warmer under the daemon's cgroup parent; undefined where it cannot run (no helper, no cgroup). */
  static async start(cgroupParent: string, version: CgroupVersion, log: (m: string) => void): Promise<CgroupWarmer | undefined> {
    if (process.env.BERTH_CGROUP_WARM === '0' || !existsSync(IDLE)) return undefined;
    const parent = cgroupParent.replace(/^\/+|\/+$/g, '') || 'berth';
    // one hierarchy is enough: the lock is the kernel's, for all of them
    const controller = version === 'v2' ? '' : ['pids', 'cpu', 'memory'].find((c) => existsSync(path.join(CGROUP_ROOT, c, 'cgroup.procs')));
    if (controller === undefined) return undefined;
    const dirs = ['a', 'b'].map((x) => cgroupDir(controller, `/${parent}/berth-warm-${x}`, version)) as [string, string];
    let proc: ChildProcess | undefined;
    try {
      for (const d of dirs) await fsp.mkdir(d, { recursive: true });
      proc = spawn(IDLE, [], { stdio: 'ignore' });
      const started = proc;
      await new Promise<void>((resolve, reject) => {
        started.once('spawn', resolve);
        started.once('error', reject);
      });
      started.unref();
      await fsp.writeFile(path.join(dirs[0], 'cgroup.procs'), String(started.pid));
      return new CgroupWarmer(started, dirs);
    } catch (e) {
      log(`cgroup warmer off: ${(e as Error).message}`);
      proc?.kill('SIGKILL');
      for (const d of dirs) await fsp.rmdir(d).catch(() => undefined);
      return undefined;
    }
  }

  /** A create or an exec begins: keeps the lock warm for the next moment. */
  warm(): void {
    this.until = Date.now() + WARM_MS;
    if (!this.timer && !this.moving) this.move();
  }

  /** One move, then the next one shortly if the window lasts; never two at once. */
  private move(): void {
    this.moving = true;
    this.next ^= 1;
    void fsp
      .writeFile(path.join(this.dirs[this.next], 'cgroup.procs'), String(this.proc.pid))
      .catch(() => undefined)
      .finally(() => {
        this.moving = false;
        if (Date.now() >= this.until) return;
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.move();
        }, MOVE_EVERY_MS);
        this.timer.unref();
      });
  }

  async stop(): Promise<void> {
    this.until = 0;
    if (this.timer) clearTimeout(this.timer);
    // referenced again while its exit is awaited: a daemon whose other handles are all closed
    // would otherwise end right here, before the rmdir, leaving both cgroups behind
    this.proc.ref();
    this.proc.kill('SIGKILL');
    if (this.proc.exitCode === null && this.proc.signalCode === null) await new Promise((r) => this.proc.once('exit', r));
    for (const d of this.dirs) await removeCgroupDir(d);
  }
}

/** rmdir of an emptied cgroup; the kernel may say EBUSY for a moment after its last process went. */
async function removeCgroupDir(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await fsp.rmdir(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
