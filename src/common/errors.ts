/**
 * Errors that carry a stable code and the HTTP status the Engine API answers with.
 * They are thrown where the problem is known and turned into Docker's
 * `{"message": ...}` body in one place (src/api/server.ts).
 */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INVALID_PARAMETER'
  | 'NOT_MODIFIED'
  | 'FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'NOT_IMPLEMENTED'
  | 'UNAVAILABLE'
  | 'SYSTEM';

const statusOf: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_PARAMETER: 400,
  NOT_MODIFIED: 304,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
  SYSTEM: 500,
};

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = statusOf[code];
    this.name = 'BerthError';
  }
}

export const notFound = (msg: string) => new BerthError('NOT_FOUND', msg);
export const conflict = (msg: string) => new BerthError('CONFLICT', msg);
export const invalid = (msg: string) => new BerthError('INVALID_PARAMETER', msg);
export const system = (msg: string, cause?: unknown) => new BerthError('SYSTEM', msg, { cause });
export const notModified = (msg: string) => new BerthError('NOT_MODIFIED', msg);
/** 503: the node is not in a state to answer (not in a swarm, not a manager, no quorum) */
export const unavailable = (msg: string) => new BerthError('UNAVAILABLE', msg);

export function isBerthError(e: unknown, code?: ErrorCode): e is BerthError {
  return e instanceof BerthError && (code === undefined || e.code === code);
}

/** True for Node fs errors with the given errno code (ENOENT, EEXIST ...). */
export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}
