/**
 * `berth store ...`: the image store of a berth-registry run with --store. Buyers search,
 * show, buy, list purchases and upgrade; vendors publish and look after their sales
 * (mark-paid, refund, revoke). Tables for people; --format json / TEMPLATE and -q for scripts.
 */
import { readFileSync } from 'node:fs';
import type { CommandContext, CommandSpec } from '../command';
import { formatFlagHelp } from '../command';
import type { FlagDef, ParsedFlags } from '../flags';
import { StatusError } from '../errors';
import { prepareFormat, renderList, ListFormat } from '../format/render';
import { splitProduct, StoreClient, storeTarget } from '../store/client';
import { ContainerInspect, recreate } from '../store/recreate';
import { imageOf, pinnedDigest, servicesOf, upgradeService } from '../store/services';
import { authHeaderFor } from '../credentials';
import { pullImage } from './pull';
import { StreamError } from '../format/progress';
import { formatAmount } from '../../store/money';

interface Plan { name: string; period: string; amountCents: number; currency: string }
interface Version { tag: string; digest: string; pushedAt: string }
interface Product {
  repository: string; vendor: string; vendorDisplayName: string; title: string; description: string; license: string;
  publicPull: boolean; plans: Plan[]; versions: Version[];
}
interface Purchase {
  id: number; account: string; product: string; plan: string; period: string; amountCents: number; currency: string;
  status: string; createdAt: string; endsAt: string | null; live: boolean; reference: string | null; latest?: Version | null;
}

const registryFlag: FlagDef = { name: 'registry', type: 'string', help: 'The store\'s registry (HOST:PORT); default: $BERTH_STORE, the product\'s registry, or the only one logged in to', default: '' };
const formatFlag: FlagDef = { name: 'format', type: 'string', help: formatFlagHelp, default: '' };
const quietFlag: FlagDef = { name: 'quiet', short: 'q', type: 'bool', help: 'Only display names or ids' };

const money = formatAmount;
const planText = (p: Plan) => (p.period === 'free' ? `${p.name}: free` : `${p.name}: ${money(p.amountCents, p.currency)}${p.period === 'once' ? '' : `/${p.period}`}`);
const day = (iso: string | null) => (iso ? iso.slice(0, 10) : '');
const shortDigest = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

function client(ctx: CommandContext, p: ParsedFlags, productHost?: string): StoreClient {
  return new StoreClient(storeTarget(ctx, p.values.registry as string, productHost), ctx);
}

function product(ctx: CommandContext, p: ParsedFlags, text: string): { store: StoreClient; repository: string } {
  const { host, repository } = splitProduct(text);
  return { store: client(ctx, p, host), repository };
}

function list(ctx: CommandContext, p: ParsedFlags, rows: Record<string, unknown>[], spec: ListFormat, quietKey: string): void {
  const format = p.values.quiet ? `{{.${quietKey}}}` : (p.values.format as string);
  ctx.out(renderList(prepareFormat(format, spec), rows, spec));
}

function readText(file: string | undefined, what: string): string | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new StatusError(`${what} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, 1);
  }
}

// ---------------------------------------------------------------- vendor

export const storeVendor: CommandSpec = {
  usage: 'create NAME [--display-name TEXT] [--owner ACCOUNT] | add-member VENDOR ACCOUNT | show VENDOR',
  summary: 'Create a vendor, add a member to it, or show it',
  args: { min: 2, max: 3 },
  flags: [registryFlag, { name: 'display-name', type: 'string', help: 'The name buyers see', default: '' }, { name: 'owner', type: 'string', help: 'The account that owns the vendor (administrators only; default: you)', default: '' }],
  async run(ctx, p) {
    const [action, name, account] = p.args;
    const store = client(ctx, p);
    let v: { name: string; displayName: string; members: { account: string; role: string }[] };
    if (action === 'create' && p.args.length === 2) {
      v = await store.call('POST', 'vendors', { name, displayName: (p.values['display-name'] as string) || undefined, owner: (p.values.owner as string) || undefined });
    } else if (action === 'add-member' && p.args.length === 3) {
      v = await store.call('POST', `vendors/${name}/members`, { account });
    } else if (action === 'show' && p.args.length === 2) {
      v = await store.call('GET', `vendors/${name}`);
    } else {
      throw new StatusError(`usage: berth store vendor ${storeVendor.usage}`, 1);
    }
    ctx.out(`${v.name} (${v.displayName}): ${v.members.map((m) => `${m.account} (${m.role})`).join(', ')}\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- publish

export const storePublish: CommandSpec = {
  usage: '[OPTIONS] [HOST:PORT/]VENDOR/NAME',
  summary: 'Publish a repository as a product, or update its title, prices, license or description',
  args: { min: 1, max: 1 },
  flags: [
    registryFlag,
    { name: 'title', type: 'string', help: 'Product title', default: '' },
    { name: 'price', type: 'list', help: 'A plan: AMOUNT/once, AMOUNT/month, AMOUNT/year or free; NAME=... names it (repeatable; replaces the plans)' },
    { name: 'currency', type: 'string', help: 'Currency of the prices', default: 'USD' },
    { name: 'license', type: 'string', help: 'File with the license text', default: '' },
    { name: 'description', type: 'string', help: 'File with the description (Markdown)', default: '' },
    { name: 'public', type: 'bool', help: 'A free product anyone may pull without logging in' },
    { name: 'vendor', type: 'string', help: 'The vendor publishing (default: the repository\'s namespace)', default: '' },
  ],
  async run(ctx, p) {
    const { store, repository } = product(ctx, p, p.args[0]);
    const prices = p.values.price as string[];
    const res = await store.call<Product>('POST', 'products', {
      repository,
      vendor: (p.values.vendor as string) || undefined,
      title: (p.values.title as string) || undefined,
      prices: prices.length ? prices : undefined,
      currency: p.values.currency as string,
      license: readText(p.values.license as string, 'license'),
      description: readText(p.values.description as string, 'description'),
      public: p.values.public ? true : undefined,
    });
    ctx.out(`Published ${res.repository} (${res.title}): ${res.plans.map(planText).join(', ')}; ${res.versions.length} version(s)\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- search, show

const searchFormat: ListFormat = {
  defaultTable: 'table {{.Repository}}\t{{.Title}}\t{{.Vendor}}\t{{.Plans}}\t{{.Latest}}',
  headers: { Repository: 'PRODUCT', Title: 'TITLE', Vendor: 'VENDOR', Plans: 'PLANS', Latest: 'LATEST' },
};

export const storeSearch: CommandSpec = {
  usage: '[OPTIONS] [TERM...]',
  summary: 'Search the store\'s catalogue',
  flags: [registryFlag, formatFlag, quietFlag],
  async run(ctx, p) {
    const store = client(ctx, p);
    const found = await store.call<Product[]>('GET', `products?q=${encodeURIComponent(p.args.join(' '))}`);
    list(ctx, p, found.map((x) => ({
      Repository: x.repository, Title: x.title, Vendor: x.vendorDisplayName, Plans: x.plans.map(planText).join(', '), Latest: x.versions[0]?.tag ?? '',
    })), searchFormat, 'Repository');
    return 0;
  },
};

export const storeShow: CommandSpec = {
  usage: '[OPTIONS] [HOST:PORT/]VENDOR/NAME',
  summary: 'Show a product: title, vendor, versions, plans, license',
  args: { min: 1, max: 1 },
  flags: [registryFlag, { name: 'format', type: 'string', help: 'json: the product as JSON', default: '' }],
  async run(ctx, p) {
    const { store, repository } = product(ctx, p, p.args[0]);
    const x = await store.call<Product>('GET', `products/${repository}`);
    if (p.values.format === 'json') {
      ctx.out(JSON.stringify(x) + '\n');
      return 0;
    }
    const lines = [
      `${x.title} (${x.repository})`,
      `Vendor:    ${x.vendorDisplayName} (${x.vendor})`,
      `Plans:     ${x.plans.map(planText).join(', ')}${x.publicPull ? ' (anyone may pull)' : ''}`,
      `Pull:      berth pull ${store.target.host}/${x.repository}:${x.versions[0]?.tag ?? 'TAG'}`,
      'Versions:',
      ...x.versions.map((v) => `  ${v.tag.padEnd(16)} ${v.digest}  ${day(v.pushedAt)}`),
    ];
    if (x.description) lines.push('', x.description.trimEnd());
    if (x.license) lines.push('', 'License:', x.license.trimEnd());
    ctx.out(lines.join('\n') + '\n');
    return 0;
  },
};

// ---------------------------------------------------------------- buy, purchases

export const storeBuy: CommandSpec = {
  usage: '[OPTIONS] [HOST:PORT/]VENDOR/NAME --plan PLAN',
  summary: 'Buy a product on one of its plans',
  args: { min: 1, max: 1 },
  flags: [registryFlag, { name: 'plan', type: 'string', help: 'The plan (berth store show lists them)', default: '' }],
  async run(ctx, p) {
    const { store, repository } = product(ctx, p, p.args[0]);
    const plan = p.values.plan as string;
    if (!plan) throw new StatusError('which plan? --plan NAME (berth store show lists them)', 1);
    const x = await store.call<Purchase>('POST', 'purchases', { product: repository, plan });
    const price = `${x.plan}, ${money(x.amountCents, x.currency)}`;
    if (x.status === 'paid') ctx.out(`Purchase ${x.id}: ${x.product} (${price}), paid${x.endsAt ? ` until ${day(x.endsAt)}` : ''}. Pull it: berth pull ${store.target.host}/${x.product}\n`);
    else ctx.out(`Purchase ${x.id}: ${x.product} (${price}), waiting for payment of invoice ${x.reference}. You can pull it once the vendor has marked it paid.\n`);
    return 0;
  },
};

const purchasesFormat: ListFormat = {
  defaultTable: 'table {{.ID}}\t{{.Product}}\t{{.Plan}}\t{{.Price}}\t{{.Status}}\t{{.Until}}\t{{.Latest}}\t{{.Update}}',
  headers: { ID: 'ID', Product: 'PRODUCT', Plan: 'PLAN', Price: 'PRICE', Status: 'STATUS', Until: 'UNTIL', Latest: 'LATEST', Update: 'UPGRADE', Buyer: 'BUYER', Date: 'DATE', Reference: 'REFERENCE' },
};

const statusOf = (x: Purchase) => (x.status === 'paid' && !x.live ? 'lapsed' : x.status);
const purchaseRow = (x: Purchase) => ({
  ID: x.id, Product: x.product, Plan: x.plan, Price: money(x.amountCents, x.currency), Status: statusOf(x),
  Until: x.status === 'paid' ? (x.endsAt ? day(x.endsAt) : 'forever') : '', Latest: x.latest?.tag ?? '', Update: '', Buyer: x.account, Date: day(x.createdAt), Reference: x.reference ?? '',
});

/**
 * Which products have a newer version than the images of them on this daemon: the digests
 * the local images were pulled by, against each product's newest. Without a reachable daemon,
 * nothing is said.
 */
async function upgradable(ctx: CommandContext, host: string, list: Purchase[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  let images: { RepoDigests?: string[] | null }[];
  try {
    images = await ctx.client().call('GET', '/images/json');
  } catch {
    return out;
  }
  const digests = images.flatMap((i) => i.RepoDigests ?? []);
  for (const x of list) {
    const mine = digests.filter((d) => d.startsWith(`${host}/${x.product}@`)).map((d) => d.slice(d.indexOf('@') + 1));
    if (mine.length && x.latest) out.set(x.product, !mine.includes(x.latest.digest));
  }
  return out;
}

export const storePurchases: CommandSpec = {
  usage: '[OPTIONS]',
  summary: 'List what you bought, until when, the newest version, and whether your images of it are older',
  args: { max: 0 },
  flags: [registryFlag, formatFlag, quietFlag],
  async run(ctx, p) {
    const store = client(ctx, p);
    const bought = await store.call<Purchase[]>('GET', 'purchases');
    const newer = await upgradable(ctx, store.target.host, bought);
    const rows = bought.map((x) => ({ ...purchaseRow(x), Update: newer.get(x.product) ? `berth store upgrade ${x.product}` : newer.has(x.product) ? 'up to date' : '' }));
    list(ctx, p, rows, purchasesFormat, 'ID');
    return 0;
  },
};

// ---------------------------------------------------------------- the vendor's side

export const storeSales: CommandSpec = {
  usage: '[OPTIONS] --vendor VENDOR',
  summary: 'A vendor\'s sales: buyers, plans, payments, revenue',
  args: { max: 0 },
  flags: [registryFlag, formatFlag, quietFlag, { name: 'vendor', type: 'string', help: 'The vendor', default: '' }],
  async run(ctx, p) {
    const vendor = p.values.vendor as string;
    if (!vendor) throw new StatusError('which vendor? --vendor NAME', 1);
    const store = client(ctx, p);
    const s = await store.call<{ purchases: Purchase[]; revenue: Record<string, number> }>('GET', `vendors/${vendor}/sales`);
    const format = (p.values.format as string) || 'table {{.ID}}\t{{.Buyer}}\t{{.Product}}\t{{.Plan}}\t{{.Price}}\t{{.Status}}\t{{.Date}}\t{{.Reference}}';
    ctx.out(renderList(prepareFormat(p.values.quiet ? '{{.ID}}' : format, purchasesFormat), s.purchases.map(purchaseRow), purchasesFormat));
    if (!p.values.quiet && !p.values.format) {
      ctx.out(`Revenue: ${Object.entries(s.revenue).map(([c, cents]) => money(cents, c)).join(', ') || 'none yet'}\n`);
    }
    return 0;
  },
};

function vendorAction(path: 'paid' | 'refund' | 'revoke', summary: string, done: string): CommandSpec {
  return {
    usage: '[OPTIONS] PURCHASE [PURCHASE...]',
    summary,
    args: { min: 1 },
    flags: [registryFlag],
    async run(ctx, p) {
      const store = client(ctx, p);
      let failed = false;
      for (const id of p.args) {
        try {
          const x = await store.call<Purchase>('POST', `purchases/${encodeURIComponent(id)}/${path}`);
          ctx.out(`Purchase ${x.id} (${x.account}, ${x.product}): ${done}${x.status === 'paid' && x.endsAt ? ` until ${day(x.endsAt)}` : ''}\n`);
        } catch (e) {
          if (!(e instanceof StatusError)) throw e;
          ctx.err(`${e.message}\n`);
          failed = true;
        }
      }
      return failed ? 1 : 0;
    },
  };
}

export const storeMarkPaid = vendorAction('paid', 'Mark invoices paid: the buyers may pull from now on', 'paid');
export const storeRefund = vendorAction('refund', 'Refund purchases: their buyers may no longer pull', 'refunded, no longer entitled');
export const storeRevoke = vendorAction('revoke', 'Revoke purchases without a refund: their buyers may no longer pull', 'revoked, no longer entitled');

// ---------------------------------------------------------------- events

interface StoreEvent { at: string; kind: string; product: string; account: string | null; detail: Record<string, unknown> }

/** One line for people about an event; --format json keeps the raw detail (Data). */
export function eventText(e: StoreEvent): string {
  const d = e.detail;
  const price = typeof d.amountCents === 'number' && typeof d.currency === 'string' ? money(d.amountCents, d.currency) : '';
  switch (e.kind) {
    case 'published': return `published as ${String(d.title ?? '')}`;
    case 'purchase': return `purchase ${d.purchase} by ${e.account}: plan ${d.plan}, ${price}`;
    case 'paid': return `purchase ${d.purchase} paid, ${d.until ? `until ${day(String(d.until))}` : 'for good'}`;
    case 'refund': return `purchase ${d.purchase} refunded, ${price}`;
    case 'revoke': return `purchase ${d.purchase} revoked`;
    case 'version': return `${d.tag} is ${shortDigest(String(d.digest))}${d.previousDigest ? ` (was ${shortDigest(String(d.previousDigest))})` : ' (new)'}`;
    case 'price':
      if (d.withdrawn) return `plan ${d.plan} withdrawn`;
      return `plan ${d.plan}: ${d.period === 'free' ? 'free' : `${price}${d.period === 'once' ? ' once' : ` per ${d.period}`}`}${typeof d.previousCents === 'number' ? ` (was ${money(d.previousCents, String(d.currency))})` : ''}`;
    default: return JSON.stringify(d);
  }
}

export const storeEvents: CommandSpec = {
  usage: '[OPTIONS] [[HOST:PORT/]VENDOR/NAME]',
  summary: 'Purchases, price changes and new versions of what you bought',
  args: { max: 1 },
  flags: [registryFlag, formatFlag],
  async run(ctx, p) {
    const target = p.args[0] ? product(ctx, p, p.args[0]) : { store: client(ctx, p), repository: undefined };
    const events = await target.store.call<StoreEvent[]>('GET', `events${target.repository ? `?product=${encodeURIComponent(target.repository)}` : ''}`);
    const spec: ListFormat = { defaultTable: 'table {{.Time}}\t{{.Product}}\t{{.Event}}\t{{.Detail}}', headers: { Time: 'TIME', Product: 'PRODUCT', Event: 'EVENT', Detail: 'DETAIL' } };
    list(ctx, p, events.map((e) => ({ Time: e.at.replace(/\.\d+Z$/, 'Z'), Product: e.product, Event: e.kind, Detail: eventText(e), Data: e.detail })), spec, 'Event');
    return 0;
  },
};

// ---------------------------------------------------------------- upgrade

interface ImageInspect { Id: string; RepoDigests?: string[]; Config?: Record<string, unknown> }

export const storeUpgrade: CommandSpec = {
  usage: '[OPTIONS] [HOST:PORT/]VENDOR/NAME',
  summary: 'Pull the newest version of a product and re-create your containers of it, keeping their settings',
  args: { min: 1, max: 1 },
  flags: [
    registryFlag,
    { name: 'tag', type: 'string', help: 'The version to move to (default: the newest)', default: '' },
    { name: 'dry-run', type: 'bool', help: 'Only show what would change' },
  ],
  async run(ctx, p) {
    const { store, repository } = product(ctx, p, p.args[0]);
    const x = await store.call<Product>('GET', `products/${repository}`);
    const wanted = (p.values.tag as string) || x.versions[0]?.tag;
    const version = x.versions.find((v) => v.tag === wanted);
    if (!version) throw new StatusError(`${repository} has no version ${wanted ?? ''}`.trim(), 1);
    const name = `${store.target.host}/${repository}`;
    const ref = `${name}:${version.tag}`;
    const engine = ctx.client();

    const all = await engine.call<{ Id: string; Image: string; Names: string[] }[]>('GET', '/containers/json', { query: { all: true } });
    const mine = all.filter((c) => c.Image === name || c.Image.startsWith(`${name}:`) || c.Image.startsWith(`${name}@`));
    const containers: ContainerInspect[] = [];
    for (const c of mine) containers.push(await engine.call<ContainerInspect>('GET', `/containers/${c.Id}/json`));
    const oldImages = new Map<string, ImageInspect>();
    for (const c of containers) {
      if (!oldImages.has(c.Image)) oldImages.set(c.Image, await engine.call<ImageInspect>('GET', `/images/${c.Image}/json`));
    }
    const digestIn = (img: ImageInspect) => img.RepoDigests?.find((d) => d.startsWith(`${name}@`))?.slice(name.length + 1) ?? '(not from this store)';
    const stale = containers.filter((c) => digestIn(oldImages.get(c.Image)!) !== version.digest);
    // swarm services: a service tracks a tag until pinned; pinned to the newest, it is up to date
    const services = await servicesOf(engine, name);
    const staleServices = services.filter((s) => pinnedDigest(s) !== version.digest);

    ctx.out(`${repository}: newest is ${version.tag} (${version.digest})\n`);
    for (const c of containers) {
      const old = digestIn(oldImages.get(c.Image)!);
      ctx.out(`  ${c.Name.replace(/^\//, '')}: ${old === version.digest ? `already on ${shortDigest(old)}` : `${shortDigest(old)} -> ${shortDigest(version.digest)}`}\n`);
    }
    for (const s of services) {
      const old = pinnedDigest(s);
      ctx.out(`  service ${s.Spec.Name}: ${old === version.digest ? `already on ${shortDigest(old)}` : `${old ? shortDigest(old) : imageOf(s)} -> ${shortDigest(version.digest)}`}\n`);
    }
    if (containers.length === 0 && services.length === 0) ctx.out('  no containers or services of it here\n');
    if (p.values['dry-run']) return 0;

    try {
      await pullImage(ctx, ref, { out: ctx.stdout, terminal: false, quiet: true });
    } catch (e) {
      if (e instanceof StreamError) throw new StatusError(`pulling ${ref}: ${e.message}`, 1);
      throw e;
    }
    const pulled = await engine.call<ImageInspect>('GET', `/images/${encodeURIComponent(ref)}/json`);
    ctx.out(`Pulled ${ref} (${digestIn(pulled)})\n`);
    let failed = 0;
    for (const c of stale) {
      const r = await recreate(engine, c, oldImages.get(c.Image)!.Config ?? {}, ref);
      if (r.ok) ctx.out(`${r.name}: re-created on ${version.tag}\n`);
      else {
        failed++;
        ctx.err(`${r.name}: the new version did not start (${r.why}); kept the old container\n`);
      }
    }
    for (const s of staleServices) {
      const why = await upgradeService(engine, s, `${ref}@${version.digest}`, authHeaderFor(ctx, store.target.host));
      if (why === undefined) ctx.out(`service ${s.Spec.Name}: updated to ${version.tag}\n`);
      else {
        failed++;
        ctx.err(`service ${s.Spec.Name}: the new version did not start: ${why}\n`);
      }
    }
    return failed ? 1 : 0;
  },
};
