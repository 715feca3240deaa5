import type { IncomingMessage } from 'node:http';
import { authErr } from '../errors';
import { Access, allowAll, Grant } from './access';
import { Authorizer } from './authorizer';
import { basicChallenge } from './challenge';
import { basicCredentials } from './credentials';
import { HtpasswdFile } from './htpasswd';

export const BASIC_REALM = 'berth-registry';

/**
 * HTTP Basic auth against an htpasswd file. As in CNCF Distribution, it only authenticates:
 * every known user may do everything, so `needed` only shapes the error detail.
 */
export class HtpasswdAuthorizer implements Authorizer {
  constructor(private readonly users: HtpasswdFile, private readonly realm = BASIC_REALM) {}

  async authorize(req: IncomingMessage, needed: Access[]): Promise<Grant> {
    const creds = basicCredentials(req.headers.authorization);
    if (creds && (await this.users.verify(creds.user, creds.password))) return allowAll(creds.user);
    throw authErr(basicChallenge(this.realm), creds ? 'invalid username or password' : 'authentication required', needed);
  }
}
