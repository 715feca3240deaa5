import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, statSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { planMounts } from '../../src/container/mounts';
import type { ContainerConfig, HostConfig } from '../../src/api/types';
import type { VolumeStore } from '../../src/volume/store';

// binds of host paths never reach the volume store
const noVolumes = {} as VolumeStore;

test('-v binds a host path that is a socket or a file as it is, and makes a missing one a directory (Docker\'s -v)', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'berth-binds-'));
  const server = net.createServer();
  try {
    // what testcontainers' reaper and every docker-in-docker user do: -v /var/run/docker.sock:...
    const socket = path.join(dir, 'daemon.sock');
    await new Promise<void>((r) => server.listen(socket, r));
    const file = path.join(dir, 'config.txt');
    await fsp.writeFile(file, 'x');
    const missing = path.join(dir, 'not', 'there');
    const hc = { Binds: [`${socket}:/var/run/docker.sock`, `${file}:/etc/config.txt:ro`, `${missing}:/data`] } as HostConfig;
    const points = await planMounts(hc, {} as ContainerConfig, noVolumes);
    assert.deepEqual(
      points.map((p) => [p.Source, p.Destination, p.RW]),
      [
        [socket, '/var/run/docker.sock', true],
        [file, '/etc/config.txt', false],
        [missing, '/data', true],
      ],
    );
    assert.ok(statSync(socket).isSocket());
    assert.ok(statSync(missing).isDirectory());
  } finally {
    server.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
