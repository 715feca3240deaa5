import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
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
}

const BLOCK = 64 * 1024;

/**
 * The files of a container's log, oldest first: the rotated ones (`container.log.N` …
 * `container.log.1`, see log-rotation.ts) and then the one conmon writes.
 */
export async function logFiles(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const rotated = names
    .map((n) => (n.startsWith(`${base}.`) && /^\d+$/.test(n.slice(base.length + 1)) ? Number(n.slice(base.length + 1)) : 0))
    .filter((n) => n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${file}.${n}`);
  return names.includes(base) ? [...rotated, file] : rotated;
}

/** A file of the log, open, with the size it had when the read began. */
interface OpenLog {
  fh: FileHandle;
  size: number;
}

async function openLog(file: string): Promise<OpenLog | undefined> {
  try {
    const fh = await fsp.open(file, 'r');
    return { fh, size: (await fh.stat()).size };
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

async function readAt(fh: FileHandle, at: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, at + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * The complete lines of `[0, end)` from last to first, with the offset each starts at, read in
 * blocks from the end: `--tail N` costs the N lines, not the file. Bytes after the last
 * newline (a record conmon has not finished) are not a line yet.
 */
export async function* linesBackward(fh: FileHandle, end: number): AsyncGenerator<{ at: number; line: Buffer }> {
  let pos = end;
  let head: Buffer = Buffer.alloc(0); // the part of a line found so far whose start lies further back
  let trimmed = false;
  while (pos > 0) {
    const start = Math.max(0, pos - BLOCK);
    const block = await readAt(fh, start, pos - start);
    let data = head.length ? Buffer.concat([block, head]) : block;
    pos = start;
    if (!trimmed) {
      const nl = data.lastIndexOf(0x0a);
      if (nl < 0) continue;
      data = data.subarray(0, nl);
      trimmed = true;
    }
    let e = data.length;
    for (let p = e > 0 ? data.lastIndexOf(0x0a, e - 1) : -1; p >= 0; p = e > 0 ? data.lastIndexOf(0x0a, e - 1) : -1) {
      yield { at: start + p + 1, line: data.subarray(p + 1, e) };
      e = p;
    }
    head = Buffer.from(data.subarray(0, e));
  }
  if (trimmed && head.length) yield { at: 0, line: head };
}

/**
 * The offset of a line start at or before the first record at or after `since`, found by
 * bisecting the file on the records' times (they are written in order): `--since` costs a
 * few blocks, not the file before it.
 */
export async function seekSince(fh: FileHandle, size: number, since: number): Promise<number> {
  let lo = 0; // a line start whose record is before `since` (or the file's start)
  let hi = size; // a line start whose record is at or after `since` (or the end)
  while (hi - lo > BLOCK) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const block = await readAt(fh, mid, Math.min(BLOCK, hi - mid));
    const nl = block.indexOf(0x0a);
    const lineAt = mid + nl + 1;
    const lineEnd = nl < 0 ? -1 : block.indexOf(0x0a, nl + 1);
    if (nl < 0 || lineAt >= hi || lineEnd < 0) {
      // no whole line between mid and hi within a block: look in the lower half
      hi = mid;
      continue;
    }
    const rec = parseLogLine(block.subarray(nl + 1, lineEnd));
    if (rec && rec.seconds < since) lo = lineAt;
    else hi = lineAt;
  }
  // hi may have been narrowed to a point inside a line: start at the line start at or before lo
  return lo;
}

/** Where reading starts: a file of the log and an offset in it. */
interface Start {
  index: number;
  offset: number;
}

/**
 * Where the last `tail` wanted records begin, walking the files from the newest back, or the
 * start of the oldest file when they hold fewer.
 */
async function tailStart(files: OpenLog[], tail: number, wanted: (r: LogRecord) => boolean, since: number | undefined): Promise<Start> {
  let found = 0;
  for (let index = files.length - 1; index >= 0; index--) {
    for await (const { at, line } of linesBackward(files[index].fh, files[index].size)) {
      const rec = parseLogLine(line);
      if (!rec) continue;
      // everything further back is older still
      if (since !== undefined && rec.seconds < since) return { index, offset: at };
      if (wanted(rec) && ++found === tail) return { index, offset: at };
    }
  }
  return { index: 0, offset: 0 };
}

/** The time of a file's last record, read from its end. */
async function lastRecordTime(f: OpenLog): Promise<number | undefined> {
  for await (const { line } of linesBackward(f.fh, f.size)) {
    const rec = parseLogLine(line);
    if (rec) return rec.seconds;
  }
  return undefined;
}

/** The first file that reaches `since`, and where in it the records from `since` begin. */
async function sinceStart(files: OpenLog[], since: number): Promise<Start> {
  for (let index = 0; index < files.length; index++) {
    const last = await lastRecordTime(files[index]);
    if (last !== undefined && last >= since) return { index, offset: await seekSince(files[index].fh, files[index].size, since) };
  }
  return { index: files.length - 1, offset: files[files.length - 1]?.size ?? 0 };
}

/** Reads one file forward in blocks, a batch of records per block; the rest of a line waits. */
class ForwardReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    public fh: FileHandle,
    public offset: number,
  ) {}

  async *read(to: number): AsyncGenerator<LogRecord[]> {
    while (this.offset < to) {
      const chunk = await readAt(this.fh, this.offset, Math.min(BLOCK, to - this.offset));
      if (chunk.length === 0) return;
      this.offset += chunk.length;
      const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      const batch: LogRecord[] = [];
      let start = 0;
      let nl: number;
      while ((nl = data.indexOf(0x0a, start)) >= 0) {
        const rec = parseLogLine(data.subarray(start, nl));
        start = nl + 1;
        if (rec) batch.push(rec);
      }
      this.pending = Buffer.from(data.subarray(start));
      if (batch.length) yield batch;
    }
  }

  /** Up to the file's current end. */
  async *readAll(): AsyncGenerator<LogRecord[]> {
    yield* this.read((await this.fh.stat()).size);
  }
}

/** Reads a container's log one record at a time (see readLogBatches). */
export async function* readLogs(file: string, o: LogReadOptions): AsyncGenerator<LogRecord> {
  for await (const batch of readLogBatches(file, o)) yield* batch;
}

/**
 * Reads a container's log across its rotated files, optionally following it until the
 * container stops or the client leaves. `tail` is found from the end and `since` by bisection,
 * and reading stops at the first record past `until`: each costs what it returns. Records
 * come in batches, one per block read, so a large log costs one await per 64 KiB.
 */
export async function* readLogBatches(file: string, o: LogReadOptions): AsyncGenerator<LogRecord[]> {
  const inStreams = (r: LogRecord) => (r.stream === 'stdout' ? o.stdout : o.stderr);
  const wanted = (r: LogRecord) => inStreams(r) && (o.since === undefined || r.seconds >= o.since) && (o.until === undefined || r.seconds < o.until);
  if (o.tail === 0 && !o.follow) return;
  const names = await logFiles(file);
  const files: OpenLog[] = [];
  let current: ForwardReader | undefined;
  let kept: ForwardReader | undefined;
  let pastUntil = false;
  /** The wanted records of a batch; notes when the log has gone past `until`. */
  const select = (batch: LogRecord[]): LogRecord[] => {
    if (o.until !== undefined && batch.length && batch[batch.length - 1].seconds >= o.until) pastUntil = true;
    return batch.filter(wanted);
  };
  try {
    for (const f of names) {
      const opened = await openLog(f);
      // a rotation between the listing and the open: the follower finds the new file
      if (opened) files.push(opened);
    }
    const last = files.length - 1;
    let start: Start = { index: 0, offset: 0 };
    if (o.tail === 0) start = { index: last, offset: files[last]?.size ?? 0 };
    else if (o.tail !== undefined && o.tail > 0) start = await tailStart(files, o.tail, wanted, o.since);
    else if (o.since !== undefined) start = await sinceStart(files, o.since);
    for (let i = Math.max(0, start.index); i < files.length && !pastUntil; i++) {
      const reader = new ForwardReader(files[i].fh, i === start.index ? start.offset : 0);
      for await (const batch of reader.read(files[i].size)) {
        const out = select(batch);
        if (out.length) yield out;
        if (pastUntil) break;
      }
      if (i === last) current = reader;
    }
    // the follower takes the file conmon writes over; the rest close here
    if (o.follow && !pastUntil) kept = current;
  } finally {
    for (const f of files) if (f.fh !== kept?.fh) await f.fh.close().catch(() => undefined);
  }
  if (!o.follow || pastUntil) return;
  yield* follow(file, kept, o, select, () => pastUntil);
}

/**
 * The file that follows `reader`'s in the log, found by inode (names shift at each rotation):
 * undefined while `reader` is on the file conmon writes, on one just renamed whose
 * successor conmon has not made yet, or while a rotation's renames are under way.
 */
async function nextLogFile(file: string, reader: ForwardReader | undefined): Promise<OpenLog | undefined> {
  const names = await logFiles(file);
  const inodes = await Promise.all(names.map((n) => fsp.stat(n).then((st) => st.ino, () => undefined)));
  const own = reader ? await reader.fh.stat() : undefined;
  const at = own ? inodes.indexOf(own.ino) : -1;
  if (reader && at === names.length - 1) return undefined;
  // not in the listing but still linked: the listing crossed a rotation's renames; look again later
  if (own && at === -1 && own.nlink > 0) return undefined;
  // not found: ours was removed as the oldest, so the oldest left comes next
  for (const name of names.slice(at + 1)) {
    const opened = await openLog(name);
    if (opened) return opened;
  }
  return undefined;
}

/**
 * Follows the file conmon writes; when it is rotated (renamed, and a new one made in its
 * place), reads the old one to its end and goes on in the new one.
 */
async function* follow(file: string, reader: ForwardReader | undefined, o: LogReadOptions, select: (b: LogRecord[]) => LogRecord[], pastUntil: () => boolean): AsyncGenerator<LogRecord[]> {
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  const base = path.basename(file);
  try {
    // the folder, not the file: a rotation replaces the file
    watcher = watch(path.dirname(file), (_event, name) => {
      if (!name || name === base) wake?.();
    });
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
  const drain = async function* (): AsyncGenerator<LogRecord[]> {
    for (;;) {
      if (reader) {
        for await (const batch of reader.readAll()) {
          const out = select(batch);
          if (out.length) yield out;
          if (pastUntil() || left) return;
        }
      }
      // conmon closes the old file before the new one appears, so a rotated file is complete;
      // the next is the one rotated after it (a follower may be more than one file behind)
      const next = await nextLogFile(file, reader);
      if (!next) return;
      const done = reader;
      reader = new ForwardReader(next.fh, 0);
      if (done) {
        try {
          // what was written to it between the read above and its rotation
          for await (const batch of done.readAll()) {
            const out = select(batch);
            if (out.length) yield out;
          }
        } finally {
          await done.fh.close().catch(() => undefined);
        }
      }
    }
  };
  try {
    while (!left && !pastUntil()) {
      yield* drain();
      if (pastUntil()) return;
      if (done || !o.isRunning()) {
        // conmon has drained the container's output by the time the exit is recorded
        yield* drain();
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
    await reader?.fh.close().catch(() => undefined);
  }
}
