import { throwIfCancelled } from './run-step';

/**
 * Where long file work (hashing or copying thousands of files, a file of gigabytes) lets
 * the daemon breathe and notices a cancelled build. The file calls are synchronous and
 * chained through promises that are already settled, which never give the event loop a
 * turn: without one, the close of the client's connection is seen only once the COPY has
 * finished. `tick()` yields to the event loop when the work has held it for a while
 * (so a small COPY pays nothing), then stops the work if the build was cancelled.
 */
export type Tick = () => Promise<void>;

/** How long work may hold the event loop before it yields: a client's close is seen within about this. */
const SLICE_MS = 20;

export function checkpoint(signal: AbortSignal | undefined): Tick {
  let since = performance.now();
  return async () => {
    if (performance.now() - since >= SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      since = performance.now();
    }
    throwIfCancelled(signal);
  };
}

/** For work that is never cancelled (tests, one-off reads). */
export const noTick: Tick = async () => undefined;
