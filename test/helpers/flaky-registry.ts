/**
 * A registry proxy for tests of misbehaving registries, run as its own process inside a
 * test's network namespace:
 *
 *   node flaky-registry.js PORT UPSTREAM_HOST:PORT CUT_DIGEST
 *
 * Everything goes to the upstream registry unchanged, except that the first GET of the blob
 * CUT_DIGEST breaks off after half its bytes (a registry dying mid-pull), and
 * /v2/<name>/manifests/huge answers with a manifest of 5 MiB.
 */
import * as http from 'node:http';

const [port, upstream, cutDigest] = process.argv.slice(2);
const [upHost, upPort] = upstream.split(':');
let cut = false;

http
  .createServer((req, res) => {
    if (/\/manifests\/huge$/.test(req.url ?? '')) {
      const body = Buffer.alloc(5 * 1024 * 1024, 0x20);
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    const breakOff = req.method === 'GET' && !cut && (req.url ?? '').endsWith(`/blobs/${cutDigest}`);
    const up = http.request({ host: upHost, port: Number(upPort), path: req.url, method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!breakOff) {
        ur.pipe(res);
        return;
      }
      cut = true;
      const half = Number(ur.headers['content-length'] ?? 0) / 2;
      let sent = 0;
      ur.on('data', (chunk: Buffer) => {
        if (sent >= half) return;
        res.write(chunk.subarray(0, Math.max(0, half - sent)));
        sent += chunk.length;
        if (sent >= half) setTimeout(() => res.socket?.destroy(), 50);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  })
  .listen(Number(port), '127.0.0.1', () => console.log(`flaky registry listening on 127.0.0.1:${port}`));
