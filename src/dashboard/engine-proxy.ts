/**
 * Hands a dashboard request to the Engine API on the daemon's own socket and streams the
 * answer back: the pages use the same routes, the same JSON and the same event, log and stats
 * streams as the CLI, so the dashboard has no model of the daemon of its own.
 */
import * as http from 'node:http';

export const ENGINE_API_VERSION = '1.50';

/** request headers the Engine API reads; the browser's cookies and the like stay here */
const FORWARDED_REQUEST_HEADERS = ['content-type', 'content-length', 'x-registry-auth', 'transfer-encoding'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'api-version', 'location'];

export function proxyToEngine(socketPath: string, enginePath: string, req: http.IncomingMessage, res: http.ServerResponse, log: (m: string) => void): void {
  const headers: http.OutgoingHttpHeaders = { host: 'berth' };
  for (const name of FORWARDED_REQUEST_HEADERS) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
  const upstream = http.request({ socketPath, method: req.method, path: `/v${ENGINE_API_VERSION}${enginePath}`, headers }, (answer) => {
    const out: http.OutgoingHttpHeaders = { 'cache-control': 'no-store' };
    for (const name of FORWARDED_RESPONSE_HEADERS) if (answer.headers[name] !== undefined) out[name] = answer.headers[name];
    res.writeHead(answer.statusCode ?? 502, out);
    // streams (events, logs, stats) must reach the page as they come
    res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (e) => {
    if (!res.headersSent) {
      log(`dashboard: the Engine API did not answer ${req.method} ${enginePath}: ${e.message}`);
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'the Engine API did not answer' }));
    } else res.destroy();
  });
  // a page that closes a stream (leaves the container page) ends the daemon's stream too
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}
