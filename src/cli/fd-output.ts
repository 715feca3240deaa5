import { writeSync } from 'node:fs';

/**
 * The CLI's stdout or stderr, written straight to its file descriptor until a command asks
 * for the stream itself (to pipe into it, or to ask for its terminal size). Why: making
 * process.stdout loads Node's whole stream machinery, which costs a compiled `berth ps` or
 * `berth --version` about 4 ms of its ~10; most commands only print text.
 *
 * A write is synchronous, as Node's own writes to files and pipes are; on a descriptor left
 * non-blocking by another program (EAGAIN), the rest goes through the stream, and so does
 * everything after it, so the order holds.
 */
export class FdOutput {
  private stream?: NodeJS.WriteStream;

  constructor(
    private readonly fd: 1 | 2,
    private readonly open: () => NodeJS.WriteStream,
  ) {}

  /** The stream; from now on every write goes through it. */
  get streamed(): NodeJS.WriteStream {
    if (!this.stream) {
      this.stream = this.open();
      // a reader that goes away (berth logs | head) is not an error of ours, written either way
      if (this.fd === 1) {
        this.stream.on('error', (e: NodeJS.ErrnoException) => {
          if (readerGone(e.code)) process.exit(0);
        });
      }
    }
    return this.stream;
  }

  /** Whether the stream was made (it then needs ending before the process exits). */
  get opened(): NodeJS.WriteStream | undefined {
    return this.stream;
  }

  write(data: string | Uint8Array): void {
    if (this.stream) {
      this.stream.write(data);
      return;
    }
    let left: Uint8Array = typeof data === 'string' ? Buffer.from(data) : data;
    while (left.length > 0) {
      try {
        left = left.subarray(writeSync(this.fd, left));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // a reader that went away (berth ps | head) is not an error of ours
        if (readerGone(code)) {
          if (this.fd === 1) process.exit(0);
          return;
        }
        if (code !== 'EAGAIN') throw e;
        this.streamed.write(left);
        return;
      }
    }
  }
}

/**
 * The reader of our output went away: EPIPE through a pipe, ECONNRESET through a socket (the
 * stdout a parent process gives through a socketpair, as Node's child_process does) that
 * closed with output unread.
 */
function readerGone(code: string | undefined): boolean {
  return code === 'EPIPE' || code === 'ECONNRESET';
}
