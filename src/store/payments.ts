import { randomBytes } from 'node:crypto';

/**
 * How money moves, behind one small interface. The store never sees card data: a provider
 * takes a charge request and answers with its own reference and whether the money is already
 * in (settled) or will be confirmed later (pending: the vendor marks it paid). A provider that
 * talks to a payment service would redirect the buyer there and confirm by webhook; the store's
 * side stays these two calls.
 */
export interface ChargeRequest {
  purchase: number;
  account: string;
  product: string;
  plan: string;
  amountCents: number;
  currency: string;
}

export interface ChargeResult {
  reference: string;
  settled: boolean;
}

export interface PaymentProvider {
  readonly name: string;
  charge(req: ChargeRequest): Promise<ChargeResult>;
  refund(req: ChargeRequest & { reference: string }): Promise<{ reference: string }>;
}

const ref = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;

/** Invoices: the purchase waits until the vendor says the invoice was paid. */
export const invoiceProvider: PaymentProvider = {
  name: 'invoice',
  charge: async () => ({ reference: ref('INV'), settled: false }),
  refund: async () => ({ reference: ref('CRN') }), // a credit note
};

/** For development and tests: every charge settles at once. */
export const testProvider: PaymentProvider = {
  name: 'test',
  charge: async () => ({ reference: ref('TEST'), settled: true }),
  refund: async () => ({ reference: ref('TESTREFUND') }),
};

export function providerNamed(name: string): PaymentProvider {
  const p = [invoiceProvider, testProvider].find((x) => x.name === name);
  if (!p) throw new Error(`unknown payment provider ${name}: use invoice or test`);
  return p;
}
