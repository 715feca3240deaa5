import { KeyObject, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRequestTarget, type RequestTarget } from '../common/request-target';
import { formatScopes, parseScope, ResourceActions } from './auth/access';
import { AclRule, grantedScope } from './auth/acl';
import { basicChallenge } from './auth/challenge';
import { basicCredentials } from './auth/credentials';
import { HtpasswdFile } from './auth/htpasswd';
import { signJwt } from './auth/jwt';
import { keyId } from './auth/keys';

/**
 * The token server of Docker's token auth: a registry answers 401 with a Bearer challenge
 * naming this server (realm), itself (service) and a scope; the client asks here for a token,
 * with Basic credentials or none, and retries with it.
 *
 *   GET  /token?service=S&scope=repository:team/app:pull,push[&scope=...][&account=U]
 *   POST /token  (form: grant_type=password, username, password, service, scope, client_id)
 *
 * The token grants, per requested scope, the requested actions the ACL allows; what is not
 * allowed is left out rather than refused (the registry refuses the request itself), as the
 * token spec asks. Anonymous clients get what the ACL grants to "*".
 */
export interface TokenServerOptions {
  users: HtpasswdFile;
  acl: AclRule[];
  /** Decides instead of the ACL when set (the store: entitlements drive pulls). */
  grant?: (account: string, requested: ResourceActions) => ResourceActions;
  /** Private key the tokens are signed with; registries trust its public half. */
  key: KeyObject;
  issuer: string;
  /** When set, the only service (registry) tokens are issued for. */
  service?: string;
  /** Token lifetime; 300 s like Docker Hub, which clients cope with by asking again. */
  ttlSeconds?: number;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  /** RFC 3339. */
  issuedAt: string;
  access: ResourceActions[];
}

export function issueToken(opts: TokenServerOptions, account: string, service: string, requested: ResourceActions[], now = Date.now()): IssuedToken {
  const decide = opts.grant ?? ((who: string, r: ResourceActions) => grantedScope(opts.acl, who, r));
  const access = requested.map((r) => decide(account, r)).filter((r) => r.actions.length > 0);
  const ttl = opts.ttlSeconds ?? 300;
  const iat = Math.floor(now / 1000);
  const token = signJwt(
    { iss: opts.issuer, sub: account, aud: service, exp: iat + ttl, nbf: iat, iat, jti: randomBytes(16).toString('hex'), access },
    opts.key,
    { kid: keyId(opts.key) },
  );
  return { token, expiresIn: ttl, issuedAt: new Date(iat * 1000).toISOString(), access };
}

/**
 * A refusal. `oauth` is RFC 6749's error name, used as is in POST (OAuth2) answers; GET
 * answers use Distribution's {"errors":[{code,...}]} with the same name upper-cased.
 */
class TokenError extends Error {
  constructor(readonly status: number, readonly oauth: string, message: string) {
    super(message);
  }
}

const badRequest = (message: string) => new TokenError(400, 'invalid_request', message);
const TOKEN_REALM = 'berth-registry token server';
const MAX_FORM = 64 * 1024;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
  if (type !== 'application/x-www-form-urlencoded') throw badRequest('POST /token needs an application/x-www-form-urlencoded body');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM) throw badRequest('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Every scope of every `scope` parameter; one parameter may hold several, space-separated. */
function scopesOf(params: URLSearchParams): ResourceActions[] {
  const out: ResourceActions[] = [];
  for (const text of params.getAll('scope').flatMap((s) => s.split(' '))) {
    if (text === '') continue;
    const scope = parseScope(text);
    if (!scope) throw new TokenError(400, 'invalid_scope', `invalid scope: ${text}`);
    out.push(scope);
  }
  return out;
}

export function createTokenHandler(opts: TokenServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let target: RequestTarget;
    try {
      target = parseRequestTarget(req.url);
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    const url = { pathname: target.path, searchParams: target.query };
    if (url.pathname !== '/token') throw new TokenError(404, 'not_found', `no route for ${url.pathname}`);
    const isPost = req.method === 'POST';
    if (!isPost && req.method !== 'GET') throw new TokenError(405, 'unsupported', `${req.method} not allowed`);

    let params: URLSearchParams;
    let account = '';
    if (isPost) {
      params = await readForm(req);
      const grant = params.get('grant_type');
      if (grant !== 'password') throw new TokenError(400, 'unsupported_grant_type', `grant_type ${grant} is not supported`);
      const user = params.get('username') ?? '';
      if (!user || !(await opts.users.verify(user, params.get('password') ?? ''))) {
        throw new TokenError(400, 'invalid_grant', 'invalid username or password');
      }
      account = user;
    } else {
      params = url.searchParams;
      const header = req.headers.authorization;
      if (header !== undefined) {
        // Wrong credentials are refused, not quietly downgraded to anonymous: the user would
        // only see a confusing "denied" from the registry later.
        const creds = basicCredentials(header);
        if (!creds || !(await opts.users.verify(creds.user, creds.password))) {
          throw new TokenError(401, 'unauthorized', 'invalid username or password');
        }
        account = creds.user;
      }
      const claimed = params.get('account');
      if (claimed && account && claimed !== account) throw badRequest(`account ${claimed} does not match the credentials`);
    }

    const service = params.get('service') || opts.service;
    if (!service) throw badRequest('service parameter is required');
    if (opts.service && service !== opts.service) throw badRequest(`this token server does not issue tokens for service ${service}`);
    const t = issueToken(opts, account, service, scopesOf(params));
    const body: Record<string, unknown> = { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt };
    if (isPost) body.scope = formatScopes(t.access);
    const bytes = Buffer.from(JSON.stringify(body));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
    res.end(bytes);
  }

  return (req, res) => {
    handle(req, res).catch((e) => {
      const err = e instanceof TokenError ? e : new TokenError(500, 'server_error', 'internal server error');
      if (!(e instanceof TokenError)) console.error(`berth-registry token: ${req.method} ${req.url}:`, e);
      if (res.headersSent) return void res.destroy();
      req.resume();
      const isPost = req.method === 'POST';
      const body = isPost
        ? { error: err.oauth, error_description: err.message }
        : { errors: [{ code: err.oauth.toUpperCase(), message: err.message, detail: null }] };
      const bytes = Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': bytes.length };
      if (err.status === 401) headers['WWW-Authenticate'] = basicChallenge(TOKEN_REALM);
      res.writeHead(err.status, headers);
      res.end(bytes);
    });
  };
}
