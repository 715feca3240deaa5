import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { regErr } from '../errors';
import { orUndefined, StorageDriver } from '../storage/driver';
import { BlobStore } from './blobs';
import { uploadDir, UPLOADS } from './paths';

/**
 * Upload sessions: the unfinished writes of blobs. Everything a session needs is on disk
 * (state.json + the data written so far; the offset is the data's size and the digest is
 * computed at commit), so a session survives a server restart and can be resumed.
 */
export interface UploadState {
  uuid: string;
  repo: string;
  startedAt: string;
  /** Set just before the data is moved into the blob store, so gc keeps that blob. */
  committing?: string;
}

export class UploadStore {
  constructor(private readonly d: StorageDriver, private readonly blobs: BlobStore) {}

  async start(repo: string): Promise<UploadState> {
    const s: UploadState = { uuid: randomUUID(), repo, startedAt: new Date().toISOString() };
    await this.d.putContent(`${uploadDir(s.uuid)}/data`, Buffer.alloc(0));
    await this.d.putContent(`${uploadDir(s.uuid)}/state.json`, JSON.stringify(s));
    return s;
  }

  /** The session, if it exists and belongs to `repo` (a session is addressable only through its repository). */
  async get(repo: string, uuid: string): Promise<UploadState> {
    const raw = /^[0-9a-f-]{36}$/.test(uuid) ? await orUndefined(this.d.getContent(`${uploadDir(uuid)}/state.json`)) : undefined;
    const s = raw ? (JSON.parse(raw.toString()) as UploadState) : undefined;
    if (!s || s.repo !== repo) throw regErr('BLOB_UPLOAD_UNKNOWN', undefined, { uuid });
    return s;
  }

  async offset(uuid: string): Promise<number> {
    return (await this.d.stat(`${uploadDir(uuid)}/data`)).size;
  }

  /** Appends a body to the session's data; returns the new size. */
  async append(uuid: string, body: Readable): Promise<number> {
    const w = await this.d.writer(`${uploadDir(uuid)}/data`, true);
    await pipeline(body, w);
    return this.offset(uuid);
  }

  /**
   * Verifies the data against `digest` and moves it into the blob store. On a mismatch the
   * session is removed: its bytes can never become that blob, and nothing became visible.
   */
  async commit(s: UploadState, digest: string): Promise<void> {
    await this.d.putContent(`${uploadDir(s.uuid)}/state.json`, JSON.stringify({ ...s, committing: digest }));
    try {
      await this.blobs.commit(`${uploadDir(s.uuid)}/data`, digest);
    } catch (e) {
      await this.cancel(s.uuid);
      throw e;
    }
  }

  /** Ends a session after its blob is linked (or when cancelled). */
  async cancel(uuid: string): Promise<void> {
    await orUndefined(this.d.delete(uploadDir(uuid)));
  }

  async all(): Promise<{ state: UploadState; modTime: Date }[]> {
    const out: { state: UploadState; modTime: Date }[] = [];
    for (const dir of (await orUndefined(this.d.list(UPLOADS))) ?? []) {
      const raw = await orUndefined(this.d.getContent(`${dir}/state.json`));
      if (!raw) continue;
      const data = await orUndefined(this.d.stat(`${dir}/data`));
      const state = JSON.parse(raw.toString()) as UploadState;
      out.push({ state, modTime: data?.modTime ?? new Date(state.startedAt) });
    }
    return out;
  }
}
