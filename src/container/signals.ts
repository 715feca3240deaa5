import { constants } from 'node:os';
import { invalid } from '../common/errors';

/** Accepts Docker's signal spellings: "SIGTERM", "TERM", "term", "15". */
export function signalNumber(signal: string): number {
  const s = signal.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 64) throw invalid(`Invalid signal: ${signal}`);
    return n;
  }
  const upper = s.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) return 34 + Number(rt[1] ?? 0);
  const num = (constants.signals as Record<string, number>)[name];
  if (num === undefined) throw invalid(`Invalid signal: ${signal}`);
  return num;
}
