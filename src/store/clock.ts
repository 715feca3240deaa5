import { readFileSync } from 'node:fs';

/**
 * Where the store gets the time. Subscriptions lapse by it, so tests move it: with
 * BERTH_STORE_CLOCK_FILE set, the time is read from that file (RFC 3339) at every call, and
 * the real time is used while the file is missing or empty.
 */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export function fileClock(file: string): Clock {
  return () => {
    let text = '';
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      // no file: real time
    }
    if (!text) return new Date();
    const t = new Date(text);
    if (Number.isNaN(t.getTime())) throw new Error(`${file}: not a time: ${text}`);
    return t;
  };
}
