/**
 * Services of "the outside world" for network tests, run inside a namespace of the test's
 * own (never the host's):
 *
 *   node outside-services.js ADDRESS
 *
 * HTTP on ADDRESS:8000 answers with the address the request came from (to see NAT at work);
 * DNS on ADDRESS:53 (UDP) answers `example.test` with 192.0.2.7 and everything else NXDOMAIN
 * (the upstream resolver the embedded DNS forwards to).
 */
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as dnsPacket from 'dns-packet';

const address = process.argv[2];

http.createServer((req, res) => res.end(`${req.socket.remoteAddress}\n`)).listen(8000, address);

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, rinfo) => {
  let q: dnsPacket.Packet;
  try {
    q = dnsPacket.decode(msg);
  } catch {
    return;
  }
  const question = q.questions?.[0];
  const known = question?.name.toLowerCase() === 'example.test' && question.type === 'A';
  const answer = dnsPacket.encode({
    id: q.id,
    type: 'response',
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
    questions: q.questions,
    answers: known ? [{ name: question!.name, type: 'A', class: 'IN', ttl: 60, data: '192.0.2.7' }] : [],
  });
  udp.send(answer, rinfo.port, rinfo.address);
});
udp.bind(53, address, () => console.log(`outside services on ${address}`));
