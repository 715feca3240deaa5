/** `berth login` and `berth logout`: registry credentials in the client config file. */
import type { CommandContext, CommandSpec } from '../command';
import { EngineError } from '../../client/engine';
import { StatusError } from '../errors';
import { AuthConfig, ConfigFileError, CredentialStore, INDEX_SERVER, credentialStore, normalizeServer } from '../credentials';
import { PromptInput, readAll, readLine, readSecret } from '../prompt';

/** POST /auth's answer. */
interface AuthResponse {
  Status?: string;
  IdentityToken?: string;
}

/** Checks credentials with the daemon (POST /auth); EngineError when it refuses them. */
async function authenticate(ctx: CommandContext, auth: AuthConfig): Promise<AuthResponse> {
  return (await ctx.client().call<AuthResponse | undefined>('POST', '/auth', { body: auth })) ?? {};
}

/** Stores what a successful login used: the identity token if the daemon gave one, else the password. */
function store(ctx: CommandContext, creds: CredentialStore, server: string, username: string, password: string, res: AuthResponse): void {
  const token = res.IdentityToken || undefined;
  try {
    creds.set(server, { username, password: token ? '' : password, identitytoken: token });
  } catch (e) {
    if (e instanceof ConfigFileError) throw new StatusError(`Error saving credentials: ${e.message}`, 1);
    throw e;
  }
  if (!token) ctx.err(`\nWARNING! Your credentials are stored unencrypted in '${creds.file}'.\n\n`);
}

/**
 * docker's flag rules: a warning for -p, -p and --password-stdin exclusive,
 * --password-stdin (or `-p -`) needs -u and reads the password from stdin
 * without its final line ending.
 */
async function passwordFromFlags(ctx: CommandContext, user: string, password: string, passwordStdin: boolean): Promise<string> {
  if (password !== '' && password !== '-') ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  if (password !== '' && passwordStdin) throw new StatusError('--password and --password-stdin are mutually exclusive', 1);
  if (password === '-') passwordStdin = true;
  if (!passwordStdin) return password;
  if (user === '') throw new StatusError('Must provide --username with --password-stdin', 1);
  const text = await readAll(ctx.stdin);
  return text.replace(/\n$/, '').replace(/\r$/, '');
}

export const login: CommandSpec = {
  usage: '[OPTIONS] [SERVER]',
  summary: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
  args: { max: 1 },
  flags: [
    { name: 'password', short: 'p', type: 'string', help: 'Password or Personal Access Token (PAT), or `-` to read from stdin', default: '' },
    { name: 'password-stdin', type: 'bool', help: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { name: 'username', short: 'u', type: 'string', help: 'Username', default: '' },
  ],
  async run(ctx, p) {
    let user = (p.values.username as string).trim();
    let password = await passwordFromFlags(ctx, user, p.values.password as string, p.values['password-stdin'] as boolean);
    const server = normalizeServer(p.args[0] ?? '');
    const creds = credentialStore(ctx);
    const stored = creds.get(server);

    // Without -u and -p, the stored credentials are tried first.
    if (user === '' && password === '' && stored && stored.username && stored.password) {
      ctx.err(`Authenticating with existing credentials... [Username: ${stored.username}]\n`);
      try {
        const res = await authenticate(ctx, { username: stored.username, password: stored.password, serveraddress: server });
        store(ctx, creds, server, stored.username, stored.password, res);
        ctx.out(`${res.Status || 'Login Succeeded'}\n`);
        return 0;
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
        if (e.status === 401) ctx.err('Stored credentials invalid or expired\n');
        else ctx.err(`Login did not succeed, error: Error response from daemon: ${e.message}\n`);
      }
    }

    if ((user === '' || password === '') && !ctx.stdin.isTTY) {
      throw new StatusError('Error: Cannot perform an interactive login from a non TTY device', 1);
    }
    const input = ctx.stdin as unknown as PromptInput;
    if (user === '') {
      const fallback = stored?.username ?? '';
      ctx.out(fallback ? `Username (${fallback}): ` : 'Username: ');
      user = (await readLine(input)).trim() || fallback;
      if (user === '') throw new StatusError('Error: Non-null Username Required', 1);
    }
    if (password === '') {
      ctx.out('Password: ');
      password = await readSecret(input, ctx.stdout);
      ctx.out('\n');
      if (password === '') throw new StatusError('Error: Password Required', 1);
    }

    const res = await authenticate(ctx, { username: user, password, serveraddress: server });
    store(ctx, creds, server, user, password, res);
    ctx.out(`${res.Status || 'Login Succeeded'}\n`);
    return 0;
  },
};

export const logout: CommandSpec = {
  usage: '[SERVER]',
  summary: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  args: { max: 1 },
  flags: [],
  async run(ctx, p) {
    const server = normalizeServer(p.args[0] ?? INDEX_SERVER);
    const creds = credentialStore(ctx);
    if (!creds.has(server)) {
      ctx.out(`Not logged in to ${server}\n`);
      return 0;
    }
    ctx.out(`Removing login credentials for ${server}\n`);
    try {
      creds.erase(server);
    } catch (e) {
      if (!(e instanceof ConfigFileError)) throw e;
      ctx.err('WARNING: could not erase credentials:\n');
      ctx.out(`${server}: ${e.message}\n`);
    }
    return 0;
  },
};
