/**
 * The last resort of a long-running server (berthd, berth-registry): an exception or
 * rejection that nothing handled is logged and the process carries on.
 *
 * Every request listener already answers its own errors (a bad request is a 4xx, a failure a
 * 500); these handlers exist for the throw nobody foresaw. Node's default is to end the process,
 * and for a server that any client can reach that turns one unforeseen throw into a way for
 * anyone to stop it (issue 15: `GET //` ended berthd, the registry and every swarm node). Carrying
 * on is the lesser harm here: berthd's state is on disk and its containers outlive it under conmon,
 * the registry commits blobs only once verified, so what a failed request leaves behind is at worst
 * one request's unfinished work. The log line says it loudly so the bug gets fixed where it is.
 */
export function keepRunningOnUncaught(log: (msg: string) => void): void {
  process.on('uncaughtException', (err, origin) => {
    log(`error: ${origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'} (the process carries on): ${describe(err)}`);
  });
  process.on('unhandledRejection', (reason) => {
    log(`error: unhandled rejection (the process carries on): ${describe(reason)}`);
  });
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
