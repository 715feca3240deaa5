import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { invalid } from '../common/errors';
import { applyTar } from '../layer/tar-apply';
import { cleanSource, globToRegex, type CopySource, type Excluded, type NodeStat, type SourceNode } from './context';

interface Entry {
  type: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  size: number;
  linkname?: string;
  /** sha256 of a file's content */
  digest?: string;
  /** the content of small files: the Dockerfile, .dockerignore, and what COPY takes from the index */
  content?: Buffer;
  /** the header's time: what the unpacked file's atime and mtime would be */
  mtime: Date;
}

const KEEP_CONTENT = 256 * 1024;
/**
 * What one build's index holds in memory at most: a context of many small files would
 * otherwise grow the daemon without bound. Past it no content is kept (COPY then reads
 * the unpacked context, as for a big file), save the files the plan reads.
 */
export const CONTENT_BUDGET = 64 * 1024 * 1024;

export interface ReceiveOptions {
  /** files whose content is kept whatever the budget (up to KEEP_CONTENT): the Dockerfile, .dockerignore */
  keep?: string[];
  /** bytes of file content the index may hold in all (CONTENT_BUDGET) */
  budget?: number;
}

/**
 * The build context as received: the tar kept in one file, and an index of what it holds
 * (types, modes, link targets, content digests). Cache keys of COPY and ADD are computed from
 * the index, so a build whose steps all hit the cache never unpacks the context; the first
 * step that really copies unpacks it, once.
 */
export class ContextArchive implements CopySource {
  private unpacked?: Promise<string>;
  /** some entry's name goes through a symlink of the context */
  private aliased?: boolean;
  private servesCopies?: boolean;
  /** each directory's child names, sorted */
  private listing?: Map<string, string[]>;

  private constructor(
    private readonly tarPath: string,
    private readonly dir: string,
    private readonly entries: Map<string, Entry>,
    private readonly dirs: Set<string>,
    /** an entry the index cannot stand for: unpacking would treat it apart (see `copiesFromIndex`) */
    private readonly unusual: boolean,
  ) {}

  static async receive(input: Readable, workDir: string, o: ReceiveOptions = {}): Promise<ContextArchive> {
    const tarPath = path.join(workDir, 'context.tar');
    const entries = new Map<string, Entry>();
    const dirs = new Set<string>(['.']);
    const keep = new Set((o.keep ?? []).map(cleanName));
    const budget = o.budget ?? CONTENT_BUDGET;
    let held = 0;
    let overBudget = false;
    let unusual = false;
    const extract = tar.extract();
    const file = createWriteStream(tarPath);
    const tee = new PassThrough();
    const parsed = new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, stream, next) => {
        const rel = cleanName(header.name);
        const h = createHash('sha256');
        const chunks: Buffer[] = [];
        let size = 0;
        const kept = () => size <= KEEP_CONTENT && (keep.has(rel) || !overBudget);
        stream.on('data', (chunk: unknown) => {
          const c = chunk as Buffer;
          h.update(c);
          size += c.length;
          if (kept()) chunks.push(c);
          else chunks.length = 0;
        });
        stream.on('end', () => {
          if (!keep.has(rel) && size <= KEEP_CONTENT && !overBudget && held + size > budget) {
            // past the budget the index cannot serve COPY: what it holds is let go too
            overBudget = true;
            for (const [name, e] of entries) if (!keep.has(name)) e.content = undefined;
          }
          if (kept() && !keep.has(rel)) held += size;
          // the root's own entry, names that climb or hold NUL, whiteouts: unpacking gives them meanings of their own
          if (!rel || header.name.includes('\0') || header.name.split('/').some((p) => p === '..' || p.startsWith(WHITEOUT_PREFIX))) unusual = true;
          if (rel) {
            const type = header.type === 'file' || header.type === 'contiguous-file' ? 'file' : header.type === 'directory' ? 'directory' : header.type === 'symlink' ? 'symlink' : 'other';
            entries.set(rel, { type, mode: header.mode ?? 0o644, size, linkname: header.linkname ?? undefined, digest: type === 'file' ? h.digest('hex') : undefined, content: type === 'file' && kept() ? Buffer.concat(chunks) : undefined, mtime: header.mtime ?? new Date(0) });
            for (let p = path.posix.dirname(rel); p !== '.' && !dirs.has(p); p = path.posix.dirname(p)) dirs.add(p);
            if (type === 'directory') dirs.add(rel);
          }
          next();
        });
        stream.on('error', reject);
      });
      extract.on('finish', () => resolve());
      extract.on('error', (e) => reject(invalid(`failed to read the build context: ${e.message}`)));
    });
    const written = new Promise<void>((resolve, reject) => {
      file.on('finish', () => resolve());
      file.on('error', reject);
    });
    input.on('error', (e) => tee.destroy(e));
    tee.on('error', (e) => extract.destroy(e));
    input.pipe(tee);
    tee.pipe(file);
    tee.pipe(extract);
    await Promise.all([parsed, written]);
    return new ContextArchive(tarPath, path.join(workDir, 'context'), entries, dirs, unusual);
  }

  /**
   * Whether COPY can take its files from the index instead of the unpacked context: the
   * index holds the content of every file, and unpacking would give each entry exactly
   * what its header says, as a node of the kind it names. Anything else (a hardlink, a
   * device, a file too big to be kept, a symlink on an entry's way, a name used both as a
   * file and as a directory, the entries `unusual` marks) sends every copy to the disk.
   */
  copiesFromIndex(): boolean {
    this.servesCopies ??=
      !this.unusual &&
      !this.hasLinkOnTheWay() &&
      [...this.entries].every(([rel, e]) => (e.type === 'file' ? e.content !== undefined && !this.dirs.has(rel) : e.type === 'directory' || (e.type === 'symlink' && !this.dirs.has(rel))));
    return this.servesCopies;
  }

  /** The node at `rel` as the unpacked context would show it (CopySource; only when copiesFromIndex). */
  async visit<T>(rel: string, fn: (n: SourceNode) => Promise<T> | T): Promise<T> {
    return fn(this.node(cleanName(rel) || '.'));
  }

  /** The entries of a directory node in name order, less the excluded ones (CopySource). */
  async eachChild(dir: SourceNode & { kind: 'dir' }, excluded: Excluded, fn: (n: SourceNode) => Promise<void> | void): Promise<void> {
    for (const name of this.children(dir.rel)) {
      const rel = dir.rel === '.' ? name : `${dir.rel}/${name}`;
      if (!excluded(rel)) await fn(this.node(rel));
    }
  }

  private node(rel: string): SourceNode {
    const e = this.entries.get(rel);
    if (this.isDir(rel)) {
      // a directory that no entry names is made by unpacking as mkdir -p makes it
      return { kind: 'dir', rel, st: nodeStat(S_IFDIR, e?.mode ?? 0o755, 0, e?.mtime), fd: -1 };
    }
    if (!e) throw invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`);
    if (e.type === 'symlink') return { kind: 'symlink', rel, st: nodeStat(S_IFLNK, e.mode, 0, e.mtime), target: e.linkname ?? '' };
    if (e.type !== 'file' || !e.content) throw new Error(`${rel}: not in the context's index`);
    return {
      kind: 'file',
      rel,
      st: nodeStat(S_IFREG, e.mode, e.size, e.mtime),
      data: e.content,
      open: () => {
        throw new Error(`${rel}: the context's index has no file to open`);
      },
    };
  }

  private hasLinkOnTheWay(): boolean {
    this.aliased ??= [...this.entries.keys()].some((rel) => this.linkOnTheWay(rel));
    return this.aliased;
  }

  /** A small file's content (the Dockerfile, .dockerignore), or undefined. */
  read(rel: string): string | undefined {
    return this.entries.get(cleanName(rel))?.content?.toString('utf8');
  }

  /** The context unpacked on disk, made on first use. */
  materialize(): Promise<string> {
    this.unpacked ??= (async () => {
      await fsp.mkdir(this.dir, { recursive: true });
      await applyTar(this.dir, createReadStream(this.tarPath), { whiteouts: 'plain' });
      return this.dir;
    })();
    return this.unpacked;
  }

  private exists(rel: string): boolean {
    return rel === '.' || this.entries.has(rel) || this.dirs.has(rel);
  }

  private isDir(rel: string): boolean {
    return this.dirs.has(rel) || this.entries.get(rel)?.type === 'directory';
  }

  private children(rel: string): string[] {
    if (!this.listing) {
      // every directory's names, made once: a walk asks for each directory's
      const sets = new Map<string, Set<string>>();
      for (const key of [...this.entries.keys(), ...this.dirs]) {
        if (key === '.') continue;
        const slash = key.lastIndexOf('/');
        const parent = slash < 0 ? '.' : key.slice(0, slash);
        let names = sets.get(parent);
        if (!names) sets.set(parent, (names = new Set()));
        names.add(key.slice(slash + 1));
      }
      this.listing = new Map([...sets].map(([dir, names]) => [dir, [...names].sort()]));
    }
    return this.listing.get(rel) ?? [];
  }

  /**
   * Expands a COPY/ADD source to the context paths it names, as SourceTree.expand does on
   * disk; undefined when a symlink of the context lies on the way. The index holds names,
   * not a file system: a link inside the context is followed only by resolving it on disk
   * (within the context), and the digest of what it leads to is taken there too.
   */
  resolve(src: string, excluded: Excluded): string[] | undefined {
    // an entry written through a link lands elsewhere than its name says: the index tells nothing then
    if (this.hasLinkOnTheWay()) return undefined;
    const clean = cleanSource(src);
    const notFound = () => invalid(`COPY failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    if (!/[*?[\\]/.test(clean)) {
      if (this.linkOnTheWay(clean)) return undefined;
      if (!this.exists(clean) || (clean !== '.' && excluded(clean))) throw notFound();
      return [clean];
    }
    let current = ['.'];
    for (const part of clean.split('/')) {
      const re = globToRegex(part);
      const next: string[] = [];
      for (const base of current) {
        if (this.isLink(base) || this.linkOnTheWay(base)) return undefined;
        for (const name of this.children(base)) if (re.test(name)) next.push(base === '.' ? name : `${base}/${name}`);
      }
      current = next;
    }
    const found = current.filter((rel) => !excluded(rel));
    if (found.length === 0) throw invalid('COPY failed: no source files were specified');
    return found;
  }

  private isLink(rel: string): boolean {
    return this.entries.get(rel)?.type === 'symlink';
  }

  /** Whether a directory on the way to `rel` is a symlink in the context. */
  private linkOnTheWay(rel: string): boolean {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) if (this.isLink(parts.slice(0, i).join('/'))) return true;
    return false;
  }

  /** A digest of what the sources name: paths, types, modes, link targets and contents, never times. */
  digest(sources: string[], excluded: Excluded): string {
    const h = createHash('sha256');
    const visit = (rel: string): void => {
      const e = this.entries.get(rel);
      if (this.isDir(rel)) {
        h.update(`${rel}\0dir:${e?.mode ?? 0o755}\0`);
        for (const name of this.children(rel)) {
          const child = rel === '.' ? name : `${rel}/${name}`;
          if (!excluded(child)) visit(child);
        }
      } else if (e) {
        // a hardlink is copied as the file it names: that file's content is its content
        const digest = e.digest ?? (e.type === 'other' && e.linkname ? this.entries.get(cleanName(e.linkname))?.digest : undefined);
        h.update(`${rel}\0${e.type}:${e.mode}\0${e.linkname ?? ''}\0${e.size}\0${digest ?? ''}\0`);
      }
    };
    for (const s of sources) visit(s);
    return h.digest('hex');
  }
}

const WHITEOUT_PREFIX = '.wh.';
const { S_IFDIR, S_IFREG, S_IFLNK } = constants;

function nodeStat(type: number, mode: number, size: number, mtime = new Date(0)): NodeStat {
  return { mode: type | (mode & 0o7777), size, atime: mtime, mtime };
}

function cleanName(name: string): string {
  const n = path.posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
  return n;
}
