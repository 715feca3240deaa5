import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSameOrigin } from '../../common/same-origin';
import { StoreError } from '../errors';
import { formatAmount } from '../money';
import type { Product } from '../products';
import type { Purchase } from '../purchases';
import type { Store } from '../service';
import { day, html, page, planText, Viewer } from './html';

/**
 * The store's web pages, served by the registry beside its API, for the same accounts (the
 * browser's own Basic login against the htpasswd users):
 *
 *   GET  /store/[?q=]                      the catalogue
 *   GET  /store/products/NS/NAME           a product: versions, plans, license, pull command
 *   POST /store/products/NS/NAME/buy       plan=...
 *   GET  /store/purchases                  the viewer's purchases
 *   GET  /store/vendors/NAME/sales         a vendor's sales, with its actions
 *   POST /store/purchases/ID/paid|refund|revoke
 *   GET  /store/login                      asks the browser to log in, then back to the catalogue
 *
 * Every action is a form POST answered by a redirect (303) to the page it came from, with a
 * notice. POSTs must come from the store's own pages: a browser sends Basic credentials with
 * any request to this origin, so a form on another site must not be able to buy or refund.
 */
export const WEB_PREFIX = '/store/';
const REALM = 'Basic realm="berth-registry", charset="UTF-8"';

export interface WebRequest {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  /** '' when anonymous; identification errors (a wrong password) are thrown before this. */
  account: string;
  /** What the registry's address is to the browser, for pull commands: host[:port]. */
  host: string;
  /** served over TLS: a form's Origin must then be https:// */
  https: boolean;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body);
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(bytes.length), 'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'", 'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(bytes);
}

const redirect = (res: ServerResponse, to: string) => {
  res.writeHead(303, { Location: to, 'Content-Length': '0' });
  res.end();
};

const withNotice = (to: string, text: string) => `${to}?done=${encodeURIComponent(text)}`;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new StoreError('INVALID', 'form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}


function viewerOf(store: Store, account: string): Viewer {
  return account ? { account, vendors: store.whoami(store.caller(account)).vendors } : { account: '', vendors: [] };
}

const productRows = (list: Product[]) =>
  list.map((p) => html`<tr><td><a href="/store/products/${p.repository}">${p.title}</a><br><small>${p.repository}</small></td>
<td>${p.vendorDisplayName}</td><td>${p.plans.map((x) => html`<div>${x.name}: ${planText(x)}</div>`)}</td><td>${p.versions[0]?.tag ?? ''}</td></tr>`);

function catalogue(store: Store, w: WebRequest, v: Viewer, notice?: string): string {
  const q = w.query.get('q') ?? '';
  const list = store.search(q);
  const body = html`<h1>${q ? `Products matching “${q}”` : 'Catalogue'}</h1>
${list.length ? html`<table><thead><tr><th>Product</th><th>Vendor</th><th>Plans</th><th>Latest</th></tr></thead><tbody>${productRows(list)}</tbody></table>` : html`<p>No products${q ? ' match' : ' yet'}.</p>`}`;
  return page('Catalogue', v, body, notice ? { text: notice } : undefined);
}

function productPage(store: Store, w: WebRequest, v: Viewer, repository: string, notice?: string): string {
  const p = store.product(repository);
  const mine = v.account ? store.purchases(store.caller(v.account)).filter((x) => x.product === repository) : [];
  const live = mine.find((x) => x.live);
  const waiting = mine.find((x) => x.status === 'pending');
  const latest = p.versions[0]?.tag ?? 'TAG';
  const owns = live
    ? html`<p class="notice">You own this${live.endsAt ? html` until ${day(live.endsAt)}` : ''} (purchase ${live.id}).</p>`
    : waiting
      ? html`<p class="notice">Purchase ${waiting.id} is waiting for payment of invoice ${waiting.reference ?? ''}.</p>`
      : '';
  const buy = (plan: string) =>
    v.account
      ? html`<form class="inline" method="post" action="/store/products/${p.repository}/buy"><input type="hidden" name="plan" value="${plan}"><button>Buy ${plan}</button></form>`
      : html`<a href="/store/login">Log in to buy</a>`;
  const body = html`<h1>${p.title}</h1><p>${p.repository} by <b>${p.vendorDisplayName}</b></p>${owns}
<h2>Plans</h2><table><tbody>${p.plans.map((x) => html`<tr><td>${x.name}</td><td>${planText(x)}</td><td>${x.period === 'free' ? 'Pull it' : live || waiting ? '' : buy(x.name)}</td></tr>`)}</tbody></table>
<h2>Pull</h2><p><code>berth pull ${w.host}/${p.repository}:${latest}</code></p>
<h2>Versions</h2><table><thead><tr><th>Tag</th><th>Digest</th><th>Pushed</th></tr></thead><tbody>${p.versions.map((x) => html`<tr><td>${x.tag}</td><td><code>${x.digest}</code></td><td>${day(x.pushedAt)}</td></tr>`)}</tbody></table>
${p.description ? html`<h2>Description</h2><pre>${p.description}</pre>` : ''}
${p.license ? html`<h2>License</h2><pre>${p.license}</pre>` : ''}`;
  return page(p.title, v, body, notice ? { text: notice } : undefined);
}

const statusText = (x: Purchase) => (x.status === 'paid' && !x.live ? 'lapsed' : x.status);

function purchasesPage(store: Store, v: Viewer, notice?: string): string {
  const list = store.purchases(store.caller(v.account));
  const body = html`<h1>My purchases</h1>${list.length ? html`<table><thead><tr><th>#</th><th>Product</th><th>Plan</th><th>Price</th><th>Status</th><th>Until</th><th>Latest</th></tr></thead><tbody>
${list.map((x) => html`<tr><td>${x.id}</td><td><a href="/store/products/${x.product}">${x.product}</a></td><td>${x.plan}</td><td>${formatAmount(x.amountCents, x.currency)}</td>
<td>${statusText(x)}</td><td>${x.status === 'paid' ? (x.endsAt ? day(x.endsAt) : 'forever') : ''}</td><td>${x.latest?.tag ?? ''}</td></tr>`)}</tbody></table>` : html`<p>Nothing yet: <a href="/store/">browse the catalogue</a>.</p>`}`;
  return page('My purchases', v, body, notice ? { text: notice } : undefined);
}

function salesPage(store: Store, v: Viewer, vendor: string, notice?: string): string {
  const s = store.sales(store.caller(v.account), vendor);
  const action = (x: Purchase, what: string, label: string) =>
    html`<form class="inline" method="post" action="/store/purchases/${x.id}/${what}"><button>${label}</button></form>`;
  const actions = (x: Purchase) =>
    x.status === 'pending' ? [action(x, 'paid', 'Mark paid'), ' ', action(x, 'revoke', 'Cancel')] : x.status === 'paid' ? [action(x, 'refund', 'Refund'), ' ', action(x, 'revoke', 'Revoke')] : [];
  const revenue = Object.entries(s.revenue).map(([c, cents]) => formatAmount(cents, c)).join(', ') || 'none yet';
  const body = html`<h1>${s.vendor.displayName}: sales</h1><p>Revenue: <b>${revenue}</b></p>
${s.purchases.length ? html`<table><thead><tr><th>#</th><th>Buyer</th><th>Product</th><th>Plan</th><th>Price</th><th>Status</th><th>Date</th><th>Reference</th><th></th></tr></thead><tbody>
${s.purchases.map((x) => html`<tr><td>${x.id}</td><td>${x.account}</td><td>${x.product}</td><td>${x.plan}</td><td>${formatAmount(x.amountCents, x.currency)}</td><td>${statusText(x)}</td>
<td>${day(x.createdAt)}</td><td>${x.reference ?? ''}</td><td>${actions(x)}</td></tr>`)}</tbody></table>` : html`<p>No sales yet.</p>`}`;
  return page(`${s.vendor.displayName} sales`, v, body, notice ? { text: notice } : undefined);
}

/** Serves one page or action; store refusals become a page with the message and their status. */
export async function handleWeb(store: Store, w: WebRequest): Promise<void> {
  const method = w.req.method ?? 'GET';
  const rest = w.path.slice(WEB_PREFIX.length);
  const notice = w.query.get('done') ?? undefined;
  const needLogin = () => {
    if (!w.account) throw new StoreError('UNAUTHORIZED', 'Log in to see this page.');
  };
  let m: RegExpExecArray | null;
  try {
    if (method === 'GET' || method === 'HEAD') {
      if (rest === 'login') {
        if (!w.account) throw new StoreError('UNAUTHORIZED', 'Log in with your registry account.');
        return redirect(w.res, '/store/');
      }
      const v = viewerOf(store, w.account);
      if (rest === '') return send(w.res, 200, catalogue(store, w, v, notice));
      if ((m = /^products\/(.+)$/.exec(rest))) return send(w.res, 200, productPage(store, w, v, m[1], notice));
      if (rest === 'purchases') {
        needLogin();
        return send(w.res, 200, purchasesPage(store, v, notice));
      }
      if ((m = /^vendors\/([^/]+)\/sales$/.exec(rest))) {
        needLogin();
        return send(w.res, 200, salesPage(store, v, m[1], notice));
      }
      throw new StoreError('NOT_FOUND', `No page ${w.path}.`);
    }
    if (method !== 'POST') throw new StoreError('INVALID', `${method} is not allowed here.`);
    if (!isSameOrigin(w.req, w.https)) throw new StoreError('DENIED', 'This form did not come from the store\'s own pages.');
    needLogin();
    const caller = store.caller(w.account);
    if ((m = /^products\/(.+)\/buy$/.exec(rest))) {
      const form = await readForm(w.req);
      const x = await store.buy(caller, m[1], form.get('plan') ?? '');
      const text = x.status === 'paid' ? `Bought ${x.product} (${x.plan}).` : `Purchase ${x.id} of ${x.product} (${x.plan}) is waiting for payment of invoice ${x.reference ?? ''}.`;
      return redirect(w.res, withNotice(`/store/products/${x.product}`, text));
    }
    if ((m = /^purchases\/(\d{1,15})\/(paid|refund|revoke)$/.exec(rest))) {
      w.req.resume();
      const id = Number(m[1]);
      const x = m[2] === 'paid' ? store.markPaid(caller, id) : m[2] === 'refund' ? await store.refund(caller, id) : store.revoke(caller, id);
      const vendor = store.product(x.product).vendor;
      return redirect(w.res, withNotice(`/store/vendors/${vendor}/sales`, `Purchase ${x.id} (${x.account}, ${x.product}) is now ${x.status}.`));
    }
    throw new StoreError('NOT_FOUND', `No action ${w.path}.`);
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    w.req.resume();
    const v = e.code === 'UNAUTHORIZED' ? { account: '', vendors: [] } : viewerOf(store, w.account);
    const body = page('Refused', v, html`<h1>${e.code === 'NOT_FOUND' ? 'Not found' : e.code === 'UNAUTHORIZED' ? 'Log in' : 'Refused'}</h1><p><a href="/store/">Back to the catalogue</a></p>`, { text: e.message, error: true });
    send(w.res, e.status, body, { ...(e.status === 401 ? { 'WWW-Authenticate': REALM } : {}), ...(w.req.complete ? {} : { Connection: 'close' }) });
  }
}

