import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RequestValidator, answerProblem } from '../../src/api/validate';
import { checkFiltersJSON, checkQuery, checkQueryInteger } from '../../src/api/validate/query';
import { GoDecoder } from '../../src/api/validate/go-decode';
import { ENGINE_API_SCHEMA } from '../../src/api/validate/engine-api-schema';
import { queryBool } from '../../src/api/respond';
import { BerthError } from '../../src/common/errors';

const v = new RequestValidator();

function op(method: string, path: string) {
  const o = v.operation(method, path);
  assert.ok(o, `${method} ${path} has an operation`);
  return o;
}

function decode(method: string, path: string, body: unknown): unknown {
  return v.decodeBody(op(method, path), Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BerthError, String(e));
    assert.equal(e.status, 400);
    return e.message;
  }
  assert.fail('expected a 400');
}

test('paths find the reference operation; a literal segment wins over a parameter', () => {
  const cases: [string, string, string][] = [
    ['GET', '/containers/json', '/containers/json'],
    ['GET', '/containers/abc/json', '/containers/{id}/json'],
    ['POST', '/containers/create', '/containers/create'],
    ['POST', '/containers/abc/stop', '/containers/{id}/stop'],
    ['GET', '/images/json', '/images/json'],
    ['GET', '/images/127.0.0.1:5000/team/app:1/json', '/images/{name}/json'],
    ['POST', '/images/reg:5000/a/b/push', '/images/{name}/push'],
    ['HEAD', '/containers/abc/archive', '/containers/{id}/archive'],
    ['POST', '/exec/abc/start', '/exec/{id}/start'],
    ['POST', '/networks/create', '/networks/create'],
    ['POST', '/networks/n1/connect', '/networks/{id}/connect'],
  ];
  for (const [method, path, expected] of cases) assert.equal(op(method, path).path, expected, `${method} ${path}`);
  assert.equal(v.operation('GET', '/berth/only'), undefined);
});

const CREATE_REFUSED: [string, unknown, string][] = [
  ['Image as a list', { Image: ['busybox'] }, 'invalid JSON: json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Image of type string'],
  ['a label holding an object', { Image: 'b', Labels: { a: { b: 1 } } }, 'invalid JSON: json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Labels.a of type string'],
  ['Memory as a string', { HostConfig: { Memory: 'abc' } }, 'invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Memory of type int64'],
  ['Memory with a fraction', { HostConfig: { Memory: 1.5 } }, 'invalid JSON: json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64'],
  ['ShmSize beyond int64', { HostConfig: { ShmSize: 1e20 } }, 'invalid JSON: json: cannot unmarshal number 100000000000000000000 into Go struct field HostConfig.HostConfig.ShmSize of type int64'],
  ['StopTimeout as a string', { StopTimeout: '10' }, 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.StopTimeout of type int'],
  ['Memory of 2^64', { HostConfig: { Memory: 2 ** 64 } }, 'invalid JSON: json: cannot unmarshal number 18446744073709552000 into Go struct field HostConfig.HostConfig.Memory of type int64'],
  ['Env as an object', { Env: { A: 'b' } }, 'invalid JSON: json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Env of type []string'],
  ['Env holding a number', { Env: ['A=b', 3] }, 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string'],
  ['ExposedPorts as a string', { ExposedPorts: 'x' }, 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.ExposedPorts of type map[string]map[string]interface {}'],
  ['a port binding that is a string', { HostConfig: { PortBindings: { '80/tcp': 'x' } } }, 'invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.HostConfig.PortBindings.80/tcp of type []PortBinding'],
  ['a HostPort number', { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 80 }] } } }, 'invalid JSON: json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.80/tcp.HostPort of type string'],
  ['WorkingDir as a number', { WorkingDir: 5 }, 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.WorkingDir of type string'],
  ['Tty as a string', { Tty: 'yes' }, 'invalid JSON: json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool'],
  ['Cmd as a number', { Cmd: 5 }, 'invalid JSON: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Cmd of type string'],
  ['Cmd holding an object', { Cmd: ['a', {}] }, 'invalid JSON: json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Cmd of type string'],
  ['HostConfig as a list', { HostConfig: [] }, 'invalid JSON: json: cannot unmarshal array into Go struct field ContainerConfigWrapper.HostConfig of type HostConfig'],
  ['a mount whose Target is a number', { HostConfig: { Mounts: [{ Type: 'bind', Target: 1 }] } }, 'invalid JSON: json: cannot unmarshal number into Go struct field Mount.HostConfig.Mounts.Target of type string'],
  ['a body that is a list', [1], 'invalid JSON: json: cannot unmarshal array into Go value of type ContainerConfigWrapper'],
  ['a body that is a string', '"x"', 'invalid JSON: json: cannot unmarshal string into Go value of type ContainerConfigWrapper'],
  ['a truncated body', '{"Image":', 'invalid JSON: unexpected end of JSON input'],
  ['a body with a bare word', '{Image: 1}', "invalid JSON: invalid character 'I' looking for beginning of value"],
  ['two bodies', '{} {}', 'unexpected content after JSON'],
];

for (const [what, body, message] of CREATE_REFUSED) {
  test(`create body: ${what} is refused in Go's words`, () => {
    assert.equal(refusal(() => decode('POST', '/containers/create', body)), message);
  });
}

test('create body: what Go accepts is accepted and decoded as Go leaves it', () => {
  const typical = {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: true, AttachStderr: true, Tty: false, OpenStdin: false, StdinOnce: false,
    Env: null, Cmd: ['sh', '-c', 'true'], Image: 'busybox', Volumes: {}, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: {}, ExposedPorts: { '80/tcp': {} },
    StopTimeout: null, Healthcheck: { Test: ['CMD', 'true'], Interval: 1000000000 },
    HostConfig: {
      Binds: null, ContainerIDFile: '', LogConfig: { Type: '', Config: {} }, NetworkMode: 'default', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [24, 80], CapAdd: null, CapDrop: null,
      CgroupnsMode: '', Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null, IpcMode: '', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '',
      Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 0, Isolation: '', CpuShares: 0,
      Memory: -1, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0, BlkioWeightDevice: [], DeviceCgroupRules: null, MemorySwap: 9223372036854775807, MemorySwappiness: null,
      OomKillDisable: null, PidsLimit: null, Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }], Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 448, Options: [['exec']] } }],
      MaskedPaths: null, ReadonlyPaths: null, Annotations: { a: 'b' }, Sysctls: {}, Tmpfs: { '/run': 'rw' },
    },
    NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: null, Links: null, Aliases: ['x'], MacAddress: '', DriverOpts: null, GwPriority: 0 } } },
    SomethingNew: { anything: [1, 'x'] },
  };
  const out = decode('POST', '/containers/create', typical) as Record<string, any>;
  assert.deepEqual(out.Cmd, ['sh', '-c', 'true']);
  assert.equal('Env' in out, false, 'a null field is as if absent');
  assert.deepEqual(out.SomethingNew, { anything: [1, 'x'] }, 'an unknown field is kept, unchecked');
  assert.equal(out.HostConfig.Memory, -1);
});

test('create body: Go semantics for strslice, null, and the spelling of keys', () => {
  assert.deepEqual((decode('POST', '/containers/create', { Cmd: 'true' }) as any).Cmd, ['true']);
  assert.deepEqual((decode('POST', '/containers/create', { Entrypoint: 'sh -c' }) as any).Entrypoint, ['sh -c']);
  assert.deepEqual((decode('POST', '/containers/create', { Env: [null, 'A=1'] }) as any).Env, ['', 'A=1']);
  assert.deepEqual((decode('POST', '/containers/create', { Labels: { a: null } }) as any).Labels, { a: '' });
  assert.deepEqual(decode('POST', '/containers/create', 'null'), {});
  assert.deepEqual(decode('POST', '/containers/create', ''), {});
  const folded = decode('POST', '/containers/create', { image: 'busybox', hostconfig: { memory: 5 } }) as any;
  assert.equal(folded.Image, 'busybox');
  assert.equal(folded.HostConfig.Memory, 5);
  assert.equal('image' in folded, false);
  assert.match(refusal(() => decode('POST', '/containers/create', { hostconfig: { memory: 'x' } })), /cannot unmarshal string into Go struct field .*Memory of type int64/);
  // a key named __proto__ in a map stays a key; it does not become the object's prototype
  const proto = decode('POST', '/containers/create', '{"Labels":{"__proto__":null}}') as any;
  assert.equal(Object.getPrototypeOf(proto.Labels), Object.prototype);
  assert.equal(proto.Labels.__proto__ === '' || Object.prototype.hasOwnProperty.call(proto.Labels, '__proto__'), true);
});

test('other bodies: update, exec, network create, volume create, exec start', () => {
  assert.equal(refusal(() => decode('POST', '/containers/abc/update', { Memory: 'x' })), 'invalid JSON: json: cannot unmarshal string into Go struct field struct.Memory of type int64');
  assert.equal(refusal(() => decode('POST', '/containers/abc/exec', { Cmd: 'ls' })), 'invalid JSON: json: cannot unmarshal string into Go struct field ExecConfig.Cmd of type []string');
  assert.equal(refusal(() => decode('POST', '/exec/abc/start', { Detach: 'no' })), 'invalid JSON: json: cannot unmarshal string into Go struct field ExecStartConfig.Detach of type bool');
  assert.equal(refusal(() => decode('POST', '/networks/create', { Name: 'n', Labels: [] })), 'invalid JSON: json: cannot unmarshal array into Go struct field NetworkCreateRequest.Labels of type map[string]string');
  assert.equal(refusal(() => decode('POST', '/volumes/create', { Name: 1 })), 'invalid JSON: json: cannot unmarshal number into Go struct field VolumeCreateOptions.Name of type string');
  assert.deepEqual(decode('POST', '/exec/abc/start', { Detach: true, Tty: false }), { Detach: true, Tty: false });
});

test('query integers: strconv syntax and range', () => {
  const refused: [string, string, string][] = [
    ['1.9', 'int', 'strconv.Atoi: parsing "1.9": invalid syntax'],
    ['1e3', 'int', 'strconv.Atoi: parsing "1e3": invalid syntax'],
    ['0x10', 'int', 'strconv.Atoi: parsing "0x10": invalid syntax'],
    [' 5', 'int', 'strconv.Atoi: parsing " 5": invalid syntax'],
    ['5 ', 'int', 'strconv.Atoi: parsing "5 ": invalid syntax'],
    ['abc', 'int64', 'strconv.ParseInt: parsing "abc": invalid syntax'],
    ['9223372036854775808', 'int', 'strconv.Atoi: parsing "9223372036854775808": value out of range'],
    ['-1', 'uint64', 'strconv.ParseUint: parsing "-1": invalid syntax'],
  ];
  for (const [raw, go, message] of refused) assert.equal(refusal(() => checkQueryInteger(raw, go)), message, raw);
  for (const [raw, go] of [['0', 'int'], ['-5', 'int'], ['+7', 'int'], ['9223372036854775807', 'int64'], ['18446744073709551615', 'uint64']]) checkQueryInteger(raw, go);
});

test('query booleans: httputils.BoolValue never refuses; its false set', () => {
  for (const f of ['', '0', 'no', 'false', 'False', 'FALSE', 'none', ' 0 ']) assert.equal(queryBool(new URLSearchParams({ x: f }), 'x'), false, JSON.stringify(f));
  for (const t of ['1', 'true', 'True', 'yes', 'anything']) assert.equal(queryBool(new URLSearchParams({ x: t }), 'x'), true, t);
  assert.equal(queryBool(new URLSearchParams(), 'x', true), true);
});

test('query filters: map of lists or of string sets, else "invalid filter"', () => {
  for (const ok of ['{}', 'null', '{"label":["a=b"]}', '{"label":{"a=b":true}}', '{"status":["running","exited"],"id":null}']) checkFiltersJSON(ok);
  for (const bad of ['x', '[]', '"s"', '{"label":"a"}', '{"label":[1]}', '{"label":{"a":"yes"}}', '{"a":["x"],"b":{"y":true}}']) {
    assert.equal(refusal(() => checkFiltersJSON(bad)), 'invalid filter', bad);
  }
});

test('a route\'s query: integers, filters and JSON parameters checked by the reference', () => {
  const decoder = new GoDecoder(ENGINE_API_SCHEMA.definitions);
  const check = (method: string, path: string, q: string) => checkQuery(new URLSearchParams(q), op(method, path).query, decoder);
  check('GET', '/containers/json', 'all=1&limit=5&size=yes');
  check('GET', '/containers/abc/logs', 'since=1690000000.123456789&until=2024-01-01T00:00:00Z&tail=all');
  check('POST', '/build', 'buildargs=%7B%22A%22%3A%22b%22%7D&labels=%7B%7D&memory=0&t=x');
  assert.equal(refusal(() => check('GET', '/containers/json', 'limit=1.9')), 'strconv.Atoi: parsing "1.9": invalid syntax');
  assert.equal(refusal(() => check('POST', '/containers/abc/stop', 't=x')), 'strconv.Atoi: parsing "x": invalid syntax');
  assert.equal(refusal(() => check('GET', '/images/json', 'filters=%7B')), 'invalid filter');
  assert.equal(refusal(() => check('POST', '/build', 'buildargs=%7B%22A%22%3A1%7D')), 'error reading build args: json: cannot unmarshal number into Go struct field map.A of type string');
  assert.equal(refusal(() => check('POST', '/build', 'cachefrom=x')), "error reading cache-from: invalid character 'x' looking for beginning of value");
});

test('answers: a container summary that a Docker client could not decode is named', () => {
  const summary = { Id: 'a', Names: ['/a'], Image: 'busybox', ImageID: 'sha256:x', Command: 'true', Created: 1, Ports: [], Labels: { a: 'b' }, State: 'exited', Status: 'Exited (0)', HostConfig: { NetworkMode: 'bridge' }, NetworkSettings: { Networks: {} }, Mounts: [] };
  assert.equal(answerProblem('ContainerSummary', summary), undefined);
  assert.match(answerProblem('ContainerSummary', { ...summary, Image: ['busybox'] }) ?? '', /cannot unmarshal array into Go struct field ContainerSummary.Image of type string/);
  assert.match(answerProblem('ContainerSummary', { ...summary, Labels: { a: { b: 1 } } }) ?? '', /ContainerSummary.Labels.a of type string/);
  // the check does not change what is sent
  const labels = { a: null };
  answerProblem('ContainerSummary', { ...summary, Labels: labels });
  assert.deepEqual(labels, { a: null });
});

test('a body nested past the bound is refused before anything walks it (it overflowed the stack: a 500)', () => {
  const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  assert.match(refusal(() => decode('POST', '/swarm/update', deep)), /exceeded max depth/);
  assert.match(refusal(() => decode('POST', '/containers/create', `{"Labels":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`)), /exceeded max depth/);
  // brackets inside strings are text, not nesting
  assert.deepEqual((decode('POST', '/containers/create', { Image: 'busybox', Cmd: ['['.repeat(5000)] }) as any).Cmd, ['['.repeat(5000)]);
});

test('service spec: a container health check is kept under Go\'s key, Healthcheck, whichever case was sent', () => {
  for (const key of ['Healthcheck', 'HealthCheck', 'healthcheck']) {
    const out = decode('POST', '/services/create', { Name: 's', TaskTemplate: { ContainerSpec: { Image: 'busybox', [key]: { Test: ['CMD-SHELL', 'true'], Retries: 3 } } } }) as Record<string, any>;
    const spec = out.TaskTemplate.ContainerSpec;
    assert.deepEqual(spec.Healthcheck, { Test: ['CMD-SHELL', 'true'], Retries: 3 }, `sent as ${key}`);
    assert.equal('HealthCheck' in spec, false);
  }
});
