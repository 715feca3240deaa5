import { statement, type StoreDb } from './db';
import { Caller, requireLogin, requireVendorMember } from './accounts';
import { conflict, invalid, notFound } from './errors';
import { recordEvent } from './events';
import { endOf, Period } from './money';
import { requireProduct } from './products';

/**
 * Purchases, the entitlements they give, and the payments behind them.
 *
 *   pending ──paid──▶ paid ──refund──▶ refunded
 *      │                └────revoke──▶ revoked
 *      └──revoke──▶ revoked          (failed: the provider refused the charge)
 *
 * A purchase becomes paid in the same transaction that creates its entitlement; refunding or
 * revoking ends the entitlement in the same transaction. An entitlement is live while it is
 * not revoked and its end (if any: subscriptions end, one-time purchases do not) is ahead.
 */
export type PurchaseStatus = 'pending' | 'paid' | 'refunded' | 'revoked' | 'failed';

export interface Purchase {
  id: number;
  account: string;
  product: string;
  plan: string;
  period: Period;
  amountCents: number;
  currency: string;
  status: PurchaseStatus;
  createdAt: string;
  updatedAt: string;
  /** From the entitlement, once paid. */
  startsAt: string | null;
  endsAt: string | null;
  revokedAt: string | null;
  live: boolean;
  /** The charge's provider reference (an invoice number). */
  reference: string | null;
}

interface Row extends Omit<Purchase, 'live'> {}

const SELECT = `SELECT p.id, p.account, p.product, p.plan, pl.period, p.amount_cents AS amountCents, p.currency, p.status,
  p.created_at AS createdAt, p.updated_at AS updatedAt, e.starts_at AS startsAt, e.ends_at AS endsAt, e.revoked_at AS revokedAt,
  (SELECT reference FROM payments x WHERE x.purchase = p.id AND x.kind = 'charge' ORDER BY x.id LIMIT 1) AS reference
  FROM purchases p JOIN plans pl ON pl.product = p.product AND pl.name = p.plan
  LEFT JOIN entitlements e ON e.purchase = p.id`;

const isLive = (r: { status: string; revokedAt: string | null; endsAt: string | null }, now: string) =>
  r.status === 'paid' && r.revokedAt === null && (r.endsAt === null || r.endsAt > now);

const withLive = (now: string) => (r: Row): Purchase => ({ ...r, live: isLive(r, now) });

export function getPurchase(db: StoreDb, id: number, now: string): Purchase | undefined {
  const r = db.prepare(`${SELECT} WHERE p.id = ?`).get(id) as Row | undefined;
  return r && withLive(now)(r);
}

export function purchasesOf(db: StoreDb, account: string, now: string): Purchase[] {
  return (db.prepare(`${SELECT} WHERE p.account = ? ORDER BY p.id`).all(account) as Row[]).map(withLive(now));
}

export function salesOf(db: StoreDb, vendor: string, now: string): Purchase[] {
  return (db.prepare(`${SELECT} JOIN products pr ON pr.repository = p.product WHERE pr.vendor = ? ORDER BY p.id`).all(vendor) as Row[]).map(withLive(now));
}

/** The account's live entitlement to a product, or why there is none. */
export function liveEntitlement(db: StoreDb, account: string, product: string, now: string): Purchase | undefined {
  if (!account) return undefined;
  // the common answer first, from the entitlements index alone
  const any = statement(db, 'SELECT 1 FROM entitlements WHERE account = ? AND product = ? AND revoked_at IS NULL AND (ends_at IS NULL OR ends_at > ?)').get(account, product, now);
  if (!any) return undefined;
  const rows = (statement(db, `${SELECT} WHERE p.account = ? AND p.product = ? AND p.status = 'paid'`).all(account, product) as Row[]).map(withLive(now));
  return rows.find((r) => r.live);
}

/**
 * Step one of buying: a pending purchase with a pending charge. Refused when the product has
 * no image, the plan is unknown or free, or the account already owns it or has a purchase of
 * it waiting.
 */
export function openPurchase(db: StoreDb, c: Caller, product: string, planName: string, provider: string, now: string): Purchase {
  requireLogin(c);
  const p = requireProduct(db, product);
  if (p.versions.length === 0) throw invalid(`${product} has no published image yet`);
  const plan = p.plans.find((x) => x.name === planName);
  if (!plan) throw invalid(`${product} has no plan ${JSON.stringify(planName)}: its plans are ${p.plans.map((x) => x.name).join(', ')}`);
  if (plan.period === 'free') throw invalid(`${product} is free: pull it, there is nothing to buy`);
  const owned = liveEntitlement(db, c.account, product, now);
  if (owned) throw conflict(`${c.account} already owns ${product} (purchase ${owned.id}${owned.endsAt ? `, until ${owned.endsAt}` : ''})`);
  const waiting = db.prepare("SELECT id FROM purchases WHERE account = ? AND product = ? AND status = 'pending'").get(c.account, product) as { id: number } | undefined;
  if (waiting) throw conflict(`${c.account} already has purchase ${waiting.id} of ${product} waiting for payment`);
  const id = Number(db.prepare("INSERT INTO purchases (account, product, plan, amount_cents, currency, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)")
    .run(c.account, product, plan.name, plan.amountCents, plan.currency, now, now).lastInsertRowid);
  db.prepare("INSERT INTO payments (purchase, provider, kind, amount_cents, currency, status, reference, created_at) VALUES (?, ?, 'charge', ?, ?, 'pending', '', ?)")
    .run(id, provider, plan.amountCents, plan.currency, now);
  recordEvent(db, { at: now, kind: 'purchase', product, account: c.account, detail: { purchase: id, plan: plan.name, amountCents: plan.amountCents, currency: plan.currency } });
  return getPurchase(db, id, now)!;
}

/** Step two: what the provider answered. A settled charge pays the purchase at once. */
export function recordCharge(db: StoreDb, id: number, reference: string, settled: boolean, now: string): Purchase {
  db.prepare("UPDATE payments SET reference = ? WHERE purchase = ? AND kind = 'charge'").run(reference, id);
  if (settled) settle(db, id, now);
  return getPurchase(db, id, now)!;
}

export function failCharge(db: StoreDb, id: number, why: string, now: string): void {
  db.prepare("UPDATE payments SET status = 'failed', reference = ? WHERE purchase = ? AND kind = 'charge'").run(why.slice(0, 200), id);
  db.prepare("UPDATE purchases SET status = 'failed', updated_at = ? WHERE id = ?").run(now, id);
}

function settle(db: StoreDb, id: number, now: string): void {
  const p = getPurchase(db, id, now)!;
  db.prepare("UPDATE payments SET status = 'settled', settled_at = ? WHERE purchase = ? AND kind = 'charge'").run(now, id);
  db.prepare("UPDATE purchases SET status = 'paid', updated_at = ? WHERE id = ?").run(now, id);
  const end = endOf(p.period, new Date(now));
  db.prepare('INSERT INTO entitlements (purchase, account, product, starts_at, ends_at) VALUES (?, ?, ?, ?, ?)').run(id, p.account, p.product, now, end ? end.toISOString() : null);
  recordEvent(db, { at: now, kind: 'paid', product: p.product, account: p.account, detail: { purchase: id, until: end?.toISOString() ?? null } });
}

/** A purchase of one of the vendor's products, for one of the vendor's actions. */
function vendorsPurchase(db: StoreDb, c: Caller, id: number, now: string): Purchase {
  const p = getPurchase(db, id, now);
  if (!p) throw notFound(`no purchase ${id}`);
  const vendor = requireProduct(db, p.product).vendor;
  requireVendorMember(db, c, vendor);
  return p;
}

/** The vendor confirms an invoice was paid: the buyer's entitlement starts now. */
export function markPaid(db: StoreDb, c: Caller, id: number, now: string): Purchase {
  const p = vendorsPurchase(db, c, id, now);
  if (p.status !== 'pending') throw conflict(`purchase ${id} is ${p.status}, not waiting for payment`);
  const owned = liveEntitlement(db, p.account, p.product, now);
  if (owned) throw conflict(`${p.account} already owns ${p.product} (purchase ${owned.id})`);
  settle(db, id, now);
  return getPurchase(db, id, now)!;
}

/**
 * Step one of a refund: a pending refund payment, so that a second refund of the same purchase
 * is refused (a unique index: one refund per purchase) before the provider is asked twice.
 */
export function openRefund(db: StoreDb, c: Caller, id: number, provider: string, now: string): Purchase {
  const p = vendorsPurchase(db, c, id, now);
  if (p.status !== 'paid') throw conflict(`purchase ${id} is ${p.status}: only a paid purchase can be refunded`);
  if (db.prepare("SELECT 1 FROM payments WHERE purchase = ? AND kind = 'refund'").get(id)) throw conflict(`a refund of purchase ${id} is already under way`);
  db.prepare("INSERT INTO payments (purchase, provider, kind, amount_cents, currency, status, reference, created_at) VALUES (?, ?, 'refund', ?, ?, 'pending', '', ?)")
    .run(id, provider, p.amountCents, p.currency, now);
  return p;
}

/** The provider refused the refund: as if it had not been asked. */
export function abandonRefund(db: StoreDb, id: number): void {
  db.prepare("DELETE FROM payments WHERE purchase = ? AND kind = 'refund' AND status = 'pending'").run(id);
}

/** Step two: the provider refunded; the entitlement ends. */
export function recordRefund(db: StoreDb, c: Caller, id: number, reference: string, now: string): Purchase {
  const p = getPurchase(db, id, now)!;
  db.prepare("UPDATE payments SET status = 'settled', reference = ?, settled_at = ? WHERE purchase = ? AND kind = 'refund'").run(reference, now, id);
  endPurchase(db, p, 'refunded', now);
  recordEvent(db, { at: now, kind: 'refund', product: p.product, account: p.account, detail: { purchase: id, amountCents: p.amountCents, currency: p.currency, by: c.account } });
  return getPurchase(db, id, now)!;
}

/** The vendor withdraws a purchase without refunding it (abuse, an unpaid invoice). */
export function revoke(db: StoreDb, c: Caller, id: number, now: string): Purchase {
  const p = vendorsPurchase(db, c, id, now);
  if (p.status !== 'paid' && p.status !== 'pending') throw conflict(`purchase ${id} is already ${p.status}`);
  endPurchase(db, p, 'revoked', now);
  recordEvent(db, { at: now, kind: 'revoke', product: p.product, account: p.account, detail: { purchase: id, by: c.account } });
  return getPurchase(db, id, now)!;
}

function endPurchase(db: StoreDb, p: Purchase, status: 'refunded' | 'revoked', now: string): void {
  db.prepare('UPDATE purchases SET status = ?, updated_at = ? WHERE id = ?').run(status, now, p.id);
  db.prepare('UPDATE entitlements SET revoked_at = ? WHERE purchase = ? AND revoked_at IS NULL').run(now, p.id);
  if (p.status === 'pending') db.prepare("UPDATE payments SET status = 'failed' WHERE purchase = ? AND kind = 'charge' AND status = 'pending'").run(p.id);
}

