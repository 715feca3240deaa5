import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { alignColumns } from '../../src/cli/format/tabwriter';
import { humanDuration, humanSize, formatG } from '../../src/common/units';
import { ellipsis, goQuote } from '../../src/cli/format/strings';
import { ContainerContext, containerListFormat, displayablePorts } from '../../src/cli/format/containers';
import { imageRows, imageListFormat } from '../../src/cli/format/images';
import { prepareFormat, renderList } from '../../src/cli/format/render';
import { indentJson } from '../../src/cli/format/json-indent';
import { FrameDemuxer, encodeFrame, demuxBuffer } from '../../src/client/frames';
import { EscapeDetector } from '../../src/cli/attach';
import { encodeQuery } from '../../src/client/engine';
import { parseDaemonAddress, resolveDaemonAddress } from '../../src/client/address';
import { parseImageRef } from '../../src/cli/reference';

test('tabwriter: minwidth 10, padding 3, last cell not padded', () => {
  assert.equal(alignColumns('A\tBB\tC\nlonger-cell-text\tx\ty\n'), 'A                  BB        C\nlonger-cell-text   x         y\n');
  // A line with fewer cells ends the column block.
  assert.equal(alignColumns('a\tb\nsolo\nccccccccccccc\td\n'), 'a         b\nsolo\nccccccccccccc   d\n');
  assert.equal(alignColumns('…é\tx\n'), '…é        x\n');
});

test('human durations as go-units writes them', () => {
  const s = 1000;
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1 * s), '1 second');
  assert.equal(humanDuration(45 * s), '45 seconds');
  assert.equal(humanDuration(60 * s), 'About a minute');
  assert.equal(humanDuration(125 * s), '2 minutes');
  assert.equal(humanDuration(3600 * s), 'About an hour');
  assert.equal(humanDuration(30 * 3600 * s), '30 hours');
  assert.equal(humanDuration(3 * 86400 * s), '3 days');
  assert.equal(humanDuration(20 * 86400 * s), '2 weeks');
  assert.equal(humanDuration(400 * 86400 * s), '13 months');
  assert.equal(humanDuration(800 * 86400 * s), '2 years');
});

test('human sizes with three significant digits, decimal units', () => {
  assert.equal(humanSize(0), '0B');
  assert.equal(humanSize(123), '123B');
  assert.equal(humanSize(4261574), '4.26MB');
  assert.equal(humanSize(12345), '12.3kB');
  assert.equal(humanSize(999999), '1e+03kB');
  assert.equal(humanSize(1_500_000_000), '1.5GB');
  assert.equal(humanSize(4261574, 4), '4.262MB');
  assert.equal(formatG(0.0001234, 3), '0.000123');
});

test('strings: Go quoting and ellipsis', () => {
  assert.equal(goQuote('sh -c "x"'), '"sh -c \\"x\\""');
  assert.equal(goQuote('a\x01\n'), '"a\\x01\\n"');
  assert.equal(ellipsis('sh -c "while true; do sleep 1; done"', 20), 'sh -c "while true; …');
  assert.equal(ellipsis('short', 20), 'short');
});

test('ports column groups ranges and lists mappings', () => {
  assert.equal(
    displayablePorts([
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
      { PrivatePort: 444, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 9001, PublicPort: 9001, Type: 'udp' },
      { IP: '0.0.0.0', PrivatePort: 9000, PublicPort: 9000, Type: 'udp' },
    ]),
    '443-444/tcp, 0.0.0.0:9000-9001->9000-9001/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp',
  );
  assert.equal(displayablePorts([]), '');
});

test('ps table: header, truncated ID and command, names without slash', () => {
  const now = Date.now();
  const c = new ContainerContext(
    { Id: 'a'.repeat(64), Names: ['/web'], Image: 'busybox', Command: 'sleep 1000000000000000000', Created: Math.floor(now / 1000) - 120, State: 'running', Status: 'Up 2 minutes' },
    true,
    now,
  );
  const spec = containerListFormat(false);
  const out = renderList(prepareFormat('table', spec), [c], spec);
  assert.equal(
    out,
    'CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         PORTS     NAMES\n' +
      'aaaaaaaaaaaa   busybox   "sleep 1000000000000…"   2 minutes ago   Up 2 minutes             web\n',
  );
  assert.equal(renderList(prepareFormat('{{.ID}}', spec), [], spec), '');
  assert.equal(renderList(prepareFormat('table {{.Names}}\\t{{.State}}', spec), [c], spec), 'NAMES     STATE\nweb       running\n');
  const json = JSON.parse(renderList(prepareFormat('json', spec), [c], spec));
  assert.equal(json.Names, 'web');
  assert.equal(json.ID, 'aaaaaaaaaaaa');
});

test('images rows: one per tag, <none> for untagged images', () => {
  const rows = imageRows(
    [
      { Id: 'sha256:' + 'b'.repeat(64), RepoTags: ['busybox:latest', 'docker.io/library/busybox:1.36'], Created: 0, Size: 4261574 },
      { Id: 'sha256:' + 'c'.repeat(64), RepoTags: [], Created: 0, Size: 10 },
    ],
    { digests: false, trunc: true },
  );
  const spec = imageListFormat(false);
  const out = renderList(prepareFormat('table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Size}}', spec), rows, spec);
  assert.equal(
    out,
    'REPOSITORY   TAG       IMAGE ID       SIZE\n' +
      'busybox      latest    bbbbbbbbbbbb   4.26MB\n' +
      'busybox      1.36      bbbbbbbbbbbb   4.26MB\n' +
      '<none>       <none>    cccccccccccc   10B\n',
  );
});

test('inspect JSON keeps the daemon text and indents by 4', () => {
  assert.equal(indentJson('[{"a":1,"b":[],"c":{"d":"x, y"},"e":1.50}]'), '[\n    {\n        "a": 1,\n        "b": [],\n        "c": {\n            "d": "x, y"\n        },\n        "e": 1.50\n    }\n]');
});

test('frame demultiplexing across arbitrary chunk boundaries', () => {
  const stream = Buffer.concat([encodeFrame(1, 'hello '), encodeFrame(2, 'oops\n'), encodeFrame(1, 'world\n'), encodeFrame(1, '')]);
  for (let size = 1; size <= stream.length; size++) {
    const out: string[] = [];
    const err: string[] = [];
    const d = new FrameDemuxer((s, p) => (s === 1 ? out : err).push(p.toString()));
    for (let off = 0; off < stream.length; off += size) d.push(stream.subarray(off, off + size));
    assert.equal(out.join(''), 'hello world\n', `chunk size ${size}`);
    assert.equal(err.join(''), 'oops\n', `chunk size ${size}`);
    assert.ok(d.atBoundary);
  }
  const { stdout, stderr } = demuxBuffer(stream);
  assert.equal(stdout.toString(), 'hello world\n');
  assert.equal(stderr.toString(), 'oops\n');
});

test('detach keys are caught across chunks; near misses pass through', () => {
  const d = new EscapeDetector(Buffer.from([16, 17]));
  let r = d.feed(Buffer.from([97, 16]));
  assert.deepEqual([...r.pass], [97]);
  assert.equal(r.escaped, false);
  r = d.feed(Buffer.from([17]));
  assert.equal(r.escaped, true);
  r = d.feed(Buffer.from([16, 98, 16, 16, 17]));
  assert.deepEqual([...r.pass], [16, 98, 16]);
  assert.equal(r.escaped, true);
});

test('client helpers: query encoding, daemon addresses, references', () => {
  assert.equal(encodeQuery({ all: true, size: false, limit: 3, changes: ['CMD ["sh"]', 'ENV A=1'], x: undefined }), '?all=1&limit=3&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3D1');
  assert.deepEqual(parseDaemonAddress('unix:///run/berth/berth.sock'), { kind: 'unix', socketPath: '/run/berth/berth.sock', address: 'unix:///run/berth/berth.sock' });
  assert.equal((parseDaemonAddress('tcp://127.0.0.1:2375') as { port: number }).port, 2375);
  assert.equal(resolveDaemonAddress(undefined, { DOCKER_HOST: 'tcp://h:1', BERTH_HOST: 'unix:///b.sock' }), 'unix:///b.sock');
  assert.equal(resolveDaemonAddress('unix:///flag.sock', { BERTH_HOST: 'unix:///b.sock' }), 'unix:///flag.sock');
  assert.equal(resolveDaemonAddress(undefined, {}), 'unix:///run/berth/berth.sock');
  assert.deepEqual(parseImageRef('busybox'), { name: 'docker.io/library/busybox', familiarName: 'busybox', tag: undefined, digest: undefined });
  assert.equal(parseImageRef('localhost:5000/a/b:v1').name, 'localhost:5000/a/b');
  assert.throws(() => parseImageRef('Foo'), /repository name \(library\/Foo\) must be lowercase/);
});
