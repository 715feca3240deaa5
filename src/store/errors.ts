/**
 * Refusals of the store, with a stable code and the HTTP status the store API answers with.
 * Thrown where the problem is known (a domain module, inside its transaction, so nothing is
 * written); turned into {"errors":[{code,message}]} in one place (api.ts).
 */
export type StoreErrorCode =
  | 'UNAUTHORIZED' // who are you? (no or bad credentials)
  | 'DENIED' // known, but not allowed
  | 'NOT_FOUND'
  | 'CONFLICT' // already so (bought twice, vendor exists)
  | 'INVALID'; // the request itself is wrong (a price that is not an amount, an unknown plan)

const statusOf: Record<StoreErrorCode, number> = { UNAUTHORIZED: 401, DENIED: 403, NOT_FOUND: 404, CONFLICT: 409, INVALID: 400 };

export class StoreError extends Error {
  readonly status: number;
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
    this.status = statusOf[code];
    this.name = 'StoreError';
  }
}

export const invalid = (m: string) => new StoreError('INVALID', m);
export const denied = (m: string) => new StoreError('DENIED', m);
export const notFound = (m: string) => new StoreError('NOT_FOUND', m);
export const conflict = (m: string) => new StoreError('CONFLICT', m);
