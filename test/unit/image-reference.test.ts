import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { familiarName, familiarString, parseReference, withDefaultTag } from '../../src/image/reference';
import { applyChanges } from '../../src/image/changes';

test('references normalize as Docker does', () => {
  assert.deepEqual(parseReference('busybox'), { domain: 'docker.io', path: 'library/busybox', tag: undefined, digest: undefined });
  assert.equal(familiarString(withDefaultTag(parseReference('docker.io/library/busybox'))), 'busybox:latest');
  assert.equal(familiarString(withDefaultTag(parseReference('index.docker.io/user/app:2'))), 'user/app:2');
  const local = parseReference('127.0.0.1:5000/team/app:1');
  assert.equal(local.domain, '127.0.0.1:5000');
  assert.equal(familiarName(local), '127.0.0.1:5000/team/app');
  assert.equal(parseReference('localhost/app').domain, 'localhost');
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.equal(parseReference(`app@${digest}`).digest, digest);
});

test('invalid references are refused with Docker\'s words', () => {
  assert.throws(() => parseReference('Busybox'), /repository name \(library\/Busybox\) must be lowercase/);
  for (const bad of ['', 'a:b:c', 'app@sha256:abc', '-app', 'app:', 'a//b', 'app:-tag']) {
    assert.throws(() => parseReference(bad), /invalid reference format/, bad);
  }
});

test('--change instructions set the image config', () => {
  const c = applyChanges({}, ['CMD ["/bin/sh"]', 'ENTRYPOINT echo hi', 'ENV A=1 B="two words"', 'ENV C 3', 'LABEL a=b', 'EXPOSE 80 53/udp', 'WORKDIR /srv', 'WORKDIR app', 'USER nobody', 'VOLUME /data', 'STOPSIGNAL SIGINT']);
  assert.deepEqual(c.Cmd, ['/bin/sh']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', 'echo hi']);
  assert.deepEqual(c.Env, ['A=1', 'B=two words', 'C=3']);
  assert.deepEqual(c.Labels, { a: 'b' });
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.equal(c.WorkingDir, '/srv/app');
  assert.equal(c.User, 'nobody');
  assert.deepEqual(c.Volumes, { '/data': {} });
  assert.equal(c.StopSignal, 'SIGINT');
  assert.throws(() => applyChanges({}, ['RUN echo no']), /run is not a valid change command/);
  assert.throws(() => applyChanges({}, ['EXPOSE eighty']), /invalid containerPort: eighty/);
});
