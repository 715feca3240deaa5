/**
 * A container's files. A directory is listed by `ls -1Ap` run in the container (an exec, as
 * `berth exec` runs one; the Engine API has no listing of its own), so listing needs a running
 * container with an ls; a file is read through the archive API (GET /containers/{id}/archive,
 * what `berth cp` reads), which works stopped too, and shown or saved.
 */
import { useEffect, useState } from 'preact/hooks';
import { post, request } from './api';

const MAX_PREVIEW = 1024 * 1024;

/** Demultiplexes an exec's output (8-byte frame headers) into its stdout text. */
function stdoutOf(buf: Uint8Array): string {
  const decoder = new TextDecoder();
  let out = '';
  let at = 0;
  while (at + 8 <= buf.length) {
    const size = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>> 0;
    if (buf[at] === 1) out += decoder.decode(buf.subarray(at + 8, at + 8 + size), { stream: true });
    at += 8 + size;
  }
  return out;
}

async function listDirectory(id: string, dir: string): Promise<string[]> {
  const exec = await post<{ Id: string }>(`/containers/${encodeURIComponent(id)}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: ['ls', '-1Ap', '--', dir] });
  const r = await request('POST', `/exec/${exec!.Id}/start`, { Detach: false, Tty: false });
  const text = stdoutOf(new Uint8Array(await r.arrayBuffer()));
  return text.split('\n').filter(Boolean).sort((a, b) => Number(b.endsWith('/')) - Number(a.endsWith('/')) || a.localeCompare(b));
}

/** The first regular file of a tar archive: its bytes. */
function firstFileOfTar(tar: Uint8Array): Uint8Array | undefined {
  const text = new TextDecoder();
  let at = 0;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) return undefined;
    const size = parseInt(text.decode(header.subarray(124, 136)).replace(/\0.*$/, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    const body = at + 512;
    if (type === '0' || type === '\0') return tar.subarray(body, body + size);
    at = body + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

const join = (dir: string, name: string) => `${dir.replace(/\/$/, '')}/${name}`;

export function FileBrowser({ id, running }: { id: string; running: boolean }) {
  const [dir, setDir] = useState('/');
  const [entries, setEntries] = useState<string[] | undefined>();
  const [error, setError] = useState('');
  const [file, setFile] = useState<{ path: string; text?: string; url: string; size: number } | undefined>();
  useEffect(() => {
    setEntries(undefined);
    setError('');
    if (!running) return;
    listDirectory(id, dir).then(setEntries, (e: Error) => setError(`Could not list ${dir}: ${e.message}`));
  }, [id, dir, running]);
  useEffect(() => () => file && URL.revokeObjectURL(file.url), [file]);
  const open = async (path: string) => {
    setError('');
    try {
      const r = await request('GET', `/containers/${encodeURIComponent(id)}/archive?path=${encodeURIComponent(path)}`);
      const bytes = firstFileOfTar(new Uint8Array(await r.arrayBuffer()));
      if (!bytes) throw new Error('not a regular file');
      let text: string | undefined;
      if (bytes.length <= MAX_PREVIEW) {
        try {
          text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          text = undefined;
        }
      }
      setFile({ path, text, url: URL.createObjectURL(new Blob([bytes as BlobPart])), size: bytes.length });
    } catch (e) {
      setError(`Could not read ${path}: ${(e as Error).message}`);
    }
  };
  const up = dir === '/' ? undefined : dir.replace(/[^/]+\/?$/, '') || '/';
  return (
    <div class="files">
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          const p = ((e.target as HTMLFormElement).elements.namedItem('path') as HTMLInputElement).value.trim();
          if (p.endsWith('/')) setDir(p);
          else if (p) void open(p);
        }}
      >
        <label>
          Path <input name="path" value={file?.path ?? dir} key={file?.path ?? dir} class="mono" />
        </label>
        <button type="submit">Open</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {!running && <p class="muted">Listing folders needs the container running; a file can still be opened by its path.</p>}
      {running && (
        <ul class="file-list mono" data-testid="files">
          {up && (
            <li>
              <button type="button" class="link" onClick={() => (setFile(undefined), setDir(up))}>
                ../
              </button>
            </li>
          )}
          {entries === undefined && !error && <li class="muted">Loading…</li>}
          {entries?.map((name) => (
            <li>
              <button type="button" class="link" onClick={() => (name.endsWith('/') ? (setFile(undefined), setDir(join(dir, name))) : void open(join(dir, name)))}>
                {name}
              </button>
            </li>
          ))}
        </ul>
      )}
      {file && (
        <div>
          <h3 class="mono">
            {file.path} ({file.size} bytes){' '}
            <a href={file.url} download={file.path.split('/').pop()}>
              Download
            </a>
          </h3>
          {file.text !== undefined ? <pre class="json" data-testid="file-content">{file.text}</pre> : <p class="muted">Not text, or larger than 1 MiB: download it.</p>}
        </div>
      )}
    </div>
  );
}
