import { Access, formatScope } from './access';

/**
 * WWW-Authenticate values, as Docker clients expect them. A 401 carries one: Basic for
 * htpasswd, Bearer for token auth, where it tells the client where to get a token (realm),
 * for which registry (service) and for what (scope), and why the one it sent was refused.
 */

/** RFC 7235 quoted-string: backslash-escape quotes and backslashes. */
const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;

export const basicChallenge = (realm: string) => `Basic realm=${quote(realm)}`;

/** Why a bearer token was refused, as RFC 6750 names it; absent when none was sent. */
export type BearerError = 'invalid_token' | 'insufficient_scope';

export function bearerChallenge(realm: string, service: string, needed: Access[], error?: BearerError): string {
  let v = `Bearer realm=${quote(realm)},service=${quote(service)}`;
  const scope = formatScope(needed);
  if (scope) v += `,scope=${quote(scope)}`;
  if (error) v += `,error=${quote(error)}`;
  return v;
}
