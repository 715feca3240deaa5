/**
 * Run inside a network namespace: `node netns-relay.js SOCKET HOST PORT` forwards every
 * connection on the unix socket SOCKET to HOST:PORT, and prints "ready" once listening.
 */
import * as net from 'node:net';

const [socketPath, host, port] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(socketPath, () => process.stdout.write('ready\n'));
