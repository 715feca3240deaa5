import type { StoreDb } from './db';
import { getVendor, isMember } from './accounts';
import { namespaceOf, pullTerms } from './products';
import { liveEntitlement } from './purchases';

/**
 * Who may pull and push what, when the registry runs with the store. This replaces the token
 * server's ACL file:
 *
 * - In a vendor's namespace (acme/*): the vendor's members (and admins) may do everything.
 *   Others may pull a published product when it is free (logged in, or anyone if the vendor
 *   made it public) or when they hold a live entitlement to it; nothing else.
 * - Elsewhere, an account's own namespace (alice/*) is its own, as on Docker Hub; the rest,
 *   and the catalog, are the admins'.
 *
 * `refusal` says why, in words the registry sends back (`no active purchase of acme/ledger`).
 */
export interface AccessDecision {
  actions: string[];
  /** Why an action asked for is not granted, for the first one refused. */
  refusal?: string;
}

const ALL = ['pull', 'push', 'delete', '*'];

export function decideAccess(db: StoreDb, who: { account: string; admin: boolean }, type: string, name: string, asked: string[], now: string): AccessDecision {
  const grant = (allowed: string[], refusal?: string): AccessDecision => {
    const actions = asked.filter((a) => allowed.includes(a) || allowed.includes('*'));
    return { actions, refusal: actions.length < asked.length ? refusal : undefined };
  };
  if (who.admin) return grant(ALL);
  if (type !== 'repository') return grant([], `only administrators may read the ${name}`);
  const ns = namespaceOf(name);
  const vendor = getVendor(db, ns);
  if (!vendor) return who.account && ns === who.account && name.includes('/') ? grant(ALL) : grant([], `${who.account || 'an anonymous client'} may not access ${name}`);
  if (isMember(db, vendor.name, who.account)) return grant(ALL);
  const pushRefusal = `only members of vendor ${vendor.name} may push to ${name}`;
  const product = pullTerms(db, name);
  if (!product) return grant([], asked.some((a) => a !== 'pull') ? pushRefusal : `${name} is not published in this store`);
  let pull: boolean;
  let why: string;
  if (product.free) {
    pull = product.publicPull || who.account !== '';
    why = `log in to pull ${name}`;
  } else {
    pull = liveEntitlement(db, who.account, name, now) !== undefined;
    why = `no active purchase of ${name}`;
  }
  const decision = grant(pull ? ['pull'] : [], why);
  if (decision.refusal && pull) decision.refusal = pushRefusal;
  return decision;
}
