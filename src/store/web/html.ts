import { formatAmount } from '../money';
import type { Plan } from '../products';

/**
 * HTML for the store's pages: every value goes through `h` (escaping) or is markup we wrote;
 * there is no script on any page, so the pages work as plain forms and links.
 */
export const h = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Markup assembled from parts already escaped. */
export class Html {
  constructor(readonly text: string) {}
}

export const html = (strings: TemplateStringsArray, ...values: unknown[]): Html =>
  new Html(strings.reduce((out, s, i) => out + s + (i < values.length ? part(values[i]) : ''), ''));

function part(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  return h(v);
}

export const planText = (p: Plan) =>
  p.period === 'free' ? 'free' : `${formatAmount(p.amountCents, p.currency)}${p.period === 'once' ? ' once' : ` per ${p.period}`}`;

export const day = (iso: string | null | undefined) => (iso ? iso.slice(0, 10) : '');

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#16324f;color:#fff;padding:.6em 1.5em;display:flex;gap:1.2em;align-items:center}
header a{color:#fff}header .me{margin-left:auto}
main{max-width:60em;margin:1.5em auto;padding:0 1.5em}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4em .6em;border-bottom:1px solid #dde1e6}
.notice{background:#e6f4ea;border:1px solid #9ccc9c;padding:.5em 1em}.error{background:#fdecea;border:1px solid #e0a0a0;padding:.5em 1em}
pre{background:#fff;border:1px solid #dde1e6;padding:.8em;white-space:pre-wrap}
code{background:#eef0f3;padding:.1em .3em}form.inline{display:inline}button{cursor:pointer}`;

export interface Viewer {
  account: string;
  vendors: string[];
}

/** The page around `body`: header with search and the viewer's links, an optional notice. */
export function page(title: string, viewer: Viewer, body: Html, notice?: { text: string; error?: boolean }): string {
  const me = viewer.account
    ? html`<span class="me">${viewer.account} · <a href="/store/purchases">My purchases</a>${viewer.vendors.map((v) => html` · <a href="/store/vendors/${v}/sales">${v} sales</a>`)}</span>`
    : html`<span class="me"><a href="/store/login">Log in</a></span>`;
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · berth store</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${new Html(STYLE)}</style></head>
<body><header><a href="/store/"><b>berth store</b></a>
<form action="/store/" method="get"><input name="q" placeholder="Search products" aria-label="Search"> <button>Search</button></form>${me}</header>
<main>${notice ? html`<p class="${notice.error ? 'error' : 'notice'}" role="status">${notice.text}</p>` : ''}${body}</main></body></html>`.text;
}
