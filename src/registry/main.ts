import { mkdirSync } from 'node:fs';
import { createRegistry, createServer } from './app';
import { collectGarbage } from './gc';
import { FilesystemDriver } from './storage/filesystem';

/**
 * berth-registry serve --addr HOST:PORT --root DIR [--read-only]
 * berth-registry gc --root DIR [--dry-run]
 */
const USAGE = 'usage: berth-registry serve [--addr 127.0.0.1:5000] [--root DIR] [--read-only]\n       berth-registry gc [--root DIR] [--dry-run]';

function parseArgs(argv: string[]): { cmd: string; addr: string; root: string; readOnly: boolean; dryRun: boolean } {
  const o = { cmd: argv[0] ?? '', addr: '127.0.0.1:5000', root: '/var/lib/berth-registry', readOnly: false, dryRun: false };
  for (let i = 1; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? fail(`${flag} needs a value`);
    switch (flag) {
      case '--addr': o.addr = value(); break;
      case '--root': o.root = value(); break;
      case '--read-only': o.readOnly = true; break;
      case '--dry-run': o.dryRun = true; break;
      default: fail(`unknown flag ${argv[i]}`);
    }
  }
  return o;
}

function fail(msg: string): never {
  console.error(`berth-registry: ${msg}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  mkdirSync(o.root, { recursive: true });
  const driver = new FilesystemDriver(o.root);
  if (o.cmd === 'gc') {
    const r = await collectGarbage(driver, { dryRun: o.dryRun, log: (l) => console.log(l) });
    console.log(`${r.marked.length} blobs marked, ${r.swept.length} ${o.dryRun ? 'would be ' : ''}deleted`);
    return;
  }
  if (o.cmd !== 'serve') fail(o.cmd ? `unknown command ${o.cmd}` : 'missing command');
  const m = /^(.*):(\d+)$/.exec(o.addr) ?? fail(`--addr must be HOST:PORT, got ${o.addr}`);
  const server = createServer(createRegistry(driver, o.readOnly));
  server.listen(Number(m[2]), m[1].replace(/^\[(.*)\]$/, '$1'), () => {
    const a = server.address();
    // Tests read this line to learn the port when they asked for port 0.
    if (a && typeof a === 'object') console.log(`berth-registry listening on ${a.address}:${a.port}${o.readOnly ? ' (read-only)' : ''}`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // idle keep-alive sockets would hold close() open
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// Loaded only as the program (bin/berth-registry requires this file), so start at once.
main().catch((e) => {
  console.error('berth-registry:', e instanceof Error ? e.message : e);
  process.exit(1);
});
