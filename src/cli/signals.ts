/**
 * --sig-proxy: while berth is attached to a container without a TTY, the signals
 * it receives are sent on to the container (POST /containers/{id}/kill), as
 * docker's client does. With a TTY there is nothing to forward: the terminal is
 * in raw mode and keys like Ctrl-C travel as bytes.
 */
import type { EngineClient } from '../client/engine';

/** docker forwards every signal but those that only concern the client (SIGCHLD, SIGPIPE, SIGWINCH, SIGURG). */
const forwardedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPWR', 'SIGSYS', 'SIGTRAP', 'SIGXCPU', 'SIGXFSZ'];

/** Starts forwarding; returns the function that stops it. */
export function forwardSignals(client: EngineClient, containerId: string): () => void {
  const removers: (() => void)[] = [];
  for (const sig of forwardedSignals) {
    const handler = () => {
      client.request('POST', `/containers/${containerId}/kill`, { query: { signal: sig } }).then((r) => r.buffer(), () => undefined);
    };
    try {
      process.on(sig, handler);
      removers.push(() => process.removeListener(sig, handler));
    } catch {
      // a signal this platform does not have
    }
  }
  return () => {
    for (const r of removers) r();
  };
}
