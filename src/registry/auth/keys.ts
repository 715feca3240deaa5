import { createHash, createPrivateKey, createPublicKey, KeyObject, X509Certificate } from 'node:crypto';

/**
 * The keys of token auth: the token server signs with a private key; the registry trusts the
 * public keys found in a PEM file of certificates and/or public keys (what Distribution calls
 * the root certificate bundle).
 */

/** Every public key in a PEM text: from CERTIFICATE blocks and from (public or private) key blocks. */
export function loadPublicKeys(pem: string): KeyObject[] {
  const blocks = pem.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
  const keys = blocks.map((block) => {
    if (/^-----BEGIN (TRUSTED )?CERTIFICATE-----/.test(block)) return new X509Certificate(block).publicKey;
    return createPublicKey(block);
  });
  if (keys.length === 0) throw new Error('no certificate or public key found in PEM');
  return keys;
}

export function loadPrivateKey(pem: string): KeyObject {
  return createPrivateKey(pem);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The `kid` Docker's libtrust gives a key, which CNCF Distribution uses to pick the verifying
 * key from its bundle: the first 240 bits of the SHA-256 of the DER SubjectPublicKeyInfo, in
 * base32, in twelve groups of four joined by ':'. Our tokens carry it so that Distribution
 * can find their key too (not tested against Distribution itself).
 */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ type: 'spki', format: 'der' });
  const digits = base32(createHash('sha256').update(der).digest().subarray(0, 30));
  return digits.match(/.{4}/g)!.join(':');
}
