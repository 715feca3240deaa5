/**
 * Reading the Authorization request header: the scheme decides which credentials it holds.
 */

export interface BasicCredentials {
  user: string;
  password: string;
}

/** The credentials of `Authorization: Basic base64(user:password)`, or undefined if not Basic. */
export function basicCredentials(header: string | undefined): BasicCredentials | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  // The user name cannot hold a colon (RFC 7617); the password can.
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** The token of `Authorization: Bearer <token>`, or undefined if not Bearer. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
}
