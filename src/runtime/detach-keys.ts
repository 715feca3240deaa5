import { invalid } from '../common/errors';

/**
 * Docker's detach keys: a comma-separated list such as "ctrl-p,ctrl-q" or "ctrl-x,x". The
 * daemon watches the client's input for the sequence; a partial match is held back and
 * sent on when the next byte does not continue it.
 */
export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const raw of spec.split(',')) {
    const key = raw.trim().toLowerCase();
    if (key.length === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-(.)$/.exec(key);
    if (!m) throw invalid(`Invalid detach keys (${spec}) provided`);
    const c = m[1];
    if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c === '@') out.push(0);
    else if (c === '[') out.push(27);
    else if (c === '\\') out.push(28);
    else if (c === ']') out.push(29);
    else if (c === '^') out.push(30);
    else if (c === '_') out.push(31);
    else throw invalid(`Invalid detach keys (${spec}) provided`);
  }
  if (out.length === 0) throw invalid(`Invalid detach keys (${spec}) provided`);
  return Buffer.from(out);
}

/** Filters input: returns what to forward, and whether the detach sequence was typed. */
export class DetachKeyFilter {
  private matched = 0;
  constructor(private readonly keys: Buffer) {}

  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return { forward: Buffer.from(out), detached: true };
        continue;
      }
      // a partial match that did not continue: what was held back goes through
      for (let i = 0; i < this.matched; i++) out.push(this.keys[i]);
      this.matched = byte === this.keys[0] ? 1 : 0;
      if (this.matched === 0) out.push(byte);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}
