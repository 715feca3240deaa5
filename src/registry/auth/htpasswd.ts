import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as bcrypt from 'bcryptjs';

/**
 * Apache htpasswd files, `user:hash` per line, as `htpasswd -B` writes them. Only bcrypt
 * hashes ($2y$, $2a$, $2b$) are accepted, as in CNCF Distribution: the older formats (MD5
 * "$apr1$", "{SHA}", crypt) are too cheap to brute-force to guard a registry.
 */

export interface Htpasswd {
  /** user → hash, for every line with a bcrypt hash. */
  users: Map<string, string>;
  /** One line per entry that was skipped, for the operator. */
  warnings: string[];
}

export const isBcryptHash = (hash: string) => /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash);

/** Throws on a line that is not `user:hash`; skips (with a warning) hashes that are not bcrypt. */
export function parseHtpasswd(text: string): Htpasswd {
  const users = new Map<string, string>();
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`htpasswd line ${i + 1}: expected user:hash`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!isBcryptHash(hash)) {
      warnings.push(`htpasswd line ${i + 1}: user ${user} does not have a bcrypt hash and cannot log in`);
      return;
    }
    users.set(user, hash);
  });
  return { users, warnings };
}

/** bcrypt comparison; false for anything that is not a bcrypt hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!isBcryptHash(hash)) return false;
  return bcrypt.compare(password, hash);
}

// Compared against when the user is unknown, so that unknown users take as long as wrong
// passwords and response times do not tell which user names exist. Its password is random.
const DECOY_HASH = '$2b$10$7lCnXZojcnymadXpUpGv2eQ1BskKf3l5msEC31zSXJnQpT2AaDFEe';

/**
 * An htpasswd file in use: read at start, read again when it changes on disk (so users can be
 * added without a restart), with checks that succeeded remembered for a while.
 *
 * Remembering matters because a registry client sends its password with every request and a
 * bcrypt check costs tens of milliseconds by design; a push of one image makes dozens of
 * requests. What is remembered is an HMAC of user, password and stored hash under a key that
 * lives only in this process, never the password, and a changed hash no longer matches.
 */
export class HtpasswdFile {
  private users = new Map<string, string>();
  private version = '';
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, number>();
  private static readonly CACHE_MS = 5 * 60_000;
  private static readonly CACHE_MAX = 1000;

  constructor(readonly path: string, private readonly log: (line: string) => void = () => {}) {
    this.reload(); // at start a missing or broken file is fatal, so errors propagate
  }

  /** True when the user exists and the password matches. */
  async verify(user: string, password: string): Promise<boolean> {
    this.reloadIfChanged();
    const hash = this.users.get(user);
    if (hash === undefined) {
      await verifyPassword(password, DECOY_HASH);
      return false;
    }
    const key = createHmac('sha256', this.cacheKey).update(`${user}\0${password}\0${hash}`).digest('base64');
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return true;
    if (!(await verifyPassword(password, hash))) return false;
    if (this.verified.size >= HtpasswdFile.CACHE_MAX) this.verified.clear();
    this.verified.set(key, Date.now() + HtpasswdFile.CACHE_MS);
    return true;
  }

  private reload(): void {
    const version = HtpasswdFile.versionOf(this.path);
    const parsed = parseHtpasswd(readFileSync(this.path, 'utf8'));
    for (const w of parsed.warnings) this.log(w);
    this.users = parsed.users;
    this.version = version;
  }

  private reloadIfChanged(): void {
    const version = HtpasswdFile.versionOf(this.path);
    if (version === this.version) return;
    try {
      this.reload();
    } catch (e) {
      // Keep serving with the last good copy rather than locking everyone out mid-edit; note
      // the broken version so the error is logged once, not on every request.
      this.log(`htpasswd ${this.path}: ${(e as Error).message}; keeping the previous contents`);
      this.version = version;
    }
  }

  /** Changes whenever the file is replaced or rewritten. */
  private static versionOf(path: string): string {
    try {
      const st = statSync(path);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }
}
