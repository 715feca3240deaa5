import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { fileTarget, filterFiles, findFile, resolveServiceFiles, taskUsesSecret } from '../../src/swarm/cluster/files';
import type { ServiceSpec, SwarmFileObject, Task } from '../../src/swarm/cluster/model';
import type { Snapshot } from '../../src/swarm/cluster/store';

const obj = (id: string, name: string, labels: Record<string, string> = {}): SwarmFileObject => ({ ID: id, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: name, Labels: labels } });

function snapshot(): Snapshot {
  return {
    nodes: [],
    services: [],
    tasks: [],
    networks: [],
    secrets: [obj('sec1', 'dbpass', { team: 'a' }), obj('sec2', 'apikey')],
    configs: [obj('cfg1', 'appconf')],
    alive: new Set(),
    revision: '1',
  };
}

function spec(container: Partial<ServiceSpec['TaskTemplate']['ContainerSpec']>): ServiceSpec {
  return { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox', ...container } } };
}

test('secrets land under /run/secrets, configs at the root, absolute targets as given', () => {
  assert.equal(fileTarget('secrets', 'dbpass'), '/run/secrets/dbpass');
  assert.equal(fileTarget('configs', 'app.conf'), '/app.conf');
  assert.equal(fileTarget('configs', '/etc/app.conf'), '/etc/app.conf');
  assert.equal(fileTarget('secrets', '/etc/key'), '/etc/key');
});

test('a service\'s references are named by ID and name, with Docker\'s file defaults', () => {
  const s = spec({ Secrets: [{ SecretName: 'dbpass' }, { SecretID: 'sec2', File: { Name: 'other', Mode: 0o400 } }], Configs: [{ ConfigName: 'appconf', File: { Name: '/etc/app.conf' } }] });
  resolveServiceFiles(s, snapshot());
  const c = s.TaskTemplate.ContainerSpec;
  assert.deepEqual(c.Secrets, [
    { SecretID: 'sec1', SecretName: 'dbpass', File: { Name: 'dbpass', UID: '0', GID: '0', Mode: 0o444 } },
    { SecretID: 'sec2', SecretName: 'apikey', File: { Name: 'other', UID: '0', GID: '0', Mode: 0o400 } },
  ]);
  assert.deepEqual(c.Configs, [{ ConfigID: 'cfg1', ConfigName: 'appconf', File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 } }]);
});

test('unknown references, two files at one path and paths out of the folder are refused', () => {
  assert.throws(() => resolveServiceFiles(spec({ Secrets: [{ SecretName: 'nope' }] }), snapshot()), /secret nope not found/);
  assert.throws(() => resolveServiceFiles(spec({ Configs: [{ ConfigID: 'x' }] }), snapshot()), /config x not found/);
  assert.throws(() => resolveServiceFiles(spec({ Secrets: [{ SecretName: 'dbpass' }, { SecretName: 'apikey', File: { Name: 'dbpass' } }] }), snapshot()), /conflict/);
  assert.throws(() => resolveServiceFiles(spec({ Secrets: [{ SecretName: 'dbpass', File: { Name: '../../etc/passwd' } }] }), snapshot()), /invalid secret target/);
});

test('lookups and filters: ID, name, unique ID prefix, labels', () => {
  const snap = snapshot();
  assert.equal(findFile(snap, 'secrets', 'dbpass')?.ID, 'sec1');
  assert.equal(findFile(snap, 'secrets', 'sec2')?.Spec.Name, 'apikey');
  assert.equal(findFile(snap, 'secrets', 'sec'), undefined, 'an ambiguous prefix names nothing');
  assert.equal(findFile(snap, 'configs', 'cf')?.ID, 'cfg1');
  assert.deepEqual(filterFiles(snap.secrets, { label: ['team=a'] }).map((x) => x.ID), ['sec1']);
  assert.deepEqual(filterFiles(snap.secrets, { names: ['apikey'] }).map((x) => x.ID), ['sec2']);
  assert.deepEqual(filterFiles(snap.secrets, { name: ['db'] }).map((x) => x.ID), ['sec1']);
});

test('a task names a secret only through its own spec', () => {
  const t = { Spec: { ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: 'sec1', SecretName: 'dbpass' }] } } } as unknown as Task;
  assert.equal(taskUsesSecret(t, 'sec1'), true);
  assert.equal(taskUsesSecret(t, 'sec2'), false);
});
