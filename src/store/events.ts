import { statement, type StoreDb } from './db';

/**
 * What happened to a product, in order: publishing, price changes, new versions, and each
 * purchase's life (bought, paid, refunded, revoked). Buyers list the events of the products
 * they own; purchase events carry the buyer's account and are shown only to that buyer and
 * the vendor.
 */
export type EventKind = 'published' | 'price' | 'version' | 'purchase' | 'paid' | 'refund' | 'revoke';

export interface StoreEvent {
  id: number;
  at: string;
  kind: EventKind;
  product: string;
  account: string | null;
  detail: Record<string, unknown>;
}

export function recordEvent(db: StoreDb, e: Omit<StoreEvent, 'id'>): void {
  db.prepare('INSERT INTO events (at, kind, product, account, detail) VALUES (?, ?, ?, ?, ?)').run(e.at, e.kind, e.product, e.account, JSON.stringify(e.detail));
}

interface Row {
  id: number;
  at: string;
  kind: EventKind;
  product: string;
  account: string | null;
  detail: string;
}

const toEvent = (r: Row): StoreEvent => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> });

/**
 * A buyer's events: product-wide events (no account) of every product they have bought, from
 * their first purchase of it on, and their own purchase events.
 */
export function eventsFor(db: StoreDb, account: string, product?: string): StoreEvent[] {
  const rows = db.prepare(`
    SELECT e.* FROM events e
    WHERE (e.account = @account
       OR (e.account IS NULL AND e.id > (SELECT MIN(f.id) FROM events f WHERE f.kind = 'purchase' AND f.account = @account AND f.product = e.product)))
      AND (@product IS NULL OR e.product = @product)
    ORDER BY e.id`).all({ account, product: product ?? null }) as Row[];
  return rows.map(toEvent);
}

/** A page of a vendor's events: `since` an event id (exclusive), at most `limit` of them. */
export interface EventPage {
  since: number;
  limit: number;
}

export const EVENT_PAGE_DEFAULT = 100;
export const EVENT_PAGE_MAX = 1000;

/**
 * The events of a vendor's products after `since`, oldest first, one page of them; `next` is
 * the `since` of the page after, or null when this one reaches the newest event. A vendor's
 * events only grow: they are read a page at a time, never all at once.
 */
export function eventsOfVendor(db: StoreDb, vendor: string, page: EventPage): { events: StoreEvent[]; next: number | null } {
  const rows = statement(db, 'SELECT e.* FROM events e JOIN products p ON p.repository = e.product WHERE p.vendor = ? AND e.id > ? ORDER BY e.id LIMIT ?')
    .all(vendor, page.since, page.limit + 1) as Row[];
  const more = rows.length > page.limit;
  const events = rows.slice(0, page.limit).map(toEvent);
  return { events, next: more ? events[events.length - 1].id : null };
}
