import { createReadStream, promises as fsp, watch, type FSWatcher } from 'node:fs';
import { isErrno } from '../common/errors';

/**
 * Container logs as conmon writes them (the CRI "k8s-file" format), one record a line:
 * `2026-01-02T03:04:05.123456789+00:00 stdout F text`. `F` ends a line, `P` is a part of a
 * longer line (or output with no newline) that the next records continue.
 */
export interface LogRecord {
  /** RFC 3339 with nanoseconds, in UTC ("...Z"), as Docker prints with --timestamps */
  time: string;
  /** seconds since the epoch, with fractions, for --since/--until */
  seconds: number;
  stream: 'stdout' | 'stderr';
  /** the bytes the container wrote, with the newline restored for full lines */
  data: Buffer;
}

export function parseLogLine(line: Buffer): LogRecord | undefined {
  const sp1 = line.indexOf(0x20);
  const sp2 = sp1 < 0 ? -1 : line.indexOf(0x20, sp1 + 1);
  const sp3 = sp2 < 0 ? -1 : line.indexOf(0x20, sp2 + 1);
  if (sp3 < 0 && !(sp2 > 0 && line.length === sp2 + 2)) return undefined;
  const rawTime = line.subarray(0, sp1).toString();
  const stream = line.subarray(sp1 + 1, sp2).toString();
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.subarray(sp2 + 1, sp3 < 0 ? line.length : sp3).toString();
  const content = sp3 < 0 ? Buffer.alloc(0) : line.subarray(sp3 + 1);
  const full = tag === 'F' || tag.split(':').includes('F');
  const { iso, seconds } = normalizeTime(rawTime);
  return { time: iso, seconds, stream, data: full ? Buffer.concat([content, Buffer.from('\n')]) : Buffer.from(content) };
}

// Consecutive records share their whole second: its parse is kept for the next record.
let lastSecond = { key: '', whole: 0, utc: '' };

function normalizeTime(raw: string): { iso: string; seconds: number } {
  // conmon's own layout, "2026-01-02T03:04:05.123456789+00:00", without a regular expression
  if (raw.length > 26 && raw[19] === '.' && (raw[raw.length - 6] === '+' || raw[raw.length - 6] === '-') && raw.slice(0, 19) + raw.slice(-6) === lastSecond.key) {
    const frac = raw.slice(20, -6).padEnd(9, '0').slice(0, 9);
    return { iso: `${lastSecond.utc}.${frac}Z`, seconds: lastSecond.whole + Number(`0.${frac}`) };
  }
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(raw);
  if (!m) return { iso: raw, seconds: Date.parse(raw) / 1000 || 0 };
  const key = m[1] + m[3];
  if (key !== lastSecond.key) {
    const whole = Date.parse(`${m[1]}${m[3]}`) / 1000;
    lastSecond = { key, whole, utc: new Date(whole * 1000).toISOString().slice(0, 19) };
  }
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return { iso: `${lastSecond.utc}.${frac}Z`, seconds: lastSecond.whole + Number(`0.${frac}`) };
}

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  since?: number;
  until?: number;
  /** number of records at the end of the log; undefined for all */
  tail?: number;
  follow: boolean;
  /** true while the container may still write */
  isRunning: () => boolean;
  /** resolves when the container stops (follow ends after the rest is read) */
  stopped: Promise<void>;
  /** resolves when the client went away */
  aborted: Promise<void>;
  /** byte offset to start reading at: attach streams only what comes after it */
  startOffset?: number;
}

/** Reads a container's log one record at a time (see readLogBatches). */
export async function* readLogs(file: string, o: LogReadOptions): AsyncGenerator<LogRecord> {
  for await (const batch of readLogBatches(file, o)) yield* batch;
}

/**
 * Reads a container's log, optionally following it until the container stops or the client
 * leaves. Records come in batches (one per chunk read from the file), so a large log costs
 * one await per 64 KiB rather than one per line.
 */
export async function* readLogBatches(file: string, o: LogReadOptions): AsyncGenerator<LogRecord[]> {
  const wanted = (r: LogRecord) =>
    (r.stream === 'stdout' ? o.stdout : o.stderr) && (o.since === undefined || r.seconds >= o.since) && (o.until === undefined || r.seconds < o.until);
  let offset = o.startOffset ?? 0;
  let pending: Buffer = Buffer.alloc(0);
  const readFrom = async function* (): AsyncGenerator<LogRecord[]> {
    let size: number;
    try {
      size = (await fsp.stat(file)).size;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    if (size < offset) offset = 0; // rotated or truncated
    if (size === offset) return;
    const stream = createReadStream(file, { start: offset, end: size - 1 });
    for await (const chunk of stream) {
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      const batch: LogRecord[] = [];
      let start = 0;
      let nl: number;
      while ((nl = pending.indexOf(0x0a, start)) >= 0) {
        const rec = parseLogLine(pending.subarray(start, nl));
        start = nl + 1;
        if (rec && wanted(rec)) batch.push(rec);
      }
      pending = pending.subarray(start);
      if (batch.length) yield batch;
    }
    offset = size;
  };

  if (o.tail !== undefined && o.tail >= 0) {
    const all: LogRecord[] = [];
    for await (const b of readFrom()) for (const r of b) all.push(r);
    if (o.tail > 0) yield all.slice(-o.tail);
  } else {
    yield* readFrom();
  }
  if (!o.follow) return;

  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(file, () => wake?.());
  } catch {
    watcher = undefined;
  }
  let done = false;
  let left = false;
  void o.stopped.then(() => {
    done = true;
    wake?.();
  });
  void o.aborted.then(() => {
    left = true;
    wake?.();
  });
  try {
    while (!left) {
      yield* readFrom();
      if (done || !o.isRunning()) {
        // conmon has drained the container's output by the time the exit is recorded
        yield* readFrom();
        return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        // inotify can miss a write on some filesystems; poll as a backstop
        setTimeout(resolve, 500).unref();
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}
