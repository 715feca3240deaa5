import { BerthError, invalid } from '../common/errors';

/**
 * Credentials as the Engine API carries them: the JSON of Docker's AuthConfig, base64url
 * encoded in the `X-Registry-Auth` header of pull and push, plain in the body of POST /auth.
 */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** an OAuth2 refresh token a registry handed out at login, used instead of a password */
  identitytoken?: string;
  /** a bearer token to send as it is */
  registrytoken?: string;
  serveraddress?: string;
}

export function decodeRegistryAuth(header: string | string[] | undefined): AuthConfig {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return {};
  try {
    const json = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    const parsed = JSON.parse(json) as unknown;
    if (parsed === null || typeof parsed !== 'object') return {};
    const o = parsed as Record<string, unknown>;
    const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
    return {
      username: str('username') ?? str('Username'),
      password: str('password') ?? str('Password'),
      identitytoken: str('identitytoken') ?? str('IdentityToken'),
      registrytoken: str('registrytoken') ?? str('RegistryToken'),
      serveraddress: str('serveraddress') ?? str('ServerAddress'),
    };
  } catch {
    throw invalid('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
}

export const hasCredentials = (a: AuthConfig): boolean => !!(a.username || a.identitytoken || a.registrytoken);

/** One challenge of a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * RFC 7235 challenges. A bare word starts a challenge (its scheme); key=value pairs after it
 * are its parameters. Quoted values may hold commas, so values are matched whole, not split.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  for (const m of header.matchAll(/([\w.-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?/g)) {
    if (m[2] === undefined) {
      out.push({ scheme: m[1].toLowerCase(), params: {} });
    } else if (out.length > 0) {
      const v = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
      out[out.length - 1].params[m[1].toLowerCase()] = v;
    }
  }
  return out;
}

/** A registry that refused the credentials or the scope (Docker answers 401 to the API client too). */
export class RegistryUnauthorized extends BerthError {
  constructor(message: string) {
    super('UNAUTHORIZED', message);
  }
}

/** `repository:team/app:pull,push` scopes for a token request. */
export function repositoryScope(repo: string, actions: string[]): string {
  return `repository:${repo}:${actions.join(',')}`;
}
