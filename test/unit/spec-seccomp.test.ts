import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { defaultSeccompProfile, kernelAtLeast, OciSeccomp, seccompForContainer, toOciSeccomp } from '../../src/container/seccomp';
import { DEFAULT_CAPABILITIES } from '../../src/container/security-defaults';

const allowed = (s: OciSeccomp, name: string) => (s.syscalls ?? []).some((g) => g.action === 'SCMP_ACT_ALLOW' && g.names.includes(name));
const convert = (caps: readonly string[], kernelRelease = '6.18.44-fc-v669', arch = 'amd64') =>
  toOciSeccomp(defaultSeccompProfile(), { capabilities: caps, arch, kernelRelease });

describe('seccomp: Docker profile to OCI', () => {
  it('keeps the default action and errno', () => {
    const s = convert(DEFAULT_CAPABILITIES);
    assert.equal(s.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(s.defaultErrnoRet, 1);
  });
  it('lists the native architecture and its sub-architectures from archMap', () => {
    assert.deepEqual(convert(DEFAULT_CAPABILITIES).architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.deepEqual(convert(DEFAULT_CAPABILITIES, '6.1.0', 'arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });
  it('includes arch-specific groups only on their arch', () => {
    assert.ok(allowed(convert(DEFAULT_CAPABILITIES), 'arch_prctl'));
    assert.ok(!allowed(convert(DEFAULT_CAPABILITIES, '6.1.0', 'arm64'), 'arch_prctl'));
    assert.ok(allowed(convert(DEFAULT_CAPABILITIES, '6.1.0', 'arm64'), 'arm_fadvise64_64'));
  });
  it('allows ptrace on kernels from 4.8, or before with SYS_PTRACE', () => {
    assert.ok(allowed(convert(DEFAULT_CAPABILITIES, '4.8.0'), 'ptrace'));
    assert.ok(allowed(convert(DEFAULT_CAPABILITIES, '5.10.0-21-amd64'), 'ptrace'));
    assert.ok(!allowed(convert(DEFAULT_CAPABILITIES, '4.4.0'), 'ptrace'));
    assert.ok(allowed(convert([...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE'], '4.4.0'), 'ptrace'));
  });
  it('allows reboot only with SYS_BOOT, chroot with SYS_CHROOT', () => {
    assert.ok(!allowed(convert(DEFAULT_CAPABILITIES), 'reboot'));
    assert.ok(allowed(convert([...DEFAULT_CAPABILITIES, 'CAP_SYS_BOOT']), 'reboot'));
    assert.ok(allowed(convert(DEFAULT_CAPABILITIES), 'chroot'));
    assert.ok(!allowed(convert(DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_SYS_CHROOT')), 'chroot'));
  });
  it('applies excludes: clone is restricted by flags and clone3 returns ENOSYS unless SYS_ADMIN', () => {
    const plain = convert(DEFAULT_CAPABILITIES);
    const clone = plain.syscalls!.filter((g) => g.names.includes('clone'));
    assert.equal(clone.length, 1);
    assert.deepEqual(clone[0].args, [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }]);
    const clone3 = plain.syscalls!.find((g) => g.names.includes('clone3'));
    assert.equal(clone3?.action, 'SCMP_ACT_ERRNO');
    assert.equal(clone3?.errnoRet, 38);
    const admin = convert([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    assert.ok(admin.syscalls!.some((g) => g.names.includes('clone') && !g.args));
    assert.ok(!admin.syscalls!.some((g) => g.names.includes('clone3') && g.action === 'SCMP_ACT_ERRNO'));
    assert.ok(allowed(admin, 'mount'));
    assert.ok(!allowed(plain, 'mount'));
  });
  it('carries argument filters over (socket AF_VSOCK exclusion, personality)', () => {
    const s = convert(DEFAULT_CAPABILITIES);
    const socket = s.syscalls!.filter((g) => g.names.includes('socket'));
    assert.deepEqual(socket.map((g) => g.args), [
      [{ index: 0, value: 38, op: 'SCMP_CMP_LT' }],
      [{ index: 0, value: 39, op: 'SCMP_CMP_EQ' }],
      [{ index: 0, value: 40, op: 'SCMP_CMP_GT' }],
    ]);
    assert.equal(s.syscalls!.filter((g) => g.names.includes('personality')).length, 5);
  });
  it('compares kernel versions', () => {
    assert.ok(kernelAtLeast('6.18.44-fc-v669', '4.8'));
    assert.ok(kernelAtLeast('4.8', '4.8'));
    assert.ok(!kernelAtLeast('4.7.10', '4.8'));
    assert.ok(kernelAtLeast('4.10.0', '4.8'));
  });
  it('chooses the profile from SecurityOpt and privilege', () => {
    assert.equal(seccompForContainer('unconfined', DEFAULT_CAPABILITIES, false), undefined);
    assert.equal(seccompForContainer(undefined, DEFAULT_CAPABILITIES, true), undefined);
    assert.ok(seccompForContainer(undefined, DEFAULT_CAPABILITIES, false)?.syscalls?.length);
    const custom = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] });
    const s = seccompForContainer(custom, DEFAULT_CAPABILITIES, false)!;
    assert.equal(s.defaultAction, 'SCMP_ACT_ALLOW');
    assert.deepEqual(s.syscalls, [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }]);
    assert.throws(() => seccompForContainer('{not json', DEFAULT_CAPABILITIES, false), /Decoding seccomp profile failed/);
  });
});
