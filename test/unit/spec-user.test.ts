import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { resolveUser } from '../../src/container/user';
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
    assert.deepEqual(await resolveUser(linked, 'onlyhere:g'), { uid: 4242, gid: 4243, additionalGids: [], home: '/nowhere' });
  });
  it('never resolves to the host /etc/passwd through an absolute link', async () => {
    const r = mkdtempSync(path.join(os.tmpdir(), 'berth-user-abs-'));
    try {
      mkdirSync(path.join(r, 'etc'));
      symlinkSync('/etc/passwd', path.join(r, 'etc/passwd')); // points at itself within the root
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
});

describe('resolveUser reads only the rootfs\'s own regular files', () => {
  /** a host directory with a passwd naming a user no rootfs here has */
  let hostDir: string;
  let r: string;
  before(() => {
    hostDir = mkdtempSync(path.join(os.tmpdir(), 'berth-user-host-'));
    writeFileSync(path.join(hostDir, 'passwd'), 'hostonly:x:4242:4242::/host-home:/bin/sh\n');
    writeFileSync(path.join(hostDir, 'group'), 'hostgroup:x:4343:\n');
  });
  after(() => rmSync(hostDir, { recursive: true, force: true }));
  beforeEach(() => {
    r = mkdtempSync(path.join(os.tmpdir(), 'berth-user-trap-'));
  });
  afterEach(() => rmSync(r, { recursive: true, force: true }));

  const notFound = /unable to find user hostonly: no matching entries in passwd file/;

  it('an absolute link from /etc/passwd to a host file reads the rootfs\'s path, not the host\'s', async () => {
    mkdirSync(path.join(r, 'etc'));
    symlinkSync(path.join(hostDir, 'passwd'), path.join(r, 'etc/passwd'));
    symlinkSync(path.join(hostDir, 'group'), path.join(r, 'etc/group'));
    await assert.rejects(resolveUser(r, 'hostonly'), notFound);
    await assert.rejects(resolveUser(r, '0:hostgroup'), /unable to find group hostgroup/);
  });
  it('/etc linked to a host directory is that path inside the rootfs', async () => {
    symlinkSync(hostDir, path.join(r, 'etc'));
    await assert.rejects(resolveUser(r, 'hostonly'), notFound);
  });
  it('a relative link climbing above the root stops at the root', async () => {
    mkdirSync(path.join(r, 'etc'));
    symlinkSync(`../../../../../../../..${hostDir}/passwd`, path.join(r, 'etc/passwd'));
    await assert.rejects(resolveUser(r, 'hostonly'), notFound);
  });
  it('a FIFO or a device at /etc/passwd is not read (the lookup does not hang)', async () => {
    mkdirSync(path.join(r, 'etc'));
    execFileSync('mkfifo', [path.join(r, 'etc/passwd')]);
    await assert.rejects(resolveUser(r, 'someone'), /unable to find user someone/);
    assert.deepEqual(await resolveUser(r, '7'), { uid: 7, gid: 0, additionalGids: [], home: '/' });
    rmSync(path.join(r, 'etc/passwd'));
    symlinkSync('/dev/zero', path.join(r, 'etc/passwd')); // the rootfs has no /dev/zero: absent
    await assert.rejects(resolveUser(r, 'someone'), /unable to find user someone/);
  });
});
