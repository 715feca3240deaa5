import { createHash, Hash } from 'node:crypto';
import { regErr } from './errors';

/** The spec's <name> grammar: lowercase components joined by '/', separators '.', '_', '__', '-+'. */
const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// Only algorithms we can verify are accepted: a digest we cannot check must never name a blob.
const DIGEST_RE: Record<string, RegExp> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };

/** Clients cap host + '/' + name at 255; 255 keeps names usable with any host. */
export const MAX_NAME_LENGTH = 255;

export const isValidName = (n: string) => n.length <= MAX_NAME_LENGTH && NAME_RE.test(n);
export const isValidTag = (t: string) => TAG_RE.test(t);

export function isValidDigest(d: string): boolean {
  const i = d.indexOf(':');
  if (i < 0) return false;
  const re = DIGEST_RE[d.slice(0, i)];
  return re !== undefined && re.test(d.slice(i + 1));
}

export function checkName(n: string): string {
  if (!isValidName(n)) throw regErr('NAME_INVALID', `invalid repository name: ${n}`, { name: n });
  return n;
}

export function checkDigest(d: string): string {
  if (!isValidDigest(d)) throw regErr('DIGEST_INVALID', `invalid digest: ${d}`, { digest: d });
  return d;
}

export function splitDigest(d: string): { algorithm: string; hex: string } {
  const i = d.indexOf(':');
  return { algorithm: d.slice(0, i), hex: d.slice(i + 1) };
}

export function hasherFor(digestOrAlgorithm: string): { hash: Hash; algorithm: string } {
  const algorithm = digestOrAlgorithm.split(':')[0];
  if (!DIGEST_RE[algorithm]) throw regErr('DIGEST_INVALID', `unsupported digest algorithm: ${algorithm}`);
  return { hash: createHash(algorithm), algorithm };
}

export function digestBytes(data: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
