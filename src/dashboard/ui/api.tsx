/**
 * The page's one way to the daemon: the Engine API behind /api (the routes the CLI uses),
 * with the session's CSRF token on every request that changes something.
 */
let csrf = '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Loads the session's CSRF token; false when there is no session (the login page shows). */
export async function loadSession(): Promise<boolean> {
  const r = await fetch('/session', { credentials: 'same-origin' });
  if (r.status !== 200) return false;
  csrf = ((await r.json()) as { csrf: string }).csrf;
  return true;
}

export function csrfToken(): string {
  return csrf;
}

export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['X-Berth-CSRF'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
  if (r.status === 401) {
    location.reload();
    throw new ApiError(401, 'session ended');
  }
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      message = ((await r.json()) as { message?: string }).message ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, message);
  }
  return r;
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await request('GET', path, undefined, signal)).json()) as T;
}

export async function post<T = unknown>(path: string, body?: unknown): Promise<T | undefined> {
  const r = await request('POST', path, body);
  const text = await r.text();
  return text ? (JSON.parse(text) as T) : undefined;
}

export async function del(path: string): Promise<void> {
  await request('DELETE', path);
}

/**
 * Reads a streamed answer (events, stats: one JSON object a line; logs: raw bytes) until the
 * signal aborts it, handing each chunk on.
 */
export async function readStream(path: string, signal: AbortSignal, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  const r = await request('GET', path, undefined, signal);
  const reader = r.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}

/** Splits a stream of JSON lines into objects. */
export function jsonLines<T>(onValue: (v: T) => void): (chunk: Uint8Array) => void {
  const decoder = new TextDecoder();
  let buf = '';
  return (chunk) => {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onValue(JSON.parse(line) as T);
    }
  };
}

/**
 * GETs asked for while the session is still being checked, so the first page's data does not
 * wait for that round trip; taken once by the page that wants it.
 */
const early = new Map<string, Promise<unknown>>();

export function prefetch(path: string): void {
  early.set(
    path,
    fetch(`/api${path}`, { credentials: 'same-origin' }).then((r) => (r.ok ? r.json() : undefined), () => undefined),
  );
}

export function getPrefetched<T>(path: string): Promise<T> {
  const p = early.get(path);
  early.delete(path);
  return (p ?? Promise.resolve(undefined)).then((v) => (v === undefined ? get<T>(path) : (v as T)));
}

/** Ends the session (POST /logout, with the CSRF token) and shows the login page. */
export async function logout(): Promise<void> {
  await fetch('/logout', { method: 'POST', headers: { 'X-Berth-CSRF': csrf }, credentials: 'same-origin' }).catch(() => undefined);
  location.replace('/');
}
