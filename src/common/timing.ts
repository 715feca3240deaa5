/**
 * Timed spans for the daemon's --debug log, read back by bench/latency.ts. Off (the default)
 * a span is one shared function that does nothing: no clock read, no string, no allocation.
 *
 * A line reads `span NAME ID at=EPOCH_MS dur=MS`, and for API calls
 * `api METHOD PATH STATUS at=EPOCH_MS dur=MS`; EPOCH_MS is the start, in milliseconds since
 * 1970 with microseconds, so a bench can place it against its own clock.
 */
import { performance } from 'node:perf_hooks';

/** Ends a span; the optional text is appended to its line. */
export type EndSpan = (note?: string) => void;

const NOOP: EndSpan = () => undefined;
const NOOP_CALL = (_status: number): void => undefined;
let sink: ((line: string) => void) | undefined;

/** Turns spans on, writing each finished one through `log` (the daemon's --debug log). */
export function enableSpans(log: (line: string) => void): void {
  sink = log;
}

export function spansEnabled(): boolean {
  return sink !== undefined;
}

const now = (): number => performance.timeOrigin + performance.now();

/** Starts a span named `name` for the container or exec `id`; call the result when it ends. */
export function span(name: string, id: string): EndSpan {
  if (!sink) return NOOP;
  const t0 = now();
  return (note) => sink?.(`span ${name} ${id.slice(0, 12)} at=${t0.toFixed(3)} dur=${(now() - t0).toFixed(3)}${note ? ` ${note}` : ''}`);
}

/** Times `fn` as a span. */
export async function timed<T>(name: string, id: string, fn: () => Promise<T>): Promise<T> {
  if (!sink) return fn();
  const end = span(name, id);
  try {
    return await fn();
  } finally {
    end();
  }
}

/** Starts the timing of one API call; call the result with its status when it is answered. */
export function apiCall(method: string, urlPath: string): (status: number) => void {
  if (!sink) return NOOP_CALL;
  const t0 = now();
  return (status) => sink?.(`api ${method} ${urlPath} ${status} at=${t0.toFixed(3)} dur=${(now() - t0).toFixed(3)}`);
}
