import { KeyObject, sign, verify } from 'node:crypto';

/**
 * JSON Web Tokens (RFC 7519) in compact form, signed with asymmetric keys only: the token
 * server holds the private key, registries hold the public one. The algorithm named in a
 * token's header must match the kind of key checking it (RS* with RSA, ES256 with P-256...),
 * so a token cannot pick a weaker check for itself; "none" and the HMAC algorithms are not
 * in the table and so never verify.
 */

export type JwtAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA';

interface AlgorithmSpec {
  /** Digest for node:crypto sign/verify; null for EdDSA, which hashes internally. */
  hash: string | null;
  keyType: 'rsa' | 'ec' | 'ed25519';
  curve?: string;
}

const ALGORITHMS: Record<JwtAlgorithm, AlgorithmSpec> = {
  RS256: { hash: 'sha256', keyType: 'rsa' },
  RS384: { hash: 'sha384', keyType: 'rsa' },
  RS512: { hash: 'sha512', keyType: 'rsa' },
  ES256: { hash: 'sha256', keyType: 'ec', curve: 'prime256v1' },
  ES384: { hash: 'sha384', keyType: 'ec', curve: 'secp384r1' },
  ES512: { hash: 'sha512', keyType: 'ec', curve: 'secp521r1' },
  EdDSA: { hash: null, keyType: 'ed25519' },
};

const isAlgorithm = (a: unknown): a is JwtAlgorithm => typeof a === 'string' && Object.hasOwn(ALGORITHMS, a);

function fits(alg: JwtAlgorithm, key: KeyObject): boolean {
  const spec = ALGORITHMS[alg];
  return key.asymmetricKeyType === spec.keyType && (!spec.curve || key.asymmetricKeyDetails?.namedCurve === spec.curve);
}

/** The algorithm tokens signed with this key use: RS256 for RSA, ES256/384/512 by curve, EdDSA. */
export function algorithmFor(key: KeyObject): JwtAlgorithm {
  const alg = (Object.keys(ALGORITHMS) as JwtAlgorithm[]).find((a) => fits(a, key));
  if (!alg) throw new Error(`no JWT algorithm for a ${key.asymmetricKeyType} key${key.asymmetricKeyDetails?.namedCurve ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''}`);
  return alg;
}

/** Why a token was refused. */
export class JwtError extends Error {
  override readonly name = 'JwtError';
}

export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

// ECDSA signatures in JWS are r||s of fixed width (IEEE P1363), not DER as OpenSSL emits them.
const keyInput = (key: KeyObject) => ({ key, dsaEncoding: 'ieee-p1363' as const });

export function signJwt(claims: JwtClaims, key: KeyObject, header: { kid?: string } = {}): string {
  const alg = algorithmFor(key);
  const input = `${b64url({ typ: 'JWT', alg, ...header })}.${b64url(claims)}`;
  const signature = sign(ALGORITHMS[alg].hash, Buffer.from(input), keyInput(key));
  return `${input}.${signature.toString('base64url')}`;
}

export interface VerifyOptions {
  issuer: string;
  /** The service the token must be meant for: one of its `aud` values. */
  audience: string;
  /** Seconds since the epoch; the current time unless testing. */
  now?: number;
  /** Clock difference tolerated between token server and registry, in seconds. */
  leeway?: number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError(`token ${what} is not base64url JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtError(`token ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Returns the claims of a token signed by one of `keys`, issued by `issuer` for `audience`,
 * and valid now; throws JwtError otherwise. `exp` is required: a token must not live forever.
 */
export function verifyJwt(token: string, keys: KeyObject[], opts: VerifyOptions): JwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) throw new JwtError('malformed token');
  const header = decodeSegment(parts[0], 'header');
  const claims = decodeSegment(parts[1], 'claims') as JwtClaims;

  const alg = header.alg;
  if (!isAlgorithm(alg)) throw new JwtError(`token algorithm ${JSON.stringify(alg)} is not accepted`);
  // "crit" names extensions the verifier must understand, and we understand none (RFC 7515 4.1.11).
  if (header.crit !== undefined) throw new JwtError('token has critical header extensions');
  // Every trusted key of the right kind is tried: bundles are small, and a `kid` would only
  // pick among keys we trust anyway.
  const candidates = keys.filter((k) => fits(alg, k));
  if (candidates.length === 0) throw new JwtError(`no trusted key for algorithm ${alg}`);
  const signature = Buffer.from(parts[2], 'base64url');
  const input = Buffer.from(`${parts[0]}.${parts[1]}`);
  const ok = candidates.some((key) => {
    try {
      return verify(ALGORITHMS[alg].hash, input, keyInput(key), signature);
    } catch {
      return false; // e.g. a signature of the wrong length for the curve
    }
  });
  if (!ok) throw new JwtError('token signature is invalid');

  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const leeway = opts.leeway ?? 60;
  if (claims.iss !== opts.issuer) throw new JwtError(`token issuer ${JSON.stringify(claims.iss)} is not trusted`);
  const aud = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
  if (!Array.isArray(aud) || !aud.includes(opts.audience)) throw new JwtError(`token is not meant for service ${opts.audience}`);
  if (typeof claims.exp !== 'number') throw new JwtError('token has no expiry');
  if (now > claims.exp + leeway) throw new JwtError('token has expired');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now + leeway < claims.nbf)) throw new JwtError('token is not valid yet');
  if (claims.iat !== undefined && (typeof claims.iat !== 'number' || now + leeway < claims.iat)) throw new JwtError('token was issued in the future');
  return claims;
}
