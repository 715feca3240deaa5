/**
 * One event stream per page load: GET /events, opened once and shared by every view, which
 * subscribes to what it shows and refreshes from the Engine API when something changes.
 */
import { useEffect, useRef } from 'preact/hooks';
import { jsonLines, readStream } from './api';

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  time: number;
  timeNano: number;
}

type Listener = (e: EngineEvent) => void;
const listeners = new Set<Listener>();
/** the latest events, newest last, for the events page */
export const recentEvents: EngineEvent[] = [];
let started = false;

export function startEventStream(): void {
  if (started) return;
  started = true;
  const since = Math.floor(Date.now() / 1000) - 300;
  const run = async (from: number) => {
    let last = from;
    try {
      await readStream(
        `/events?since=${from}`,
        new AbortController().signal,
        jsonLines<EngineEvent>((e) => {
          last = e.time;
          recentEvents.push(e);
          if (recentEvents.length > 500) recentEvents.splice(0, recentEvents.length - 500);
          for (const l of listeners) l(e);
        }),
      );
    } catch {
      /* the daemon went away: try again below */
    }
    setTimeout(() => void run(last + 1), 2000);
  };
  void run(since);
}

/**
 * Calls `onEvent` for every engine event of the given types (and that `accept` takes) while
 * the component is shown. With `delayMs`, a burst of events makes one call, that long after
 * the last of them (a page reloading its list); a call still waiting goes with the page.
 */
export function useEvents(types: string[] | undefined, onEvent: Listener, opts: { delayMs?: number; accept?: (e: EngineEvent) => boolean } = {}): void {
  // the listener calls the newest callback: a page shown for another container keeps one
  // subscription, but reacts with what it renders now
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => {
    let waiting: ReturnType<typeof setTimeout> | undefined;
    const l: Listener = (e) => {
      if ((types && !types.includes(e.Type)) || (opts.accept && !opts.accept(e))) return;
      if (!opts.delayMs) return latest.current(e);
      clearTimeout(waiting);
      waiting = setTimeout(() => latest.current(e), opts.delayMs);
    };
    listeners.add(l);
    return () => {
      listeners.delete(l);
      clearTimeout(waiting);
    };
  }, []);
}
