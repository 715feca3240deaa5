import { pipeline } from 'node:stream/promises';
import { regErr } from '../errors';
import { checkDigest } from '../reference';
import { Ctx, repo, send } from './base';

/**
 * /v2/<name>/blobs/<digest>: GET/HEAD (with single Range support) and DELETE.
 * A blob is readable from a repository that links it as a layer or as a manifest revision.
 */
async function locate(c: Ctx): Promise<{ digest: string; size: number }> {
  const digest = checkDigest(c.ref);
  const r = repo(c);
  const linked = (await r.hasLayer(digest)) || (await r.hasRevision(digest));
  const size = linked ? await c.app.blobs.size(digest) : undefined;
  if (size === undefined) throw regErr('BLOB_UNKNOWN', undefined, { digest });
  return { digest, size };
}

/** Parses `bytes=a-b`, `bytes=a-` or `bytes=-n`; undefined means "serve it all". */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw regErr('RANGE_INVALID', `unsupported range: ${header}`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) throw regErr('RANGE_INVALID', `range ${header} outside 0-${size - 1}`, { size });
  return { start, end };
}

export async function getBlob(c: Ctx): Promise<void> {
  const { digest, size } = await locate(c);
  const headers: Record<string, string | number> = {
    'Docker-Content-Digest': digest,
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: `"${digest}"`,
  };
  let range;
  try {
    range = parseRange(c.req.headers.range, size);
  } catch (e) {
    c.res.setHeader('Content-Range', `bytes */${size}`);
    throw e;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  if (c.req.method === 'HEAD' || size === 0) return send(c, range ? 206 : 200, headers);
  const r = await c.app.blobs.reader(digest, start);
  c.res.writeHead(range ? 206 : 200, headers);
  // Stop after `end`: the reader runs to EOF, so cut it short by destroying at the limit.
  let left = end - start + 1;
  await pipeline(
    r,
    async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        if (left <= 0) break;
        const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= part.length;
        yield part;
      }
    },
    c.res,
  );
}

export async function deleteBlob(c: Ctx): Promise<void> {
  const digest = checkDigest(c.ref);
  const r = repo(c);
  if (!(await r.hasLayer(digest))) throw regErr('BLOB_UNKNOWN', undefined, { digest });
  // Only the link goes; the content stays until gc finds nothing else refers to it.
  await r.unlinkLayer(digest);
  send(c, 202, { 'Content-Length': 0, 'Docker-Content-Digest': digest });
}
