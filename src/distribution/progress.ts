/**
 * Docker's JSON progress messages for pull and push: one object per line, `id` naming a
 * layer by its short digest, `progressDetail` with bytes done and total, `progress` the bar
 * as text. Byte progress is sent at most every 100 ms per layer, so a fast pull does not
 * spend its time writing bars.
 */
import { humanSize } from '../common/units';

export type SendMessage = (msg: Record<string, unknown>) => void;

const BAR_WIDTH = 50;
const INTERVAL_MS = 100;

export function progressBar(current: number, total: number): string {
  const sizes = `${humanSize(current)}/${humanSize(total)}`;
  if (total <= 0) return `  ${humanSize(current)}`;
  const filled = Math.min(BAR_WIDTH, Math.floor((current / total) * BAR_WIDTH));
  const bar = filled >= BAR_WIDTH ? '='.repeat(BAR_WIDTH) : `${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled - 1)}`;
  return `[${bar}]  ${sizes}`;
}

export class ProgressReporter {
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly send: SendMessage) {}

  message(status: string, id?: string): void {
    this.send(id ? { status, id } : { status });
  }

  layer(id: string, status: string): void {
    this.lastSent.delete(id);
    this.send({ status, progressDetail: {}, id });
  }

  bytes(id: string, status: string, current: number, total: number): void {
    const now = Date.now();
    if (current < total && now - (this.lastSent.get(id) ?? 0) < INTERVAL_MS) return;
    this.lastSent.set(id, now);
    this.send({ status, progressDetail: { current, total }, progress: progressBar(current, total), id });
  }

  aux(value: unknown): void {
    this.send({ progressDetail: {}, aux: value });
  }
}

/** The short form of a digest Docker shows as a layer's id. */
export const shortDigest = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);
