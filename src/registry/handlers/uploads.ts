import { regErr } from '../errors';
import { checkDigest, isValidName } from '../reference';
import { Repository } from '../store/repository';
import { UploadState } from '../store/uploads';
import { Ctx, repo, send } from './base';

/**
 * /v2/<name>/blobs/uploads/[<uuid>]: start (POST, with monolithic ?digest= and cross-repo
 * ?mount=&from=), chunks (PATCH), status (GET), finish (PUT ?digest=), cancel (DELETE).
 */
const location = (c: Ctx, uuid: string) => `/v2/${c.name}/blobs/uploads/${uuid}`;
// Range is inclusive; an empty upload reports 0-0 as Docker's registry does.
const rangeOf = (size: number) => `0-${Math.max(0, size - 1)}`;

function progress(c: Ctx, status: number, uuid: string, size: number): void {
  send(c, status, { Location: location(c, uuid), Range: rangeOf(size), 'Docker-Upload-UUID': uuid, 'Content-Length': 0 });
}

async function finish(c: Ctx, s: UploadState, digest: string): Promise<void> {
  await c.app.uploads.commit(s, digest);
  await repo(c).linkLayer(digest);
  await c.app.uploads.cancel(s.uuid);
  send(c, 201, { Location: `/v2/${c.name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
}

/** Checks a Content-Range header against the session's offset: chunks must arrive in order. */
async function checkContentRange(c: Ctx, uuid: string): Promise<void> {
  const h = c.req.headers['content-range'];
  if (!h) return;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(h.trim());
  if (!m) throw regErr('BLOB_UPLOAD_INVALID', `invalid Content-Range: ${h}`);
  const length = c.req.headers['content-length'];
  if (length !== undefined && Number(length) !== Number(m[2]) - Number(m[1]) + 1) {
    throw regErr('BLOB_UPLOAD_INVALID', `Content-Range ${h} does not match Content-Length ${length}`);
  }
  const offset = await c.app.uploads.offset(uuid);
  if (Number(m[1]) !== offset) {
    c.res.setHeader('Location', location(c, uuid));
    c.res.setHeader('Range', rangeOf(offset));
    throw regErr('RANGE_INVALID', `chunk starts at ${m[1]}, upload is at ${offset}`, { offset });
  }
}

export async function startUpload(c: Ctx): Promise<void> {
  const mount = c.url.searchParams.get('mount');
  const from = c.url.searchParams.get('from');
  // Mounting reads the source repository, so it needs pull there too (see wantedAccess).
  // Without it the client gets an ordinary upload session, and learns nothing about the source.
  const mayReadSource = from !== null && isValidName(from) && c.grant.allows({ type: 'repository', name: from, action: 'pull' });
  if (mount && from && mayReadSource) {
    const digest = checkDigest(mount);
    const source = new Repository(c.app.driver, from);
    if ((await source.hasLayer(digest)) && (await c.app.blobs.size(digest)) !== undefined) {
      await repo(c).linkLayer(digest);
      c.req.resume();
      return send(c, 201, { Location: `/v2/${c.name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': 0 });
    }
    // Not mountable: fall back to an ordinary session, as the spec asks.
  }
  const digest = c.url.searchParams.get('digest');
  if (digest !== null) checkDigest(digest);
  const s = await c.app.uploads.start(c.name);
  const size = await c.app.uploads.append(s.uuid, c.req);
  if (digest !== null) return finish(c, s, digest);
  progress(c, 202, s.uuid, size);
}

/**
 * Requests on one session run one at a time: a second PATCH racing the first would
 * interleave bytes; serialised, its Content-Range check sees the true offset instead.
 */
const busy = new Map<string, Promise<void>>();
async function exclusive(uuid: string, fn: () => Promise<void>): Promise<void> {
  const prev = busy.get(uuid) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => {});
  busy.set(uuid, tail);
  try {
    await run;
  } finally {
    if (busy.get(uuid) === tail) busy.delete(uuid);
  }
}

export async function patchUpload(c: Ctx): Promise<void> {
  const { uuid } = await c.app.uploads.get(c.name, c.ref);
  await exclusive(uuid, async () => {
    const s = await c.app.uploads.get(c.name, uuid); // it may have finished while we waited
    await checkContentRange(c, s.uuid);
    const size = await c.app.uploads.append(s.uuid, c.req);
    progress(c, 202, s.uuid, size);
  });
}

export async function uploadStatus(c: Ctx): Promise<void> {
  const s = await c.app.uploads.get(c.name, c.ref);
  progress(c, 204, s.uuid, await c.app.uploads.offset(s.uuid));
}

export async function putUpload(c: Ctx): Promise<void> {
  const { uuid } = await c.app.uploads.get(c.name, c.ref);
  const digest = c.url.searchParams.get('digest');
  if (!digest) throw regErr('DIGEST_INVALID', 'digest query parameter is required');
  checkDigest(digest);
  await exclusive(uuid, async () => {
    const s = await c.app.uploads.get(c.name, uuid);
    await checkContentRange(c, s.uuid);
    await c.app.uploads.append(s.uuid, c.req);
    await finish(c, s, digest);
  });
}

export async function cancelUpload(c: Ctx): Promise<void> {
  const s = await c.app.uploads.get(c.name, c.ref);
  await c.app.uploads.cancel(s.uuid);
  c.req.resume();
  send(c, 204, {});
}
