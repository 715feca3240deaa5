import { invalid } from './errors';

/**
 * Prices as publishers write them: `20/month`, `150/once`, `9.99/year`, `free`, optionally
 * named (`pro=50/month`); the plan's name is its period unless named. Amounts are decimal
 * with at most two places, kept as integer cents.
 */
export type Period = 'free' | 'once' | 'month' | 'year';

export interface PlanPrice {
  name: string;
  period: Period;
  amountCents: number;
}

const PERIODS = new Set(['once', 'month', 'year']);
const PLAN_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export function parsePrice(text: string): PlanPrice {
  const eq = text.indexOf('=');
  const name = eq >= 0 ? text.slice(0, eq).trim() : undefined;
  const body = (eq >= 0 ? text.slice(eq + 1) : text).trim();
  if (name !== undefined && !PLAN_NAME.test(name)) throw invalid(`plan name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
  if (body === 'free') return { name: name ?? 'free', period: 'free', amountCents: 0 };
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?\/([a-z]+)$/.exec(body);
  if (!m) throw invalid(`price ${JSON.stringify(text)} is not an amount: use AMOUNT/PERIOD (20/month, 150/once, 9.99/year) or free`);
  if (!PERIODS.has(m[3])) throw invalid(`price ${JSON.stringify(text)}: the period must be once, month or year`);
  const cents = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (cents === 0) throw invalid(`price ${JSON.stringify(text)} is zero: say free`);
  return { name: name ?? m[3], period: m[3] as Period, amountCents: cents };
}

/** 2000, 'USD' → "20.00 USD". */
export const formatAmount = (cents: number, currency: string) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')} ${currency}`;

/** When an entitlement bought at `from` on a plan of this period ends (undefined: never). */
export function endOf(period: Period, from: Date): Date | undefined {
  if (period === 'free' || period === 'once') return undefined;
  const end = new Date(from);
  if (period === 'month') end.setUTCMonth(end.getUTCMonth() + 1);
  else end.setUTCFullYear(end.getUTCFullYear() + 1);
  return end;
}
