import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { openStoreDb, StoreDb } from '../../src/store/db';
import { StoreError } from '../../src/store/errors';
import { parsePrice } from '../../src/store/money';
import { invoiceProvider, PaymentProvider, testProvider } from '../../src/store/payments';
import { Store } from '../../src/store/service';
import { EVENT_PAGE_DEFAULT, EVENT_PAGE_MAX, recordEvent } from '../../src/store/events';

// The store's rules on an in-memory database: roles, publishing, buying, paying, refunds,
// lapsing, and that a refusal leaves nothing written.

interface World {
  db: StoreDb;
  store: Store;
  tags: Map<string, { tag: string; digest: string }[]>;
  setNow(iso: string): void;
}

function world(provider: PaymentProvider = invoiceProvider, selfService = false): World {
  const db = openStoreDb(':memory:');
  let now = new Date('2026-01-10T12:00:00Z');
  const tags = new Map<string, { tag: string; digest: string }[]>();
  const store = new Store({
    db,
    clock: () => now,
    provider,
    admins: new Set(['root']),
    selfServiceVendors: selfService,
    tagsOf: async (repo) => tags.get(repo) ?? [],
  });
  return { db, store, tags, setNow: (iso) => (now = new Date(iso)) };
}

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const count = (db: StoreDb, table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

async function refused(p: Promise<unknown> | (() => unknown), code: string, message: RegExp): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : await p), (e: unknown) => {
    assert.ok(e instanceof StoreError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

/** acme (owned by alice) sells acme/ledger at 20/month and 150/once. */
async function acmeLedger(w: World) {
  const root = w.store.caller('root');
  const alice = w.store.caller('alice');
  w.store.createVendor(root, 'acme', 'Acme Corp', 'alice');
  w.tags.set('acme/ledger', [{ tag: '1.0', digest: digest('a') }]);
  await w.store.publish(alice, { repository: 'acme/ledger', title: 'Ledger', prices: ['20/month', '150/once'], license: 'MIT' });
  return { root, alice, bob: w.store.caller('bob') };
}

test('prices: amounts with periods, named plans, and refusals of what is not an amount', () => {
  assert.deepEqual(parsePrice('20/month'), { name: 'month', period: 'month', amountCents: 2000 });
  assert.deepEqual(parsePrice('9.5/year'), { name: 'year', period: 'year', amountCents: 950 });
  assert.deepEqual(parsePrice('pro=150.25/once'), { name: 'pro', period: 'once', amountCents: 15025 });
  assert.deepEqual(parsePrice('free'), { name: 'free', period: 'free', amountCents: 0 });
  for (const bad of ['twenty/month', '-5/month', '20', '20/week', '1.234/once', '0/once', '1e3/month', 'Pro=1/once']) {
    assert.throws(() => parsePrice(bad), (e: unknown) => e instanceof StoreError && e.code === 'INVALID', bad);
  }
});

test('vendors: admins create them unless self-service; members act for them', async () => {
  const w = world();
  await refused(() => w.store.createVendor(w.store.caller('bob'), 'bobco'), 'DENIED', /only an administrator/);
  await refused(() => w.store.createVendor(w.store.caller(''), 'anon'), 'UNAUTHORIZED', /log in/);
  const v = w.store.createVendor(w.store.caller('root'), 'acme', 'Acme Corp', 'alice');
  assert.deepEqual(v.members, [{ account: 'alice', role: 'owner' }]);
  await refused(() => w.store.createVendor(w.store.caller('root'), 'acme'), 'CONFLICT', /already exists/);
  await refused(() => w.store.createVendor(w.store.caller('root'), 'Bad Name'), 'INVALID', /vendor name/);
  const open = world(invoiceProvider, true);
  assert.equal(open.store.createVendor(open.store.caller('bob'), 'bobco').members[0].account, 'bob');
  await refused(() => open.store.createVendor(open.store.caller('bob'), 'other', undefined, 'carol'), 'DENIED', /someone else/);
});

test('publishing: own namespace only, an image first, real prices; nothing half-written', async () => {
  const w = world();
  const { alice, bob } = await acmeLedger(w);
  const p = w.store.product('acme/ledger');
  assert.equal(p.vendorDisplayName, 'Acme Corp');
  assert.deepEqual(p.plans.map((x) => [x.name, x.amountCents]), [['month', 2000], ['once', 15000]]);
  assert.deepEqual(p.versions.map((v) => v.tag), ['1.0']);

  w.tags.set('other/x', [{ tag: '1', digest: digest('b') }]);
  await refused(w.store.publish(alice, { repository: 'other/x', vendor: 'acme', title: 'X', prices: ['1/once'] }), 'DENIED', /acme does not own other\/x/);
  await refused(w.store.publish(bob, { repository: 'acme/ledger2', title: 'X', prices: ['1/once'] }), 'DENIED', /bob is not a member of vendor acme/);
  await refused(w.store.publish(alice, { repository: 'acme/empty', title: 'Empty', prices: ['1/once'] }), 'INVALID', /no published image/);
  const before = [count(w.db, 'products'), count(w.db, 'plans'), count(w.db, 'events')];
  w.tags.set('acme/half', [{ tag: '1', digest: digest('c') }]);
  // the second price is bad: neither the product nor its first plan may remain
  await refused(w.store.publish(alice, { repository: 'acme/half', title: 'Half', prices: ['5/once', 'lots/month'] }), 'INVALID', /not an amount/);
  await refused(w.store.publish(alice, { repository: 'acme/half', title: 'Half', prices: ['5/once'], publicPull: true }), 'INVALID', /only a free product/);
  assert.deepEqual([count(w.db, 'products'), count(w.db, 'plans'), count(w.db, 'events')], before);
});

test('buying with an invoice: pending until the vendor marks it paid; twice and unknown plans refused', async () => {
  const w = world();
  const { alice, bob } = await acmeLedger(w);
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']), { actions: [], refusal: 'no active purchase of acme/ledger' });
  await refused(w.store.buy(bob, 'acme/ledger', 'weekly'), 'INVALID', /no plan "weekly": its plans are month, once/);
  await refused(w.store.buy(bob, 'acme/nothing', 'month'), 'NOT_FOUND', /no product acme\/nothing/);
  const p = await w.store.buy(bob, 'acme/ledger', 'month');
  assert.equal(p.status, 'pending');
  assert.match(p.reference ?? '', /^INV-/);
  await refused(w.store.buy(bob, 'acme/ledger', 'once'), 'CONFLICT', /waiting for payment/);
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']).actions, []);
  await refused(() => w.store.markPaid(bob, p.id), 'DENIED', /not a member of vendor acme/);

  const paid = w.store.markPaid(alice, p.id);
  assert.equal(paid.status, 'paid');
  assert.equal(paid.endsAt, '2026-02-10T12:00:00.000Z');
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull', 'push']), { actions: ['pull'], refusal: 'only members of vendor acme may push to acme/ledger' });
  await refused(() => w.store.markPaid(alice, p.id), 'CONFLICT', /is paid, not waiting/);
  await refused(w.store.buy(bob, 'acme/ledger', 'once'), 'CONFLICT', /already owns acme\/ledger/);
  assert.deepEqual(w.store.access('alice', 'repository', 'acme/ledger', ['pull', 'push']).actions, ['pull', 'push']);

  // the subscription lapses a month later: new pulls refused, and it can be bought again
  w.setNow('2026-02-10T12:00:01Z');
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']).actions, []);
  assert.equal(w.store.purchases(bob)[0].live, false);
  const again = await w.store.buy(bob, 'acme/ledger', 'once');
  assert.equal(w.store.markPaid(alice, again.id).endsAt, null);
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']).actions, ['pull']);

  const sales = w.store.sales(alice, 'acme');
  assert.equal(sales.purchases.length, 2);
  assert.deepEqual(sales.revenue, { USD: 17000 });
  await refused(() => w.store.sales(bob, 'acme'), 'DENIED', /not a member/);
});

test('refunds and revocations end the entitlement; events tell the buyer', async () => {
  const w = world(testProvider);
  const { alice, bob } = await acmeLedger(w);
  const p = await w.store.buy(bob, 'acme/ledger', 'once');
  assert.equal(p.status, 'paid', 'the test provider settles at once');
  w.store.tagged('acme/ledger', '2.0', digest('d'));
  await w.store.publish(alice, { repository: 'acme/ledger', prices: ['25/month', '150/once'] });
  const refunded = await w.store.refund(alice, p.id);
  assert.equal(refunded.status, 'refunded');
  assert.ok(refunded.revokedAt);
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']).actions, []);
  await refused(w.store.refund(alice, p.id), 'CONFLICT', /only a paid purchase/);
  const kinds = w.store.events(bob, 'acme/ledger').map((e) => e.kind);
  assert.deepEqual(kinds, ['purchase', 'paid', 'version', 'price', 'refund']);
  assert.deepEqual(w.store.events(w.store.caller('carol')), [], 'no events of products one never bought');

  const q = await w.store.buy(bob, 'acme/ledger', 'once');
  assert.equal(w.store.revoke(alice, q.id).status, 'revoked');
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']).actions, []);
});

test('free and public products, personal namespaces, and the catalog', async () => {
  const w = world();
  const { alice } = await acmeLedger(w);
  w.tags.set('acme/tools', [{ tag: 'latest', digest: digest('e') }]);
  await w.store.publish(alice, { repository: 'acme/tools', title: 'Tools', prices: ['free'] });
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/tools', ['pull']).actions, ['pull']);
  assert.deepEqual(w.store.access('', 'repository', 'acme/tools', ['pull']), { actions: [], refusal: 'log in to pull acme/tools' });
  await w.store.publish(alice, { repository: 'acme/tools', publicPull: true });
  assert.deepEqual(w.store.access('', 'repository', 'acme/tools', ['pull']).actions, ['pull']);
  await refused(w.store.buy(w.store.caller('bob'), 'acme/tools', 'free'), 'INVALID', /is free/);
  assert.deepEqual(w.store.access('', 'repository', 'acme/unpublished', ['pull']).actions, []);
  assert.deepEqual(w.store.access('bob', 'repository', 'bob/app', ['pull', 'push']).actions, ['pull', 'push']);
  assert.deepEqual(w.store.access('bob', 'repository', 'carol/app', ['pull']).actions, []);
  assert.deepEqual(w.store.access('bob', 'registry', 'catalog', ['*']).actions, []);
  assert.deepEqual(w.store.access('root', 'registry', 'catalog', ['*']).actions, ['*']);
  assert.deepEqual(w.store.search('ledger').map((p) => p.repository), ['acme/ledger']);
  assert.deepEqual(w.store.search('acme').map((p) => p.repository), ['acme/ledger', 'acme/tools']);
});

test('two refunds at once: the provider is asked once; a failed refund leaves the purchase paid', async () => {
  let refunds = 0;
  let failNext = false;
  const slow: PaymentProvider = {
    name: 'slow',
    charge: async () => ({ reference: 'CH-1', settled: true }),
    refund: async () => {
      refunds++;
      await new Promise((r) => setTimeout(r, 20));
      if (failNext) {
        failNext = false;
        throw new Error('provider unavailable');
      }
      return { reference: `RF-${refunds}` };
    },
  };
  const w = world(slow);
  const { alice, bob } = await acmeLedger(w);
  const p = await w.store.buy(bob, 'acme/ledger', 'once');
  failNext = true;
  await assert.rejects(w.store.refund(alice, p.id), /provider unavailable/);
  assert.equal(w.store.purchases(bob)[0].status, 'paid');
  assert.deepEqual(w.store.access('bob', 'repository', 'acme/ledger', ['pull']).actions, ['pull']);
  const results = await Promise.allSettled([w.store.refund(alice, p.id), w.store.refund(alice, p.id)]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.match(String(rejected.reason), /a refund of purchase \d+ is already under way/);
  assert.equal(refunds, 2, 'once failed, once refunded: never twice for one refund');
  assert.equal(w.store.purchases(bob)[0].status, 'refunded');
  assert.equal(count(w.db, 'payments'), 2, 'the charge and one refund');
});

test('vendor members: added by a member, then act for the vendor', async () => {
  const w = world();
  const { alice, bob } = await acmeLedger(w);
  await refused(() => w.store.addVendorMember(bob, 'acme', 'bob'), 'DENIED', /bob is not a member of vendor acme/);
  assert.deepEqual(w.store.addVendorMember(alice, 'acme', 'carol').members, [{ account: 'alice', role: 'owner' }, { account: 'carol', role: 'member' }]);
  const p = await w.store.buy(bob, 'acme/ledger', 'once');
  assert.equal(w.store.markPaid(w.store.caller('carol'), p.id).status, 'paid');
  assert.deepEqual(w.store.access('carol', 'repository', 'acme/ledger', ['pull', 'push']).actions, ['pull', 'push']);
  assert.deepEqual(w.store.whoami(w.store.caller('carol')), { account: 'carol', admin: false, vendors: ['acme'] });
});

test("a vendor's sales answer pages its events: a default page, pages that chain without gaps, a maximum", async () => {
  const w = world();
  const { root, alice } = await acmeLedger(w);
  // another vendor's events are never in acme's pages
  w.store.createVendor(root, 'other', 'Other', 'root');
  w.tags.set('other/tool', [{ tag: '1', digest: digest('b') }]);
  await w.store.publish(root, { repository: 'other/tool', title: 'Tool', prices: ['free'] });
  for (let i = 0; i < EVENT_PAGE_MAX * 1.2; i++) {
    recordEvent(w.db, { at: '2026-01-10T12:00:00Z', kind: 'price', product: i % 10 === 0 ? 'other/tool' : 'acme/ledger', account: null, detail: { n: i } });
  }
  const acme = (w.db.prepare("SELECT id FROM events WHERE product = 'acme/ledger' ORDER BY id").all() as { id: number }[]).map((r) => r.id);
  assert.ok(acme.length > EVENT_PAGE_MAX);

  const first = w.store.sales(alice, 'acme');
  assert.deepEqual(first.events.map((e) => e.id), acme.slice(0, EVENT_PAGE_DEFAULT));
  assert.equal(first.nextEventsSince, acme[EVENT_PAGE_DEFAULT - 1]);
  assert.equal(first.purchases.length, 0, 'purchases and revenue are whole, whatever the page');

  const seen: number[] = [];
  for (let since: number | null = 0; since !== null; ) {
    const page = w.store.sales(alice, 'acme', { since, limit: 170 });
    assert.ok(page.events.length <= 170);
    seen.push(...page.events.map((e) => e.id));
    since = page.nextEventsSince;
  }
  assert.deepEqual(seen, acme, 'every event once, in order');
  assert.equal(w.store.sales(alice, 'acme', { limit: 1_000_000 }).events.length, EVENT_PAGE_MAX);
  assert.deepEqual(w.store.sales(alice, 'acme', { since: acme[acme.length - 1] }), { ...w.store.sales(alice, 'acme', { since: acme[acme.length - 1] }), events: [], nextEventsSince: null });
});

test('access decisions prepare their SQL once per database, not per request', async () => {
  const w = world();
  const { alice } = await acmeLedger(w);
  const p = await w.store.buy(w.store.caller('bob'), 'acme/ledger', 'month');
  w.store.markPaid(alice, p.id);
  const ask = () => [
    w.store.access('bob', 'repository', 'acme/ledger', ['pull', 'push']),
    w.store.access('alice', 'repository', 'acme/ledger', ['push']),
    w.store.access('carol', 'repository', 'acme/ledger', ['pull']),
  ];
  const first = ask();
  let prepared = 0;
  const prepare = w.db.prepare.bind(w.db);
  w.db.prepare = ((sql: string) => {
    prepared++;
    return prepare(sql);
  }) as typeof w.db.prepare;
  assert.deepEqual(ask(), first, 'the same answers');
  assert.equal(prepared, 0, 'no statement prepared again');
  assert.deepEqual(first.map((d) => d.actions), [['pull'], ['push'], []]);
});
