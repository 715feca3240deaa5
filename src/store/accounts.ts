import { statement, type StoreDb } from './db';
import { conflict, denied, invalid, notFound, StoreError } from './errors';

/**
 * Who asks, and the vendors they belong to. Accounts themselves are the registry's (htpasswd
 * users): the store keeps no passwords, only which accounts are members of which vendor.
 * A vendor's name is also its namespace in the registry: vendor acme owns acme/*.
 */
export interface Caller {
  /** '' when anonymous. */
  account: string;
  admin: boolean;
}

export interface Vendor {
  name: string;
  displayName: string;
  createdAt: string;
  members: { account: string; role: 'owner' | 'member' }[];
}

// A namespace: one path component of a repository name.
const VENDOR_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export function requireLogin(c: Caller): void {
  if (!c.account) throw new StoreError('UNAUTHORIZED', 'log in first (berth login)');
}

export function getVendor(db: StoreDb, name: string): Vendor | undefined {
  const row = statement(db, 'SELECT name, display_name, created_at FROM vendors WHERE name = ?').get(name) as
    | { name: string; display_name: string; created_at: string }
    | undefined;
  if (!row) return undefined;
  const members = statement(db, 'SELECT account, role FROM vendor_members WHERE vendor = ? ORDER BY role DESC, account').all(name) as Vendor['members'];
  return { name: row.name, displayName: row.display_name, createdAt: row.created_at, members };
}

export function isMember(db: StoreDb, vendor: string, account: string): boolean {
  if (!account) return false;
  return statement(db, 'SELECT 1 FROM vendor_members WHERE vendor = ? AND account = ?').get(vendor, account) !== undefined;
}

/** Vendor members act for the vendor; admins act for every vendor. */
export function requireVendorMember(db: StoreDb, c: Caller, vendor: string): void {
  requireLogin(c);
  if (!getVendor(db, vendor)) throw notFound(`no vendor ${vendor}`);
  if (!c.admin && !isMember(db, vendor, c.account)) throw denied(`${c.account} is not a member of vendor ${vendor}`);
}

export function createVendor(db: StoreDb, c: Caller, o: { name: string; displayName?: string; owner?: string; selfService: boolean }, now: string): Vendor {
  requireLogin(c);
  if (!c.admin && !o.selfService) throw denied('only an administrator may create vendors on this registry');
  if (!VENDOR_NAME.test(o.name) || o.name.length > 64) throw invalid(`vendor name ${JSON.stringify(o.name)}: use lower-case letters, digits and . _ - between them`);
  if (o.owner !== undefined && o.owner !== c.account && !c.admin) throw denied('only an administrator may create a vendor for someone else');
  if (getVendor(db, o.name)) throw conflict(`vendor ${o.name} already exists`);
  const owner = o.owner ?? c.account;
  db.prepare('INSERT INTO vendors (name, display_name, created_at) VALUES (?, ?, ?)').run(o.name, o.displayName || o.name, now);
  db.prepare("INSERT INTO vendor_members (vendor, account, role) VALUES (?, ?, 'owner')").run(o.name, owner);
  return getVendor(db, o.name)!;
}

export function addMember(db: StoreDb, c: Caller, vendor: string, account: string): Vendor {
  requireVendorMember(db, c, vendor);
  if (!account) throw invalid('which account?');
  db.prepare("INSERT OR IGNORE INTO vendor_members (vendor, account, role) VALUES (?, ?, 'member')").run(vendor, account);
  return getVendor(db, vendor)!;
}

export function vendorsOf(db: StoreDb, account: string): string[] {
  return (db.prepare('SELECT vendor FROM vendor_members WHERE account = ? ORDER BY vendor').all(account) as { vendor: string }[]).map((r) => r.vendor);
}
