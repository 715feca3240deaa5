import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import { isErrno } from '../common/errors';
import { reopenLog } from '../runtime/console';
import type { LogLimits } from './log-options';

/** How often a log is looked at besides its change notices (inotify can miss some). */
const BACKSTOP_MS = 1000;

/**
 * Rotates the logs of running containers, as Docker's file drivers do with max-size and
 * max-file: once `container.log` reaches max-size it becomes `container.log.1` (the older
 * ones move up one, the oldest beyond max-file go) and conmon is told through its `ctl` FIFO
 * to reopen the log, which makes a new file in its place.
 *
 * conmon's own `--log-size-max` truncates (the full file is replaced by an empty one), so the
 * rotation is done here. Until conmon has reopened, it goes on writing into the renamed file:
 * nothing is lost, and a file may end a little past max-size. Readers (logs.ts) read the
 * rotated files in order and a follower moves on to the new file.
 */
export class LogRotation {
  private readonly watched = new Map<string, RotatingLog>();

  constructor(private readonly log: (msg: string) => void) {}

  /** Starts keeping a container's log within its limits (no limit: nothing to do). */
  watch(id: string, file: string, bundleDir: string, limits: LogLimits): void {
    this.unwatch(id);
    if (limits.maxSize <= 0) return;
    this.watched.set(id, new RotatingLog(file, bundleDir, limits, (msg) => this.log(`log of ${id.slice(0, 12)}: ${msg}`)));
  }

  unwatch(id: string): void {
    this.watched.get(id)?.close();
    this.watched.delete(id);
  }

  close(): void {
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
  }
}

class RotatingLog {
  private readonly watcher?: FSWatcher;
  private readonly timer: NodeJS.Timeout;
  private busy = false;
  private again = false;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly bundleDir: string,
    private readonly limits: LogLimits,
    private readonly log: (msg: string) => void,
  ) {
    const base = path.basename(file);
    try {
      // the folder, not the file: the file is replaced at each rotation
      this.watcher = watch(path.dirname(file), (_ev, name) => {
        if (!name || name === base) this.check();
      });
    } catch {
      this.watcher = undefined;
    }
    this.timer = setInterval(() => this.check(), BACKSTOP_MS);
    this.timer.unref();
    this.check();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.timer);
  }

  /** One look at a time; notices that come meanwhile make one more look. */
  private check(): void {
    if (this.closed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void (async () => {
      try {
        do {
          this.again = false;
          await this.rotateIfFull();
        } while (this.again && !this.closed);
      } catch (e) {
        this.log(`rotation failed: ${(e as Error).message}`);
      } finally {
        this.busy = false;
      }
    })();
  }

  private async rotateIfFull(): Promise<void> {
    let size: number;
    try {
      size = (await fsp.stat(this.file)).size;
    } catch (e) {
      // renamed, and conmon has not made the new file yet
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    // conmon has reopened since the last rotation: the file renamed then is complete
    await this.prune(this.limits.maxFiles - 1);
    if (size < this.limits.maxSize || this.closed) return;
    const rotated = await this.rotatedIndexes();
    for (const n of rotated.sort((a, b) => b - a)) await fsp.rename(`${this.file}.${n}`, `${this.file}.${n + 1}`);
    await fsp.rename(this.file, `${this.file}.1`);
    // with max-file=1 the renamed file goes once conmon has let go of it (prune above, next time)
    await this.prune(Math.max(1, this.limits.maxFiles - 1));
    await reopenLog(this.bundleDir);
  }

  private async rotatedIndexes(): Promise<number[]> {
    const base = path.basename(this.file);
    const names = await fsp.readdir(path.dirname(this.file));
    return names
      .filter((n) => n.startsWith(`${base}.`) && /^\d+$/.test(n.slice(base.length + 1)))
      .map((n) => Number(n.slice(base.length + 1)));
  }

  /** Removes the rotated files past `keep`. */
  private async prune(keep: number): Promise<void> {
    for (const n of await this.rotatedIndexes()) if (n > keep) await fsp.rm(`${this.file}.${n}`, { force: true });
  }
}
