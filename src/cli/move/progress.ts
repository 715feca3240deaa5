import { humanSize } from '../../common/units';

/**
 * What a move shows while it runs: one line per step, and on a terminal the bytes and the
 * rate of the step under way, redrawn in place at most 10 times a second.
 */
export class MoveProgress {
  private label = '';
  private bytes = 0;
  private began = 0;
  private drawnAt = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly terminal: boolean,
  ) {}

  /** A step with no data to count ("Stopping web"). */
  say(line: string): void {
    this.write(`${line}\n`);
  }

  /** Starts a step that moves bytes; `add` counts them as they pass. */
  begin(label: string): void {
    this.label = label;
    this.bytes = 0;
    this.began = Date.now();
    this.drawnAt = 0;
    if (this.terminal) this.write(`${label} ...`);
  }

  add(n: number): void {
    this.bytes += n;
    const now = Date.now();
    if (this.terminal && now - this.drawnAt >= 100) {
      this.drawnAt = now;
      this.write(`\r\x1b[2K${this.label}: ${this.figures(now)}`);
    }
  }

  /** Ends the step: its total, how long it took and the rate. */
  end(): { bytes: number; ms: number } {
    const now = Date.now();
    const line = `${this.label}: ${this.figures(now)}`;
    this.write(this.terminal ? `\r\x1b[2K${line}\n` : `${line}\n`);
    return { bytes: this.bytes, ms: now - this.began };
  }

  private figures(now: number): string {
    const secs = Math.max(0.001, (now - this.began) / 1000);
    return `${humanSize(this.bytes)} in ${secs.toFixed(1)}s (${humanSize(this.bytes / secs)}/s)`;
  }
}
