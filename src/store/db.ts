import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { MIGRATIONS } from './schema';

/**
 * The store's database: SQLite in one file (better-sqlite3, synchronous), in WAL mode so
 * readers never wait for the writer, with foreign keys enforced. Every change the store makes
 * runs inside `transaction`, so a refusal thrown half-way leaves nothing behind.
 */
export type StoreDb = Database.Database;

export function openStoreDb(file: string): StoreDb {
  // the records name accounts and their purchases: readable by the registry's user only
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: StoreDb): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`store database is at schema ${version}, newer than this berth-registry knows (${MIGRATIONS.length})`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** Runs `fn` as one transaction (IMMEDIATE: the write lock is taken first, so checks hold until commit). */
export function transaction<T>(db: StoreDb, fn: () => T): T {
  return db.transaction(fn).immediate();
}

const statements = new WeakMap<StoreDb, Map<string, Database.Statement>>();

/**
 * The prepared statement for `sql` on `db`, prepared on its first use and kept with the
 * database: paths taken on every registry request (access decisions) do not parse their SQL
 * each time. Only for fixed SQL texts: each distinct text is kept for the database's life.
 */
export function statement(db: StoreDb, sql: string): Database.Statement {
  let byText = statements.get(db);
  if (!byText) statements.set(db, (byText = new Map()));
  let st = byText.get(sql);
  if (!st) byText.set(sql, (st = db.prepare(sql)));
  return st;
}
