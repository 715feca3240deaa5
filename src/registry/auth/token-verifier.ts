import type { IncomingMessage } from 'node:http';
import { KeyObject } from 'node:crypto';
import { authErr } from '../errors';
import { Access, Grant, grantOf, ResourceActions } from './access';
import { Authorizer } from './authorizer';
import { bearerChallenge, BearerError } from './challenge';
import { bearerToken } from './credentials';
import { JwtClaims, JwtError, verifyJwt } from './jwt';

/**
 * Docker's token auth, registry side: the client brings a JWT from the token server named by
 * `realm`; it must be signed by a trusted key, issued by `issuer` for `service`, unexpired,
 * and its `access` claim must cover what the request needs. Anything short of that is a 401
 * whose Bearer challenge names the scope to ask the token server for.
 */
export interface TokenAuthOptions {
  realm: string;
  service: string;
  issuer: string;
  /** Public keys whose signatures are trusted. */
  keys: KeyObject[];
  /** Tolerated clock difference with the token server, in seconds. */
  leeway?: number;
}

/** The `access` claim: a list of {type, name, actions}. Anything else makes the token invalid. */
export function accessClaim(claims: JwtClaims): ResourceActions[] {
  const access = claims.access ?? [];
  const isEntry = (e: unknown): e is ResourceActions => {
    const r = e as ResourceActions;
    return typeof r === 'object' && r !== null && typeof r.type === 'string' && typeof r.name === 'string' &&
      Array.isArray(r.actions) && r.actions.every((a) => typeof a === 'string');
  };
  if (!Array.isArray(access) || !access.every(isEntry)) throw new JwtError('token access claim is malformed');
  return access;
}

export class TokenAuthorizer implements Authorizer {
  constructor(private readonly opts: TokenAuthOptions) {}

  async authorize(req: IncomingMessage, needed: Access[], wanted: Access[] = []): Promise<Grant> {
    const asked = [...needed, ...wanted];
    const token = bearerToken(req.headers.authorization);
    if (!token) throw this.refuse(asked, undefined, 'authentication required');
    let grant: Grant;
    try {
      const claims = verifyJwt(token, this.opts.keys, { issuer: this.opts.issuer, audience: this.opts.service, leeway: this.opts.leeway });
      grant = grantOf(typeof claims.sub === 'string' ? claims.sub : '', accessClaim(claims));
    } catch (e) {
      if (e instanceof JwtError) throw this.refuse(asked, 'invalid_token', e.message);
      throw e;
    }
    const missing = needed.filter((a) => !grant.allows(a));
    if (missing.length) throw this.refuse(asked, 'insufficient_scope', 'insufficient scope for this request');
    return grant;
  }

  // The challenge names everything the request asks for, not just what was missing, so the
  // client's next token covers the whole request.
  private refuse(asked: Access[], error: BearerError | undefined, message: string) {
    return authErr(bearerChallenge(this.opts.realm, this.opts.service, asked, error), message, asked);
  }
}
