import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';

/**
 * Starting and stopping the program's HTTP(S) server, the same for the registry and the token
 * server: plain HTTP unless a certificate and key are given.
 */
export interface TlsFiles {
  /** PEM certificate, followed by any intermediates the client needs. */
  cert: string;
  key: string;
}

export type Server = http.Server | https.Server;

/**
 * Listens on HOST:PORT ([v6]:PORT too) and reports where once listening; port 0 picks a free
 * port, which the report shows. Stops cleanly on SIGTERM and SIGINT.
 */
export function listen(handler: http.RequestListener, addr: string, tls: TlsFiles | undefined, onListening: (where: string) => void): Server {
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m) throw new Error(`--addr must be HOST:PORT, got ${addr}`);
  const server: Server = tls
    ? https.createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, handler)
    : http.createServer(handler);
  server.on('error', (e) => {
    // Typically EADDRINUSE or EACCES: nothing to serve, so say why and stop.
    console.error(`berth-registry: cannot listen on ${addr}: ${e.message}`);
    process.exit(1);
  });
  server.listen(Number(m[2]), m[1].replace(/^\[(.*)\]$/, '$1'), () => {
    const a = server.address();
    if (a && typeof a === 'object') onListening(`${a.address}:${a.port}`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // idle keep-alive sockets would hold close() open
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
