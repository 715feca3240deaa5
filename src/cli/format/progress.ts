/**
 * Displays the JSON message streams of pull, push and import as docker's
 * jsonmessage package does: "id: status" lines; on a terminal each id keeps its
 * own line, redrawn in place with its progress bar; elsewhere progress updates
 * are skipped. An `error`/`errorDetail` message ends the display with an error.
 */
export interface JsonMessage {
  id?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: unknown;
}

/** An error reported inside a JSON message stream. */
export class StreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamError';
  }
}

export class ProgressDisplay {
  private readonly ids: string[] = [];

  constructor(
    private readonly out: { write(s: string): unknown },
    private readonly terminal: boolean,
  ) {}

  /** Shows one message; throws StreamError for an error message. */
  show(m: JsonMessage): void {
    if (m.errorDetail || m.error) throw new StreamError(m.errorDetail?.message || m.error || 'unknown error');
    const hasProgress = !!m.progress;
    if (!this.terminal && hasProgress) return;
    if (m.stream !== undefined && !m.id) {
      this.out.write(m.stream);
      return;
    }
    if (m.status === undefined && !m.id) return;
    const text = (m.id ? `${m.id}: ` : '') + (m.status ?? '') + (this.terminal && hasProgress ? ` ${m.progress}` : '');
    if (!this.terminal || !m.id) {
      this.out.write(text + '\n');
      return;
    }
    const index = this.ids.indexOf(m.id);
    if (index < 0) {
      this.ids.push(m.id);
      this.out.write(text + '\n');
      return;
    }
    // Move up to the id's line, rewrite it, come back down.
    const up = this.ids.length - index;
    this.out.write(`\x1b[${up}A\r\x1b[2K${text}\x1b[${up}B\r`);
  }
}
