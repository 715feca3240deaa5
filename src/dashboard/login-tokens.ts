/**
 * One-time login tokens: `berth dashboard` asks the daemon for one over the Engine API socket
 * (so only who can reach the socket can log in), and the browser trades it for a session.
 * A token works once and for a short while; only its digest is kept, so a lookup compares
 * digests and a memory dump holds no usable token.
 */
import { createHash, randomBytes } from 'node:crypto';

export const LOGIN_TOKEN_TTL_MS = 120_000;
/** a bound on tokens nobody redeemed, so a loop of requests cannot grow the daemon */
const MAX_LIVE_TOKENS = 64;

const digest = (token: string) => createHash('sha256').update(token).digest('base64url');

export class LoginTokens {
  /** digest → expiry (ms since the epoch) */
  private readonly live = new Map<string, number>();

  constructor(
    private readonly ttlMs = LOGIN_TOKEN_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(): { token: string; expiresAt: number } {
    this.prune();
    if (this.live.size >= MAX_LIVE_TOKENS) this.live.delete(this.live.keys().next().value as string);
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + this.ttlMs;
    this.live.set(digest(token), expiresAt);
    return { token, expiresAt };
  }

  /** True once for a token that was issued and has not expired; it is spent either way. */
  redeem(token: string): boolean {
    if (!token) return false;
    const key = digest(token);
    const expiresAt = this.live.get(key);
    this.live.delete(key);
    return expiresAt !== undefined && expiresAt > this.now();
  }

  private prune(): void {
    const now = this.now();
    for (const [k, exp] of this.live) if (exp <= now) this.live.delete(k);
  }
}
