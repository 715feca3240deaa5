import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveInRoot, resolveUser } from '../../src/container/user';
import { isBerthError } from '../../src/common/errors';

const PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'daemon:x:1:1::/usr/sbin:/bin/false', 'app:x:1000:1000:App:/home/app:/bin/sh', '# comment', ''].join('\n');
const GROUP = ['root:x:0:', 'wheel:x:10:app,other', 'app:x:1000:', 'docker:x:999:app', 'audio:x:29:'].join('\n');

describe('resolveUser', () => {
  let root: string;
  let linked: string;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'berth-user-'));
    mkdirSync(path.join(root, 'etc'));
    writeFileSync(path.join(root, 'etc/passwd'), PASSWD);
    writeFileSync(path.join(root, 'etc/group'), GROUP);
    // a rootfs whose /etc/passwd is an absolute symlink to /etc/passwd, itself a link to a file
    // elsewhere in the rootfs: it must resolve inside the rootfs, never to the host's /etc/passwd
    linked = mkdtempSync(path.join(os.tmpdir(), 'berth-user-link-'));
    mkdirSync(path.join(linked, 'etc'));
    mkdirSync(path.join(linked, 'real'));
    writeFileSync(path.join(linked, 'real/passwd'), 'root:x:0:0:root:/root:/bin/sh\nonlyhere:x:4242:4243::/nowhere:/bin/sh\n');
    writeFileSync(path.join(linked, 'real/group'), 'g:x:4243:\n');
    symlinkSync('/etc/passwd', path.join(linked, 'etc/passwd'));
    symlinkSync('../../../../../../real/group', path.join(linked, 'etc/group'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(linked, { recursive: true, force: true });
  });

  it('defaults to root', async () => {
    assert.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
  });
  it('resolves a name with its primary and supplementary groups', async () => {
    assert.deepEqual(await resolveUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [10, 999], home: '/home/app' });
  });
  it('resolves a numeric uid with an entry, and one without (gid 0, home /)', async () => {
    assert.deepEqual(await resolveUser(root, '1000'), { uid: 1000, gid: 1000, additionalGids: [10, 999], home: '/home/app' });
    assert.deepEqual(await resolveUser(root, '4321'), { uid: 4321, gid: 0, additionalGids: [], home: '/' });
  });
  it('resolves uid:gid and name:group without supplementary groups', async () => {
    assert.deepEqual(await resolveUser(root, '1000:29'), { uid: 1000, gid: 29, additionalGids: [], home: '/home/app' });
    assert.deepEqual(await resolveUser(root, 'app:audio'), { uid: 1000, gid: 29, additionalGids: [], home: '/home/app' });
    assert.deepEqual(await resolveUser(root, '5:7'), { uid: 5, gid: 7, additionalGids: [], home: '/' });
  });
  it('adds HostConfig.GroupAdd by name or id', async () => {
    const u = await resolveUser(root, 'daemon', ['audio', '55']);
    assert.deepEqual(u.additionalGids, [29, 55]);
  });
  it("refuses unknown names with Docker's messages", async () => {
    await assert.rejects(resolveUser(root, 'nobody'), (e: unknown) => isBerthError(e, 'INVALID_PARAMETER') && (e as Error).message === 'unable to find user nobody: no matching entries in passwd file');
    await assert.rejects(resolveUser(root, 'app:nogroup'), /unable to find group nogroup: no matching entries in group file/);
  });
  it('follows symlinked /etc/passwd and /etc/group inside the rootfs only', async () => {
    // /etc/passwd -> /etc/passwd is a loop inside the rootfs, so give it a real target
    rmSync(path.join(linked, 'etc/passwd'));
    symlinkSync('/real/passwd', path.join(linked, 'etc/passwd'));
    assert.deepEqual(await resolveUser(linked, 'onlyhere'), { uid: 4242, gid: 4243, additionalGids: [], home: '/nowhere' });
    assert.equal(await resolveInRoot(linked, '/etc/group'), path.join(linked, 'real/group'));
  });
  it('never resolves to the host /etc/passwd through an absolute link', async () => {
    const r = mkdtempSync(path.join(os.tmpdir(), 'berth-user-abs-'));
    try {
      mkdirSync(path.join(r, 'etc'));
      symlinkSync('/etc/passwd', path.join(r, 'etc/passwd')); // points at itself within the root
      const resolvedTo = await resolveInRoot(r, '/etc/passwd').catch((e: Error) => e);
      assert.ok(resolvedTo instanceof Error || resolvedTo.startsWith(r), `escaped the root: ${String(resolvedTo)}`);
      // the host's root user must not be found through it
      await assert.rejects(resolveUser(r, 'root'));
      assert.deepEqual(await resolveUser(r, '0').catch(() => 'loop'), 'loop');
    } finally {
      rmSync(r, { recursive: true, force: true });
    }
  });
  it('treats a missing passwd file as empty', async () => {
    const r = mkdtempSync(path.join(os.tmpdir(), 'berth-user-empty-'));
    try {
      assert.deepEqual(await resolveUser(r, ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
      await assert.rejects(resolveUser(r, 'root'), /unable to find user root/);
    } finally {
      rmSync(r, { recursive: true, force: true });
    }
  });
  it('keeps .. at the root', async () => {
    assert.equal(await resolveInRoot(root, '../../../etc/../../etc/passwd'), path.join(root, 'etc/passwd'));
  });
});
