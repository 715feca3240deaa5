import type { IncomingMessage } from 'node:http';
import { KeyObject } from 'node:crypto';
import { authErr, regErr } from '../errors';
import { Access, Grant, grantOf } from './access';
import { Authorizer } from './authorizer';
import { bearerChallenge, BearerError } from './challenge';
import { bearerToken } from './credentials';
import { JwtError, verifyJwt } from './jwt';
import { accessClaim } from './token-verifier';

/**
 * Token auth when the registry runs with the store and its own token service: as
 * TokenAuthorizer, plus two things the store needs.
 *
 * - The store decides again at every request, not only when the token was issued: an
 *   entitlement that lapsed or was refunded stops pulls at once, not when the token expires.
 * - A logged-in client the store refuses gets 403 DENIED with the store's reason
 *   (`no active purchase of acme/ledger`) instead of a 401 that would send it back to the
 *   token service for a token that could not say more.
 *
 * The realm is this registry's own /token, at the address the client used.
 */
export interface StoreAuthOptions {
  service: string;
  issuer: string;
  keys: KeyObject[];
  realmFor(req: IncomingMessage): string;
  /** The store's verdict: the actions granted of those asked, and why the rest are not. */
  decide(account: string, type: string, name: string, actions: string[]): { actions: string[]; refusal?: string };
}

export class StoreAuthorizer implements Authorizer {
  constructor(private readonly opts: StoreAuthOptions) {}

  async authorize(req: IncomingMessage, needed: Access[], wanted: Access[] = []): Promise<Grant> {
    const asked = [...needed, ...wanted];
    const realm = this.opts.realmFor(req);
    const token = bearerToken(req.headers.authorization);
    if (!token) throw this.refuse(realm, asked, undefined, 'authentication required');
    let grant: Grant;
    try {
      const claims = verifyJwt(token, this.opts.keys, { issuer: this.opts.issuer, audience: this.opts.service });
      grant = grantOf(typeof claims.sub === 'string' ? claims.sub : '', accessClaim(claims));
    } catch (e) {
      if (e instanceof JwtError) throw this.refuse(realm, asked, 'invalid_token', e.message);
      throw e;
    }
    for (const a of needed) {
      const verdict = this.opts.decide(grant.subject, a.type, a.name, [a.action]);
      if (verdict.actions.length > 0) continue;
      // Anonymous clients are asked to log in; known ones are told why not.
      if (grant.subject) throw regErr('DENIED', verdict.refusal ?? 'requested access to the resource is denied', { type: a.type, name: a.name, action: a.action });
      throw this.refuse(realm, asked, grant.allows(a) ? 'invalid_token' : undefined, verdict.refusal ?? 'authentication required');
    }
    if (needed.some((a) => !grant.allows(a))) throw this.refuse(realm, asked, 'insufficient_scope', 'insufficient scope for this request');
    return grant;
  }

  private refuse(realm: string, asked: Access[], error: BearerError | undefined, message: string) {
    return authErr(bearerChallenge(realm, this.opts.service, asked, error), message, asked);
  }
}
