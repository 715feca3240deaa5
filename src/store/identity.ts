import type { IncomingMessage } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { basicCredentials, bearerToken } from '../registry/auth/credentials';
import type { HtpasswdFile } from '../registry/auth/htpasswd';
import { JwtError, verifyJwt } from '../registry/auth/jwt';
import { StoreError } from './errors';

/**
 * Who a store request comes from, by the registry's own means: the htpasswd user of
 * `Authorization: Basic`, or the subject of a bearer token this registry's token service
 * issued. No header: anonymous (''). Credentials that do not check out are refused outright,
 * never treated as anonymous: a forged or expired token is an error the client must see.
 */
export interface IdentityOptions {
  users: HtpasswdFile;
  keys: KeyObject[];
  issuer: string;
  service: string;
}

export async function identify(req: IncomingMessage, o: IdentityOptions): Promise<string> {
  const header = req.headers.authorization;
  if (header === undefined) return '';
  const basic = basicCredentials(header);
  if (basic) {
    if (await o.users.verify(basic.user, basic.password)) return basic.user;
    throw new StoreError('UNAUTHORIZED', 'invalid username or password');
  }
  const token = bearerToken(header);
  if (token) {
    try {
      const claims = verifyJwt(token, o.keys, { issuer: o.issuer, audience: o.service });
      if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub;
      throw new StoreError('UNAUTHORIZED', 'token names no account');
    } catch (e) {
      if (e instanceof JwtError) throw new StoreError('UNAUTHORIZED', `token refused: ${e.message}`);
      throw e;
    }
  }
  throw new StoreError('UNAUTHORIZED', 'unsupported Authorization scheme: use Basic or Bearer');
}
