import { BerthError } from '../common/errors';
import { keepRunningOnUncaught } from '../common/last-resort';
import { enableSpans } from '../common/timing';
import { parseDaemonArgs, USAGE } from './config';
import { Daemon, VERSION } from './daemon';

async function main(): Promise<void> {
  let config;
  try {
    config = await parseDaemonArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`berthd: ${(e as Error).message}\n`);
    process.exit(125);
  }
  if (config === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (config === 'version') {
    process.stdout.write(`berthd version ${VERSION}\n`);
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('berthd needs to be started with root privileges\n');
    process.exit(1);
  }
  const debug = config.debug;
  const log = (msg: string) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
  keepRunningOnUncaught(log);
  if (debug) enableSpans(log);
  const daemon = new Daemon(config, debug ? log : (m) => (/^(error|berthd )/.test(m) ? log(m) : undefined));
  try {
    await daemon.start();
  } catch (e) {
    log(`failed to start daemon: ${e instanceof BerthError ? e.message : (e as Error).stack}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`received ${sig}, shutting down`);
    void daemon.stop().then(() => process.exit(0));
    // stopping containers (live-restore off) takes up to their stop timeouts
    setTimeout(() => process.exit(0), config.liveRestore ? 5000 : 30_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGPIPE', () => undefined);
}

void main();
