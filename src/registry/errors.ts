/**
 * Errors in the Distribution spec's form: a stable code from the spec's table, the HTTP
 * status it travels with, and optional detail. Thrown where the problem is known; written
 * as {"errors":[...]} in one place (handlers/base.ts).
 */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNSUPPORTED'
  | 'RANGE_INVALID'
  | 'TOO_LARGE'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED';

const defaults: Record<RegistryErrorCode, [number, string]> = {
  BLOB_UNKNOWN: [404, 'blob unknown to registry'],
  BLOB_UPLOAD_INVALID: [400, 'blob upload invalid'],
  BLOB_UPLOAD_UNKNOWN: [404, 'blob upload unknown to registry'],
  DIGEST_INVALID: [400, 'provided digest did not match uploaded content'],
  MANIFEST_BLOB_UNKNOWN: [400, 'manifest references a manifest or blob unknown to registry'],
  MANIFEST_INVALID: [400, 'manifest invalid'],
  MANIFEST_UNKNOWN: [404, 'manifest unknown to registry'],
  NAME_INVALID: [400, 'invalid repository name'],
  NAME_UNKNOWN: [404, 'repository name not known to registry'],
  SIZE_INVALID: [400, 'provided length did not match content length'],
  UNSUPPORTED: [405, 'the operation is unsupported'],
  // Not in the spec's code table; the spec only fixes the 416 status for these cases.
  RANGE_INVALID: [416, 'requested range not satisfiable'],
  TOO_LARGE: [413, 'payload too large'],
  PAGINATION_NUMBER_INVALID: [400, 'invalid number of results requested'],
  UNAUTHORIZED: [401, 'authentication required'],
  DENIED: [403, 'requested access to the resource is denied'],
};

export class RegistryError extends Error {
  readonly status: number;
  /** Headers the error response must carry, e.g. the WWW-Authenticate challenge of a 401. */
  headers: Record<string, string> = {};
  constructor(readonly code: RegistryErrorCode, message?: string, readonly detail?: unknown) {
    super(message ?? defaults[code][1]);
    this.status = defaults[code][0];
    this.name = 'RegistryError';
  }
}

export const regErr = (code: RegistryErrorCode, message?: string, detail?: unknown) =>
  new RegistryError(code, message, detail);

/** A 401 that tells the client how to authenticate: `challenge` is the WWW-Authenticate value. */
export function authErr(challenge: string, message?: string, detail?: unknown): RegistryError {
  const e = new RegistryError('UNAUTHORIZED', message, detail);
  e.headers['WWW-Authenticate'] = challenge;
  return e;
}
