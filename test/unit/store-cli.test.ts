import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { splitProduct, storeTarget } from '../../src/cli/store/client';
import { eventText } from '../../src/cli/commands/store';
import { hostConfigFor, networkingConfig, ownSettings } from '../../src/cli/store/recreate';

test('product references: with or without the registry, tags dropped, nonsense refused', () => {
  assert.deepEqual(splitProduct('acme/ledger'), { host: undefined, repository: 'acme/ledger' });
  assert.deepEqual(splitProduct('127.0.0.1:5000/acme/ledger:1.0'), { host: '127.0.0.1:5000', repository: 'acme/ledger' });
  assert.deepEqual(splitProduct('localhost/acme/ledger'), { host: 'localhost', repository: 'acme/ledger' });
  assert.deepEqual(splitProduct('store.example/acme/tools/cli'), { host: 'store.example', repository: 'acme/tools/cli' });
  assert.throws(() => splitProduct('ledger'), /invalid product name/);
  assert.throws(() => splitProduct('Acme/Ledger'), /invalid product name/);
});

test('which store: the flag, then BERTH_STORE, then the product\'s registry; HTTP only for loopback', () => {
  const ctx = { env: { HOME: '/nonexistent' } as NodeJS.ProcessEnv };
  assert.deepEqual(storeTarget(ctx, '127.0.0.1:5000'), { host: '127.0.0.1:5000', base: 'http://127.0.0.1:5000' });
  assert.deepEqual(storeTarget({ env: { BERTH_STORE: 'store.example' } }, '', 'other:1'), { host: 'store.example', base: 'https://store.example' });
  assert.deepEqual(storeTarget(ctx, '', 'http://10.0.0.1:5000'), { host: '10.0.0.1:5000', base: 'http://10.0.0.1:5000' });
  assert.throws(() => storeTarget(ctx, ''), /which store\?/);
});

test('upgrade keeps a container\'s own settings and leaves what it inherited to the new image', () => {
  const image = { Env: ['PATH=/bin', 'V=1'], Cmd: ['serve'], Labels: { vendor: 'acme' }, WorkingDir: '/app', ExposedPorts: { '80/tcp': {} } };
  const config = {
    Hostname: '0123456789ab', Image: 'x:1', Env: ['PATH=/bin', 'V=1', 'MODE=prod'], Cmd: ['serve'], Labels: { vendor: 'acme', owner: 'bob' },
    WorkingDir: '/app', ExposedPorts: { '80/tcp': {} }, User: 'nobody', Tty: false,
  };
  assert.deepEqual(ownSettings(config, image, '0123456789abcdef'), { Env: ['MODE=prod'], Labels: { owner: 'bob' }, User: 'nobody', Tty: false });
  // chosen by the user though equal in name: a different value is kept
  assert.deepEqual(ownSettings({ ...config, Cmd: ['serve', '--debug'], Hostname: 'web' }, image, '0123456789abcdef').Cmd, ['serve', '--debug']);
  assert.equal(ownSettings({ ...config, Hostname: 'web' }, image, '0123456789abcdef').Hostname, 'web');
  const net = networkingConfig({ Id: '0123456789abcdef', Name: '/web', Image: 'sha256:x', Config: {}, HostConfig: {}, State: {},
    NetworkSettings: { Networks: { app: { Aliases: ['web', '0123456789ab'], IPAMConfig: null } } } });
  assert.deepEqual(JSON.parse(JSON.stringify(net)), { EndpointsConfig: { app: { Aliases: ['web'] } } });
});

test('upgrade mounts a container\'s anonymous volumes again, and leaves named ones and binds as they were', () => {
  const anon = 'a'.repeat(64);
  const hc = hostConfigFor({
    Id: 'x', Name: '/web', Image: 'sha256:x', Config: {}, State: {},
    HostConfig: { Binds: ['/srv/conf:/etc/app:ro'], Mounts: [{ Type: 'volume', Source: 'named', Target: '/named' }], RestartPolicy: { Name: 'always' } },
    Mounts: [
      { Type: 'volume', Name: anon, Destination: '/data' },
      { Type: 'volume', Name: 'named', Destination: '/named' },
      { Type: 'bind', Destination: '/etc/app' },
      { Type: 'volume', Name: 'b'.repeat(64), Destination: '/etc/app' },
    ],
  });
  assert.deepEqual(hc.Mounts, [{ Type: 'volume', Source: 'named', Target: '/named' }, { Type: 'volume', Source: anon, Target: '/data' }]);
  assert.deepEqual(hc.Binds, ['/srv/conf:/etc/app:ro']);
  assert.deepEqual(hc.RestartPolicy, { Name: 'always' });
});

test('events read as sentences', () => {
  const ev = (kind: string, detail: Record<string, unknown>, account: string | null = null) => eventText({ at: '', kind, product: 'acme/ledger', account, detail });
  assert.equal(ev('purchase', { purchase: 3, plan: 'month', amountCents: 2000, currency: 'USD' }, 'bob'), 'purchase 3 by bob: plan month, 20.00 USD');
  assert.equal(ev('paid', { purchase: 3, until: '2027-01-06T10:00:00.000Z' }), 'purchase 3 paid, until 2027-01-06');
  assert.equal(ev('paid', { purchase: 4, until: null }), 'purchase 4 paid, for good');
  assert.equal(ev('price', { plan: 'month', period: 'month', amountCents: 2500, currency: 'EUR', previousCents: 2000 }), 'plan month: 25.00 EUR per month (was 20.00 EUR)');
  assert.equal(ev('price', { plan: 'old', withdrawn: true }), 'plan old withdrawn');
  assert.equal(ev('version', { tag: '2.0', digest: `sha256:${'b'.repeat(64)}`, previousDigest: `sha256:${'a'.repeat(64)}` }), `2.0 is ${'b'.repeat(12)} (was ${'a'.repeat(12)})`);
});
