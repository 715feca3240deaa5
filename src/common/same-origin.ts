import type { IncomingMessage } from 'node:http';

/**
 * True when the request comes from a page of this server (the dashboard, the store's pages): its Origin names the host the
 * browser reached (the Host header) with our scheme, and the browser, where it says so, calls
 * it same-origin. Browsers send Origin on every cross-origin request, on same-origin requests
 * other than GET and HEAD, and on WebSocket handshakes, so a missing Origin is refused too.
 */
export function isSameOrigin(req: IncomingMessage, tls: boolean): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host) return false;
  if (origin !== `${tls ? 'https' : 'http'}://${host}`) return false;
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin';
}
