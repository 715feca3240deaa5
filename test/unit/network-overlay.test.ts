import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NetworkManager } from '../../src/network/manager';
import { EventBus } from '../../src/daemon/events';

const def = (subnet: string, name = 'appnet') => ({ Id: 'ovl1234567890abcdefghijk', Name: name, Created: '', Labels: {}, Options: {}, Internal: false, Attachable: false, subnet, gateway: subnet.replace(/0\/\d+$/, '1'), vni: 4097 });

test('a node refuses an overlay whose subnet or name one of its own networks holds; takes it otherwise, once', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-ovl-'));
  try {
    const m = await NetworkManager.open({ dataRoot: dir, execRoot: path.join(dir, 'run'), dns: [], events: new EventBus(), log: () => undefined });
    // a local network made on this node only (nothing is set up until a container joins)
    await m.create({ Name: 'local', IPAM: { Config: [{ Subnet: '10.0.1.0/24' }] } });
    await assert.rejects(m.ensureOverlay(def('10.0.1.0/24')), /overlaps network local \(10\.0\.1\.0\/24\) on this node/);
    await assert.rejects(m.ensureOverlay(def('10.0.2.0/24', 'local')), /already exists on this node/);
    const rec = await m.ensureOverlay(def('10.0.2.0/24'));
    assert.equal(rec.Driver, 'overlay');
    assert.equal(rec.Scope, 'swarm');
    assert.equal(rec.bridge, 'ov-ovl123456789');
    assert.equal(rec.Options['com.docker.network.driver.overlay.vxlanid_list'], '4097');
    assert.equal(await m.ensureOverlay(def('10.0.2.0/24')), rec, 'made once');
    assert.deepEqual(m.overlays().map((o) => [o.network.Name, o.inUse]), [['appnet', false]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
