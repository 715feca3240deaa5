/**
 * Docker's detach keys, shared by the daemon (which watches an attached client's input, as
 * dockerd does) and the CLI (which watches the terminal): a comma-separated list such as
 * "ctrl-p,ctrl-q" or "ctrl-x,x".
 */

/** The bytes of a key sequence, or undefined when the spec is not one. */
export function parseKeySequence(spec: string): Buffer | undefined {
  const out: number[] = [];
  for (const raw of spec.split(',')) {
    const key = raw.trim().toLowerCase();
    if (key.length === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(key);
    if (!m) return undefined;
    const c = m[1];
    out.push(c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c]!);
  }
  return out.length ? Buffer.from(out) : undefined;
}

/**
 * Watches input for the sequence. A partial match is held back and passed on when the next
 * byte does not continue it.
 */
export class KeySequenceDetector {
  private held: number[] = [];
  constructor(private readonly keys: Buffer) {}

  /** Returns the bytes to pass on, and whether the sequence was completed. */
  feed(chunk: Buffer): { pass: Buffer; escaped: boolean } {
    const pass: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.held.length]) {
        this.held.push(byte);
        if (this.held.length === this.keys.length) {
          this.held = [];
          return { pass: Buffer.from(pass), escaped: true };
        }
        continue;
      }
      // not the sequence after all: release what was held, then look at this byte afresh
      pass.push(...this.held);
      this.held = [];
      if (byte === this.keys[0]) {
        this.held.push(byte);
        if (this.keys.length === 1) return { pass: Buffer.from(pass), escaped: true };
      } else pass.push(byte);
    }
    return { pass: Buffer.from(pass), escaped: false };
  }
}
