/**
 * The TLS side of a tcp:// listener. A plain net.Server takes each connection and looks at its
 * first byte: a TLS handshake (record type 0x16) goes on to the HTTPS server, anything else is a
 * client speaking plain HTTP to a TLS port and gets Go's answer ("Client sent an HTTP request to
 * an HTTPS server.", 400) instead of a handshake that never completes. With `verify`, a client
 * without a certificate signed by the CA is refused in the handshake itself.
 */
import { promises as fsp } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import type { TlsOptions } from 'node:tls';
import { invalid } from '../common/errors';

export interface ServerTlsFiles {
  verify: boolean;
  cacert: string;
  cert: string;
  key: string;
}

const TLS_HANDSHAKE_RECORD = 0x16;
/** a connection that sends nothing is closed after this long */
const FIRST_BYTE_TIMEOUT_MS = 60_000;

async function readPem(what: string, file: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (e) {
    throw invalid(`could not read ${what} "${file}": ${(e as Error).message}`);
  }
}

/** Reads the certificate files once, at start-up, so a missing file stops the daemon with its name. */
export async function loadServerTls(files: ServerTlsFiles): Promise<TlsOptions> {
  const options: TlsOptions = {
    cert: await readPem('TLS certificate', files.cert),
    key: await readPem('TLS key', files.key),
    minVersion: 'TLSv1.2',
  };
  if (files.verify) {
    options.ca = await readPem('CA certificate', files.cacert);
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  try {
    // builds the context now: a key that does not match its certificate fails here, not per client
    (await import('node:tls')).createSecureContext(options);
  } catch (e) {
    throw invalid(`could not load TLS certificate and key (${files.cert}, ${files.key}): ${(e as Error).message}`);
  }
  return options;
}

/** The front that sniffs each connection and hands TLS ones to `secure`. */
export function tlsFront(secure: https.Server, log: (m: string) => void): net.Server {
  secure.on('tlsClientError', (e: NodeJS.ErrnoException, socket) => {
    log(`debug: TLS handshake with ${socket.remoteAddress ?? 'a client'} failed: ${e.code ?? ''} ${e.message}`);
  });
  // hijacked streams (attach, exec) half-close: the client's end of stdin must leave the
  // daemon's side open for the output still to come, on the raw socket and the TLS one alike
  secure.on('secureConnection', (socket: net.Socket) => {
    socket.allowHalfOpen = true;
  });
  return net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (first[0] !== TLS_HANDSHAKE_RECORD) {
        // closed whole once the answer is out: a client that keeps its side open (the front
        // socket allows half-open) must not hold the connection, and the timer still runs
        socket.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n', () => socket.destroy());
        return;
      }
      socket.setTimeout(0);
      socket.unshift(first);
      secure.emit('connection', socket);
    });
  });
}
