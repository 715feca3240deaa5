/**
 * The store's tables, as an ordered list of migrations: migration i brings a database from
 * user_version i to i+1, so a database made by an older berth-registry is brought up to date
 * on open and one made by a newer one is refused. Never edit a released migration; add one.
 *
 * Money is integer minor units (cents) with its currency beside it, never a float. Times are
 * RFC 3339 UTC text, which sorts as time does. No card data has a column: payments hold the
 * provider's reference only.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE vendors (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE vendor_members (
    vendor TEXT NOT NULL REFERENCES vendors(name),
    account TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    PRIMARY KEY (vendor, account)
  );
  CREATE TABLE products (
    repository TEXT PRIMARY KEY,
    vendor TEXT NOT NULL REFERENCES vendors(name),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    license TEXT NOT NULL DEFAULT '',
    public_pull INTEGER NOT NULL DEFAULT 0,
    published_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE plans (
    product TEXT NOT NULL REFERENCES products(repository),
    name TEXT NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('free', 'once', 'month', 'year')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (product, name)
  );
  CREATE TABLE versions (
    product TEXT NOT NULL REFERENCES products(repository),
    tag TEXT NOT NULL,
    digest TEXT NOT NULL,
    pushed_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (product, tag)
  );
  CREATE TABLE purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    product TEXT NOT NULL REFERENCES products(repository),
    plan TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'refunded', 'revoked', 'failed')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  -- one unpaid purchase of a product per account at a time
  CREATE UNIQUE INDEX purchases_one_pending ON purchases (account, product) WHERE status = 'pending';
  CREATE INDEX purchases_by_product ON purchases (product);
  CREATE TABLE entitlements (
    purchase INTEGER PRIMARY KEY REFERENCES purchases(id),
    account TEXT NOT NULL,
    product TEXT NOT NULL REFERENCES products(repository),
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    revoked_at TEXT
  );
  CREATE INDEX entitlements_by_account ON entitlements (account, product);
  CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    purchase INTEGER NOT NULL REFERENCES purchases(id),
    provider TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'settled', 'failed')),
    reference TEXT NOT NULL,
    created_at TEXT NOT NULL,
    settled_at TEXT
  );
  -- one refund per purchase: a second one is refused before the provider is asked again
  CREATE UNIQUE INDEX payments_one_refund ON payments (purchase) WHERE kind = 'refund';
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    product TEXT NOT NULL,
    account TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX events_by_product ON events (product, id);
  `,
];
