/** The CLI's credential store: config.json under the config directory, docker's layout and encodings. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CredentialStore,
  ConfigFileError,
  INDEX_SERVER,
  configDir,
  decodeAuthConfig,
  encodeAuthConfig,
  normalizeServer,
} from '../../src/cli/credentials';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-creds-'));
}

test('server keys: Docker Hub spellings share one key, others are host[:port]', () => {
  for (const s of ['', 'docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'https://index.docker.io/v1', 'http://docker.io', 'registry-1.docker.io']) {
    assert.equal(normalizeServer(s), INDEX_SERVER, s);
  }
  assert.equal(INDEX_SERVER, 'https://index.docker.io/v1/');
  assert.equal(normalizeServer('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(normalizeServer('https://127.0.0.1:5000/'), '127.0.0.1:5000');
  assert.equal(normalizeServer('http://registry.example.com/v2/foo'), 'registry.example.com');
  assert.equal(normalizeServer('localhost:8080'), 'localhost:8080');
  assert.equal(normalizeServer(' [::1]:5000 '), '[::1]:5000');
});

test('config directory: --config, then BERTH_CONFIG, then $HOME/.berth', () => {
  assert.equal(configDir({ BERTH_CONFIG: '/a', HOME: '/h' }, '/flag'), '/flag');
  assert.equal(configDir({ BERTH_CONFIG: '/a', HOME: '/h' }), '/a');
  assert.equal(configDir({ HOME: '/h' }), '/h/.berth');
});

test('set writes docker\'s layout with mode 0600 in a 0700 directory, get reads it back', () => {
  const root = tempDir();
  try {
    const dir = join(root, 'cfg');
    const store = new CredentialStore(dir);
    store.set('127.0.0.1:5000', { username: 'alice', password: 's3cr:et' });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(store.file).mode & 0o777, 0o600);
    const doc = JSON.parse(readFileSync(store.file, 'utf8'));
    assert.deepEqual(doc, { auths: { '127.0.0.1:5000': { auth: Buffer.from('alice:s3cr:et').toString('base64') } } });
    assert.deepEqual(store.get('127.0.0.1:5000'), { serveraddress: '127.0.0.1:5000', username: 'alice', password: 's3cr:et' });
    assert.deepEqual(store.get('https://127.0.0.1:5000/'), store.get('127.0.0.1:5000'));
    assert.equal(store.get('127.0.0.1:5001'), undefined);
    // No temporary files left behind.
    assert.deepEqual(readdirSync(dir), ['config.json']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Docker Hub is stored under https://index.docker.io/v1/ whatever it is called', () => {
  const dir = tempDir();
  try {
    const store = new CredentialStore(dir);
    store.set('docker.io', { username: 'bob', password: 'pw' });
    const doc = JSON.parse(readFileSync(store.file, 'utf8'));
    assert.deepEqual(Object.keys(doc.auths), [INDEX_SERVER]);
    assert.equal(store.get('index.docker.io')?.username, 'bob');
    assert.equal(store.get(INDEX_SERVER)?.password, 'pw');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown keys of the file and of entries are kept; other spellings of the key are replaced', () => {
  const dir = tempDir();
  try {
    const store = new CredentialStore(dir);
    writeFileSync(
      store.file,
      JSON.stringify({
        auths: {
          'https://reg.example.com': { auth: Buffer.from('old:old').toString('base64'), email: 'x@example.com' },
          'other.example.com': { auth: Buffer.from('o:p').toString('base64') },
        },
        psFormat: 'table {{.ID}}',
        credHelpers: {},
      }),
    );
    // A legacy spelling is found.
    assert.equal(store.get('reg.example.com')?.username, 'old');
    store.set('reg.example.com', { username: 'new', password: 'pw' });
    const doc = JSON.parse(readFileSync(store.file, 'utf8'));
    assert.equal(doc.psFormat, 'table {{.ID}}');
    assert.deepEqual(doc.credHelpers, {});
    assert.deepEqual(Object.keys(doc.auths).sort(), ['other.example.com', 'reg.example.com']);
    assert.deepEqual(doc.auths['reg.example.com'], { email: 'x@example.com', auth: Buffer.from('new:pw').toString('base64') });
    assert.equal(store.get('other.example.com')?.password, 'p');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('erase removes every spelling of the entry and reports whether there was one', () => {
  const dir = tempDir();
  try {
    const store = new CredentialStore(dir);
    writeFileSync(store.file, JSON.stringify({ auths: { 'http://reg:5000': { auth: 'dTpw' }, 'reg:5000': { auth: 'dTpw' }, keep: { auth: 'dTpw' } }, x: 1 }));
    assert.equal(store.has('reg:5000'), true);
    assert.equal(store.erase('reg:5000'), true);
    assert.equal(store.has('reg:5000'), false);
    assert.equal(store.erase('reg:5000'), false);
    assert.deepEqual(JSON.parse(readFileSync(store.file, 'utf8')), { auths: { keep: { auth: 'dTpw' } }, x: 1 });
    // Erasing where there is no file at all.
    assert.equal(new CredentialStore(join(dir, 'none')).erase('reg:5000'), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('identity tokens replace the password, in the file and in the header', () => {
  const dir = tempDir();
  try {
    const store = new CredentialStore(dir);
    store.set('reg:5000', { username: 'carol', password: 'ignored', identitytoken: 'tok-123' });
    const doc = JSON.parse(readFileSync(store.file, 'utf8'));
    assert.deepEqual(doc.auths['reg:5000'], { auth: Buffer.from('carol:').toString('base64'), identitytoken: 'tok-123' });
    assert.deepEqual(store.get('reg:5000'), { serveraddress: 'reg:5000', username: 'carol', password: '', identitytoken: 'tok-123' });
    assert.equal(
      Buffer.from(store.registryAuthHeader('reg:5000'), 'base64').toString(),
      '{"username":"carol","serveraddress":"reg:5000","identitytoken":"tok-123"}',
    );
    // A later password login drops the token.
    store.set('reg:5000', { username: 'carol', password: 'pw' });
    assert.equal(store.get('reg:5000')?.identitytoken, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('X-Registry-Auth: URL-safe base64 (padded, as Go writes it) of the AuthConfig JSON; "{}" without credentials', () => {
  const dir = tempDir();
  try {
    const store = new CredentialStore(dir);
    assert.equal(store.registryAuthHeader('reg:5000'), 'e30=');
    assert.deepEqual(decodeAuthConfig('e30='), {});
    // A password whose base64 has "+" and "/" in the standard alphabet.
    store.set('reg:5000', { username: 'u', password: '>>>???~~~' });
    const header = store.registryAuthHeader('reg:5000');
    assert.match(header, /^[A-Za-z0-9_-]+=*$/);
    const json = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString();
    assert.equal(json, '{"username":"u","password":">>>???~~~","serveraddress":"reg:5000"}');
    assert.deepEqual(decodeAuthConfig(header), { username: 'u', password: '>>>???~~~', serveraddress: 'reg:5000' });
    assert.equal(header.length % 4, 0);
    // Field order is Go's, whatever order the object was built in.
    assert.equal(
      Buffer.from(encodeAuthConfig({ serveraddress: 's', password: 'p', username: 'u' }), 'base64').toString(),
      '{"username":"u","password":"p","serveraddress":"s"}',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a broken config file is an error naming the file, and is not overwritten', () => {
  const dir = tempDir();
  try {
    const store = new CredentialStore(dir);
    writeFileSync(store.file, '{"auths": ');
    assert.throws(() => store.get('reg:5000'), (e: unknown) => e instanceof ConfigFileError && e.message.includes(store.file));
    assert.throws(() => store.set('reg:5000', { username: 'u', password: 'p' }), ConfigFileError);
    assert.equal(readFileSync(store.file, 'utf8'), '{"auths": ');
    writeFileSync(store.file, JSON.stringify({ auths: { 'reg:5000': { auth: Buffer.from('nocolon').toString('base64') } } }));
    assert.throws(() => store.get('reg:5000'), ConfigFileError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a config.json that is a symlink: the target is replaced, the link kept', () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'config.json'), '{}');
    mkdirSync(join(dir, 'cfg'));
    symlinkSync(join(dir, 'real', 'config.json'), join(dir, 'cfg', 'config.json'));
    const store = new CredentialStore(join(dir, 'cfg'));
    store.set('reg:5000', { username: 'u', password: 'p' });
    assert.equal(store.get('reg:5000')?.username, 'u');
    assert.ok(JSON.parse(readFileSync(join(dir, 'real', 'config.json'), 'utf8')).auths['reg:5000']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
