/**
 * Browser sessions of the dashboard: a random id in an HttpOnly cookie, and beside it a CSRF
 * token the page reads from GET /session and sends back on every request that changes
 * something. Sessions live in memory: a daemon restart logs everyone out.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  csrf: string;
  expiresAt: number;
}

export const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 256;

const digest = (id: string) => createHash('sha256').update(id).digest('base64url');

export class Sessions {
  /** digest of the cookie value → session */
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  create(): { id: string; session: Session } {
    this.prune();
    if (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value as string);
    const id = randomBytes(32).toString('base64url');
    const session = { csrf: randomBytes(24).toString('base64url'), expiresAt: this.now() + this.ttlMs };
    this.byId.set(digest(id), session);
    return { id, session };
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.byId.get(digest(id));
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.byId.delete(digest(id));
      return undefined;
    }
    return s;
  }

  delete(id: string | undefined): void {
    if (id) this.byId.delete(digest(id));
  }

  private prune(): void {
    const now = this.now();
    for (const [k, s] of this.byId) if (s.expiresAt <= now) this.byId.delete(k);
  }
}

/** Compares a CSRF token from a request with the session's, in constant time. */
export function csrfMatches(session: Session, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
