import { statement, type StoreDb } from './db';
import { Caller, requireVendorMember } from './accounts';
import { denied, invalid, notFound } from './errors';
import { recordEvent } from './events';
import { parsePrice, Period } from './money';

/**
 * Products: a repository a vendor sells, with a title, a description, a license, plans (its
 * prices), and versions (the repository's tags as pushed). The repository must lie in the
 * vendor's namespace and hold at least one image when published.
 */
export interface Plan {
  name: string;
  period: Period;
  amountCents: number;
  currency: string;
}

export interface Version {
  tag: string;
  digest: string;
  pushedAt: string;
}

export interface Product {
  repository: string;
  vendor: string;
  vendorDisplayName: string;
  title: string;
  description: string;
  license: string;
  /** Free products only: anonymous clients may pull too. */
  publicPull: boolean;
  publishedAt: string;
  updatedAt: string;
  plans: Plan[];
  /** Newest first. */
  versions: Version[];
}

export interface PublishRequest {
  repository: string;
  vendor?: string;
  title?: string;
  description?: string;
  license?: string;
  /** Price texts (`20/month`, `150/once`, `free`); on an update they replace the plans. */
  prices?: string[];
  publicPull?: boolean;
  currency?: string;
}

interface ProductRow {
  repository: string;
  vendor: string;
  display_name: string;
  title: string;
  description: string;
  license: string;
  public_pull: number;
  published_at: string;
  updated_at: string;
}

export const namespaceOf = (repository: string) => repository.split('/')[0];

export function getProduct(db: StoreDb, repository: string): Product | undefined {
  const row = db.prepare('SELECT p.*, v.display_name FROM products p JOIN vendors v ON v.name = p.vendor WHERE p.repository = ?').get(repository) as ProductRow | undefined;
  return row && toProduct(db, row);
}

export function requireProduct(db: StoreDb, repository: string): Product {
  const p = getProduct(db, repository);
  if (!p) throw notFound(`no product ${repository} in this store`);
  return p;
}

function toProduct(db: StoreDb, row: ProductRow): Product {
  const plans = db.prepare('SELECT name, period, amount_cents AS amountCents, currency FROM plans WHERE product = ? AND active = 1 ORDER BY amount_cents, name').all(row.repository) as Plan[];
  return {
    repository: row.repository,
    vendor: row.vendor,
    vendorDisplayName: row.display_name,
    title: row.title,
    description: row.description,
    license: row.license,
    publicPull: row.public_pull === 1,
    publishedAt: row.published_at,
    updatedAt: row.updated_at,
    plans,
    versions: versionsOf(db, row.repository),
  };
}

export function versionsOf(db: StoreDb, repository: string): Version[] {
  return db.prepare('SELECT tag, digest, pushed_at AS pushedAt FROM versions WHERE product = ? ORDER BY seq DESC').all(repository) as Version[];
}

/** Products whose name, title, vendor or description hold every word of `query`. */
export function searchProducts(db: StoreDb, query: string): Product[] {
  const rows = db.prepare('SELECT p.*, v.display_name FROM products p JOIN vendors v ON v.name = p.vendor ORDER BY p.repository').all() as ProductRow[];
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return rows
    .filter((r) => {
      const text = `${r.repository} ${r.title} ${r.display_name} ${r.description}`.toLowerCase();
      return words.every((w) => text.includes(w));
    })
    .map((r) => toProduct(db, r));
}

export const isFree = (p: Product) => p.plans.some((plan) => plan.period === 'free');

/** What a pull decision needs of a product, in one small query (it runs at every registry request). */
export function pullTerms(db: StoreDb, repository: string): { free: boolean; publicPull: boolean } | undefined {
  const row = statement(db, `SELECT p.public_pull AS publicPull,
    EXISTS (SELECT 1 FROM plans pl WHERE pl.product = p.repository AND pl.active = 1 AND pl.period = 'free') AS free
    FROM products p WHERE p.repository = ?`).get(repository) as { publicPull: number; free: number } | undefined;
  return row && { free: row.free === 1, publicPull: row.publicPull === 1 };
}

/**
 * Publishes a repository as a product, or updates one. `tags` is what the registry holds for
 * the repository now, oldest first; publishing a repository without any is refused.
 */
export function publish(db: StoreDb, c: Caller, req: PublishRequest, tags: { tag: string; digest: string }[], now: string): Product {
  const ns = namespaceOf(req.repository);
  const vendor = req.vendor ?? ns;
  requireVendorMember(db, c, vendor);
  if (!req.repository.includes('/') || ns !== vendor) {
    throw denied(`vendor ${vendor} does not own ${req.repository}: its repositories are ${vendor}/NAME`);
  }
  const prices = (req.prices ?? []).map(parsePrice);
  const names = new Set<string>();
  for (const p of prices) {
    if (names.has(p.name)) throw invalid(`two prices for plan ${p.name}: name them (basic=20/month, pro=50/month)`);
    names.add(p.name);
  }
  const currency = (req.currency ?? 'USD').toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw invalid(`currency ${JSON.stringify(req.currency)}: use a three-letter code such as USD or EUR`);
  const existing = getProduct(db, req.repository);

  if (!existing) {
    if (tags.length === 0) throw invalid(`${req.repository} has no published image: push one first`);
    if (!req.title) throw invalid('a product needs a title (--title)');
    if (prices.length === 0) throw invalid('a product needs at least one price (--price 20/month, --price 150/once or --price free)');
    db.prepare('INSERT INTO products (repository, vendor, title, description, license, public_pull, published_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(req.repository, vendor, req.title, req.description ?? '', req.license ?? '', req.publicPull ? 1 : 0, now, now);
    for (const t of tags) recordVersion(db, req.repository, t.tag, t.digest, now, false);
    recordEvent(db, { at: now, kind: 'published', product: req.repository, account: null, detail: { title: req.title } });
  } else {
    db.prepare(`UPDATE products SET title = COALESCE(?, title), description = COALESCE(?, description), license = COALESCE(?, license),
      public_pull = COALESCE(?, public_pull), updated_at = ? WHERE repository = ?`)
      .run(req.title ?? null, req.description ?? null, req.license ?? null, req.publicPull === undefined ? null : req.publicPull ? 1 : 0, now, req.repository);
  }
  if (prices.length > 0) replacePlans(db, req.repository, prices.map((p) => ({ ...p, currency })), existing !== undefined, now);
  const product = getProduct(db, req.repository)!;
  if (product.publicPull && !isFree(product)) throw invalid('only a free product can be pulled by anyone (--public needs --price free)');
  return product;
}

function replacePlans(db: StoreDb, repository: string, plans: Plan[], announce: boolean, now: string): void {
  const old = new Map((db.prepare('SELECT name, period, amount_cents AS amountCents, currency FROM plans WHERE product = ? AND active = 1').all(repository) as Plan[]).map((p) => [p.name, p]));
  db.prepare('UPDATE plans SET active = 0 WHERE product = ?').run(repository);
  const upsert = db.prepare(`INSERT INTO plans (product, name, period, amount_cents, currency, active) VALUES (?, ?, ?, ?, ?, 1)
    ON CONFLICT (product, name) DO UPDATE SET period = excluded.period, amount_cents = excluded.amount_cents, currency = excluded.currency, active = 1`);
  for (const p of plans) {
    upsert.run(repository, p.name, p.period, p.amountCents, p.currency);
    const before = old.get(p.name);
    if (announce && (!before || before.amountCents !== p.amountCents || before.period !== p.period || before.currency !== p.currency)) {
      recordEvent(db, { at: now, kind: 'price', product: repository, account: null, detail: { plan: p.name, period: p.period, amountCents: p.amountCents, currency: p.currency, ...(before ? { previousCents: before.amountCents } : {}) } });
    }
  }
  for (const name of old.keys()) {
    if (announce && !plans.some((p) => p.name === name)) recordEvent(db, { at: now, kind: 'price', product: repository, account: null, detail: { plan: name, withdrawn: true } });
  }
}

/**
 * A tag pushed to a product's repository: a new version (or a tag moved to a new digest).
 * Returns whether anything changed.
 */
export function recordVersion(db: StoreDb, repository: string, tag: string, digest: string, now: string, announce = true): boolean {
  const old = db.prepare('SELECT digest FROM versions WHERE product = ? AND tag = ?').get(repository, tag) as { digest: string } | undefined;
  if (old?.digest === digest) return false;
  const seq = ((db.prepare('SELECT MAX(seq) AS m FROM versions WHERE product = ?').get(repository) as { m: number | null }).m ?? 0) + 1;
  db.prepare(`INSERT INTO versions (product, tag, digest, pushed_at, seq) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (product, tag) DO UPDATE SET digest = excluded.digest, pushed_at = excluded.pushed_at, seq = excluded.seq`).run(repository, tag, digest, now, seq);
  if (announce) recordEvent(db, { at: now, kind: 'version', product: repository, account: null, detail: { tag, digest, ...(old ? { previousDigest: old.digest } : {}) } });
  return true;
}
