/**
 * Docker's restart policies as pure decisions, so the rules can be tested without
 * containers: whether an exit brings the container back, how long to wait first, and
 * which stopped containers a starting daemon brings back.
 */
import type { RestartPolicy } from '../api/types';
import { ZERO_TIME, type ContainerRecord } from './model';

/** The first wait; each further restart doubles it. */
export const FIRST_BACKOFF_MS = 100;
/** Waits never grow past a minute. */
export const MAX_BACKOFF_MS = 60_000;
/** A run this long proves the container healthy enough to start the backoff over. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

export type PolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export function policyName(p: RestartPolicy | undefined): PolicyName {
  const n = p?.Name ?? '';
  return n === 'always' || n === 'unless-stopped' || n === 'on-failure' ? n : 'no';
}

/**
 * Whether a container that just exited is started again. A stop or kill by the user
 * always wins; `on-failure:N` allows N restarts (so N+1 runs in all).
 */
export function restartsAfterExit(policy: RestartPolicy | undefined, exitCode: number, manuallyStopped: boolean, restartCount: number): boolean {
  if (manuallyStopped) return false;
  switch (policyName(policy)) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure': {
      const max = policy?.MaximumRetryCount ?? 0;
      return exitCode !== 0 && (max === 0 || restartCount < max);
    }
    default:
      return false;
  }
}

/** The wait before the next restart, given the previous wait (0 for none) and how long the run lasted. */
export function nextBackoff(previousMs: number, ranForMs: number): number {
  if (ranForMs >= BACKOFF_RESET_AFTER_MS || previousMs <= 0) return FIRST_BACKOFF_MS;
  return Math.min(previousMs * 2, MAX_BACKOFF_MS);
}

/**
 * Whether a starting daemon starts a container that is not running. `always` comes back
 * even after a manual stop (Docker's rule: only the daemon's restart or the user brings it
 * back), `unless-stopped` only if nobody stopped it, `on-failure` after a failed exit with
 * retries left that nobody caused by stopping it. A container that never ran stays created; one that was waiting for its
 * next restart when the daemon went down is started whatever its policy. One being moved
 * to another daemon never is.
 */
export function startsWithDaemon(rec: ContainerRecord): boolean {
  // a container on its way to another daemon may run there already (see MovingOut)
  if (rec.MovingOut) return false;
  if (rec.State.Restarting) return true;
  if (rec.State.Running || rec.State.StartedAt === ZERO_TIME || rec.State.Status === 'removing') return false;
  const policy = rec.HostConfig.RestartPolicy;
  switch (policyName(policy)) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !rec.ManuallyStopped;
    case 'on-failure':
      return restartsAfterExit(policy, rec.State.ExitCode, rec.ManuallyStopped === true, rec.RestartCount);
    default:
      return false;
  }
}
