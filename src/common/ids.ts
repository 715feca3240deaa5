import { createHash, randomBytes } from 'node:crypto';

/** A 64-hex-character identifier, as Docker's container IDs. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function digestOf(data: string | Buffer): string {
  return `sha256:${sha256Hex(data)}`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export const isFullId = (s: string) => /^[0-9a-f]{64}$/.test(s);
