/**
 * berth's own Engine API endpoint for the web dashboard (not in Docker's API):
 *
 *   POST /berth/dashboard/login-tokens  → 201 {"Token", "URL", "ExpiresAt"}
 *
 * A one-time login token for the dashboard, and the link that uses it. Only who can reach the
 * Engine API socket can ask, so the dashboard grants what the socket grants. 404 when berthd
 * runs without --dashboard.
 */
import type { Router } from '../router';
import { sendJSON } from '../respond';
import { notFound } from '../../common/errors';

export interface LoginTokenIssuer {
  tokens: { issue(): { token: string; expiresAt: number } };
  loginUrl(token: string): string;
}

export function registerDashboardRoutes(router: Router, dashboard: () => LoginTokenIssuer | undefined): void {
  router.add('POST', '/berth/dashboard/login-tokens', (ctx) => {
    const d = dashboard();
    if (!d) throw notFound('the dashboard is off: start berthd with --dashboard ADDR:PORT (e.g. 127.0.0.1:9880)');
    const { token, expiresAt } = d.tokens.issue();
    sendJSON(ctx.res, 201, { Token: token, URL: d.loginUrl(token), ExpiresAt: new Date(expiresAt).toISOString() });
  });
}
