/**
 * Manager autolock (`swarm init --autolock`). A manager's private files (its TLS key, the key
 * and password it shows etcd, the CA key) are kept on disk only sealed with the swarm's
 * unlock key (AES-256-GCM, `<file>.sealed` beside the certificates). Whether sealed or not,
 * the running node reads them from copies in the daemon's exec root (a tmpfs on most hosts). A daemon that starts with sealed files forgets those copies: the
 * node is locked, and nothing of the swarm runs until `swarm unlock` is given the key.
 * etcd's own data directory is not encrypted: what autolock keeps from a stolen disk is the
 * node's identity and its way into the cluster, not the cluster's state.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { BerthError, invalid, isErrno } from '../common/errors';
import { writeFileAtomic } from '../common/fsutil';

/** Docker's human-readable unlock key: this prefix, then the 32-byte key in unpadded base64. */
const KEY_PREFIX = 'SWMKEY-1-';
const KEY_BYTES = 32;
/**
 * The files of the certificates' directory that autolock seals, where the node has them;
 * node.key last: its sealed copy is what says the node is sealed, so it is written once the
 * others are.
 */
export const SEALED_FILES = ['ca.key', 'etcd.password', 'etcd-client.key', 'node.key'] as const;
const SEALED = '.sealed';
/** what a sealed file begins with, so a file of another kind is never taken for one */
const MAGIC = Buffer.from('berth-sealed-1\n');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const SWARM_LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

/** A new unlock key, as Docker prints it. */
export function newUnlockKey(): string {
  return KEY_PREFIX + randomBytes(KEY_BYTES).toString('base64').replace(/=+$/, '');
}

/** The key's bytes; Docker's error for a string that is not an unlock key. */
export function parseUnlockKey(text: string): Buffer {
  const s = (text ?? '').trim();
  const body = s.startsWith(KEY_PREFIX) ? s.slice(KEY_PREFIX.length) : undefined;
  if (body === undefined || !/^[A-Za-z0-9+/]+$/.test(body)) throw invalid('invalid key string');
  const key = Buffer.from(body, 'base64');
  // a key of another length never sealed anything here: the same answer as a wrong key
  if (key.length !== KEY_BYTES) throw invalidUnlockKey();
  return key;
}

export function invalidUnlockKey(): BerthError {
  return new BerthError('UNAUTHORIZED', 'swarm could not be unlocked: invalid key provided');
}

export function seal(key: Buffer, plain: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(MAGIC);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
}

/** The sealed data's plain text; throws invalidUnlockKey() when the key is not the one it was sealed with. */
export function unseal(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < MAGIC.length + IV_BYTES + TAG_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a sealed file');
  const iv = sealed.subarray(MAGIC.length, MAGIC.length + IV_BYTES);
  const tag = sealed.subarray(MAGIC.length + IV_BYTES, MAGIC.length + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(MAGIC);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(MAGIC.length + IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw invalidUnlockKey();
  }
}

/**
 * The node's private files. They are always read from `runtimeDir` (etcd reads its key again
 * at each handshake, so the path it was given must stay valid whether autolock is turned on or
 * off); the certificates' directory keeps them plain, or sealed while autolock is on.
 */
export class NodeKeys {
  constructor(
    private readonly certsDir: string,
    private readonly runtimeDir: string,
  ) {}

  /** Whether the files are sealed on disk (autolock is on for this node). */
  get sealed(): boolean {
    return existsSync(path.join(this.certsDir, 'node.key' + SEALED));
  }

  /** Whether the node is locked: its files are sealed and no readable copy is at hand. */
  get locked(): boolean {
    return this.sealed && !existsSync(path.join(this.runtimeDir, 'node.key'));
  }

  /** Where a private file is read. */
  path(name: (typeof SEALED_FILES)[number]): string {
    return path.join(this.runtimeDir, name);
  }

  /** The plain files' readable copies made (a start, an init or a join of a node whose files are not sealed). */
  async load(): Promise<void> {
    await fsp.mkdir(this.runtimeDir, { recursive: true, mode: 0o700 });
    for (const name of SEALED_FILES) {
      const plain = await readIfThere(path.join(this.certsDir, name));
      if (plain) await writeFileAtomic(path.join(this.runtimeDir, name), plain, 0o600);
    }
  }

  /** Seals the node's files with the key (again, with a new key); the plain ones go from the disk. */
  async seal(key: Buffer): Promise<void> {
    for (const name of SEALED_FILES) {
      const plain = await readIfThere(path.join(this.runtimeDir, name));
      if (plain) await writeFileAtomic(path.join(this.certsDir, name + SEALED), seal(key, plain), 0o600);
    }
    // the plain files go only once every sealed copy is written
    for (const name of SEALED_FILES) await fsp.rm(path.join(this.certsDir, name), { force: true });
  }

  /** Autolock turned off: the files are plain on disk again. */
  async unseal(): Promise<void> {
    if (!this.sealed) return;
    if (this.locked) throw new Error('the node is locked');
    for (const name of SEALED_FILES) {
      const plain = await readIfThere(path.join(this.runtimeDir, name));
      if (plain) await writeFileAtomic(path.join(this.certsDir, name), plain, 0o600);
    }
    await fsp.rm(path.join(this.certsDir, 'node.key' + SEALED), { force: true });
    for (const name of SEALED_FILES) await fsp.rm(path.join(this.certsDir, name + SEALED), { force: true });
  }

  /** Unlocks: the sealed files opened with the key into the runtime directory; invalidUnlockKey() for a wrong key. */
  async open(key: Buffer): Promise<void> {
    const opened: [string, Buffer][] = [];
    for (const name of SEALED_FILES) {
      const sealedData = await readIfThere(path.join(this.certsDir, name + SEALED));
      if (sealedData) opened.push([name, unseal(key, sealedData)]);
    }
    await fsp.mkdir(this.runtimeDir, { recursive: true, mode: 0o700 });
    for (const [name, plain] of opened) await writeFileAtomic(path.join(this.runtimeDir, name), plain, 0o600);
  }

  /** Drops the readable copies (a daemon start with autolock on: the node is locked; a leave). */
  async forget(): Promise<void> {
    await fsp.rm(this.runtimeDir, { recursive: true, force: true });
  }
}

async function readIfThere(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}
