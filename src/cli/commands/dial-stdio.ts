/**
 * `berth system dial-stdio`: joins stdin and stdout to a connection to the daemon (the address
 * -H, DOCKER_HOST or the context names, TLS included). An ssh:// client runs it on the remote
 * host and speaks HTTP through it, as the docker CLI does with `docker system dial-stdio`.
 * stdin's end is passed on as a half-close, so the daemon still answers after it.
 */
import type { CommandSpec } from '../command';

export const dialStdio: CommandSpec = {
  usage: '',
  summary: 'Proxy the stdio stream to the daemon connection. Should not be invoked manually.',
  args: { max: 0 },
  flags: [],
  async run(ctx) {
    const conn = ctx.client().openConnection();
    const stdin = ctx.stdin;
    await new Promise<void>((resolve, reject) => {
      conn.once('error', (e: NodeJS.ErrnoException) => reject(Object.assign(new Error(`dial-stdio: connecting to ${ctx.address}: ${e.message}`), { code: e.code })));
      stdin.pipe(conn, { end: false });
      stdin.once('end', () => conn.end());
      conn.pipe(ctx.stdout, { end: false });
      conn.once('end', () => {
        stdin.unpipe(conn);
        stdin.pause();
        resolve();
      });
    });
    conn.destroy();
    return 0;
  },
};
