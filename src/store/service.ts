import type { StoreDb } from './db';
import { transaction } from './db';
import { addMember, Caller, createVendor, getVendor, requireLogin, requireVendorMember, Vendor, vendorsOf } from './accounts';
import { AccessDecision, decideAccess } from './access';
import type { Clock } from './clock';
import { notFound } from './errors';
import { EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX, eventsFor, eventsOfVendor, type EventPage, StoreEvent } from './events';
import type { PaymentProvider } from './payments';
import { getProduct, Product, publish, PublishRequest, recordVersion, requireProduct, searchProducts, Version, versionsOf } from './products';
import * as purchases from './purchases';
import type { Purchase } from './purchases';

/**
 * The store's actions, each one checked for who asks and run as one transaction. The payment
 * provider is the one thing called outside a transaction (it may be slow or remote): buying is
 * a pending purchase first, then the provider's answer recorded; a refund asks the provider
 * first, then records it.
 */
export interface StoreOptions {
  db: StoreDb;
  clock: Clock;
  provider: PaymentProvider;
  admins: ReadonlySet<string>;
  /** Whether any logged-in account may create a vendor for itself, or only admins may. */
  selfServiceVendors: boolean;
  /** The tags a repository holds now, with their digests, oldest first (from the registry's storage). */
  tagsOf(repository: string): Promise<{ tag: string; digest: string }[]>;
}

export interface Sales {
  vendor: Vendor;
  purchases: Purchase[];
  /** Paid minus refunded, per currency, in cents. */
  revenue: Record<string, number>;
  /** a page of the vendor's events, oldest first (see `sales`) */
  events: StoreEvent[];
  /** the `since` of the next page of events, or null when this page reaches the newest */
  nextEventsSince: number | null;
}

export class Store {
  constructor(private readonly o: StoreOptions) {}

  private now = () => this.o.clock().toISOString();
  private tx = <T>(fn: () => T) => transaction(this.o.db, fn);

  caller(account: string): Caller {
    return { account, admin: account !== '' && this.o.admins.has(account) };
  }

  whoami(c: Caller): { account: string; admin: boolean; vendors: string[] } {
    requireLogin(c);
    return { account: c.account, admin: c.admin, vendors: vendorsOf(this.o.db, c.account) };
  }

  createVendor(c: Caller, name: string, displayName?: string, owner?: string): Vendor {
    return this.tx(() => createVendor(this.o.db, c, { name, displayName, owner, selfService: this.o.selfServiceVendors }, this.now()));
  }

  addVendorMember(c: Caller, vendor: string, account: string): Vendor {
    return this.tx(() => addMember(this.o.db, c, vendor, account));
  }

  vendor(c: Caller, name: string): Vendor {
    requireVendorMember(this.o.db, c, name);
    return getVendor(this.o.db, name)!;
  }

  async publish(c: Caller, req: PublishRequest): Promise<Product> {
    requireLogin(c);
    const tags = await this.o.tagsOf(req.repository);
    return this.tx(() => publish(this.o.db, c, req, tags, this.now()));
  }

  search(query: string): Product[] {
    return searchProducts(this.o.db, query);
  }

  product(repository: string): Product {
    return requireProduct(this.o.db, repository);
  }

  async buy(c: Caller, product: string, plan: string): Promise<Purchase> {
    const p = this.tx(() => purchases.openPurchase(this.o.db, c, product, plan, this.o.provider.name, this.now()));
    let result;
    try {
      result = await this.o.provider.charge({ purchase: p.id, account: p.account, product: p.product, plan: p.plan, amountCents: p.amountCents, currency: p.currency });
    } catch (e) {
      this.tx(() => purchases.failCharge(this.o.db, p.id, (e as Error).message, this.now()));
      throw e;
    }
    return this.tx(() => purchases.recordCharge(this.o.db, p.id, result.reference, result.settled, this.now()));
  }

  /** The caller's purchases, each with the product's newest version. */
  purchases(c: Caller): (Purchase & { latest: Version | null })[] {
    requireLogin(c);
    return purchases.purchasesOf(this.o.db, c.account, this.now()).map((p) => ({ ...p, latest: versionsOf(this.o.db, p.product)[0] ?? null }));
  }

  /** A vendor's purchases and revenue, and its events after `since` (an event id), `limit` at most (EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX). */
  sales(c: Caller, vendor: string, page: Partial<EventPage> = {}): Sales {
    requireVendorMember(this.o.db, c, vendor);
    const list = purchases.salesOf(this.o.db, vendor, this.now());
    const revenue: Record<string, number> = {};
    for (const p of list) {
      if (p.status === 'paid') revenue[p.currency] = (revenue[p.currency] ?? 0) + p.amountCents;
      else revenue[p.currency] ??= 0;
    }
    const events = eventsOfVendor(this.o.db, vendor, { since: page.since ?? 0, limit: Math.min(page.limit ?? EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX) });
    return { vendor: getVendor(this.o.db, vendor)!, purchases: list, revenue, events: events.events, nextEventsSince: events.next };
  }

  markPaid(c: Caller, id: number): Purchase {
    return this.tx(() => purchases.markPaid(this.o.db, c, id, this.now()));
  }

  async refund(c: Caller, id: number): Promise<Purchase> {
    const p = this.tx(() => purchases.openRefund(this.o.db, c, id, this.o.provider.name, this.now()));
    let reference: string;
    try {
      ({ reference } = await this.o.provider.refund({ purchase: p.id, account: p.account, product: p.product, plan: p.plan, amountCents: p.amountCents, currency: p.currency, reference: p.reference ?? '' }));
    } catch (e) {
      this.tx(() => purchases.abandonRefund(this.o.db, id));
      throw e;
    }
    return this.tx(() => purchases.recordRefund(this.o.db, c, id, reference, this.now()));
  }

  revoke(c: Caller, id: number): Purchase {
    return this.tx(() => purchases.revoke(this.o.db, c, id, this.now()));
  }

  events(c: Caller, product?: string): StoreEvent[] {
    requireLogin(c);
    if (product && !getProduct(this.o.db, product)) throw notFound(`no product ${product} in this store`);
    return eventsFor(this.o.db, c.account, product);
  }

  /** For the token service and the registry: what `account` may do on a resource now. */
  access(account: string, type: string, name: string, actions: string[]): AccessDecision {
    return decideAccess(this.o.db, this.caller(account), type, name, actions, this.now());
  }

  /** The registry tagged a manifest: a new version if the repository is a product. */
  tagged(repository: string, tag: string, digest: string): void {
    if (!getProduct(this.o.db, repository)) return;
    this.tx(() => recordVersion(this.o.db, repository, tag, digest, this.now()));
  }
}
