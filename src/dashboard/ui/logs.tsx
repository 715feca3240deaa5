/**
 * A container's logs, live: GET /containers/{id}/logs with follow, as `berth logs -f` reads
 * them. Without a TTY the stream is multiplexed (an 8-byte header before each frame).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { readStream } from './api';

const MAX_LINES = 5000;

/** Turns the multiplexed stream into text; a TTY's raw stream passes through. */
function demuxer(tty: boolean, onText: (s: string) => void): (chunk: Uint8Array) => void {
  const decoder = new TextDecoder();
  if (tty) return (chunk) => onText(decoder.decode(chunk, { stream: true }));
  let buf = new Uint8Array(0);
  return (chunk) => {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    buf = joined;
    let text = '';
    while (buf.length >= 8) {
      const size = ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0;
      if (buf.length < 8 + size) break;
      text += decoder.decode(buf.subarray(8, 8 + size), { stream: true });
      buf = buf.subarray(8 + size);
    }
    if (text) onText(text);
  };
}

export function LogView({ id, tty }: { id: string; tty: boolean }) {
  const [lines, setLines] = useState<string[]>([]);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState('');
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ac = new AbortController();
    let partial = '';
    let acc: string[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      setLines(acc.slice());
    };
    const onText = (t: string) => {
      const parts = (partial + t).split('\n');
      partial = parts.pop() ?? '';
      acc.push(...parts.map((l) => l.replace(/\r$/, '')));
      if (acc.length > MAX_LINES) acc = acc.slice(-MAX_LINES);
      if (!scheduled) {
        scheduled = true;
        requestAnimationFrame(flush);
      }
    };
    setLines([]);
    readStream(`/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&tail=1000${follow ? '&follow=1' : ''}`, ac.signal, demuxer(tty, onText))
      .then(() => {
        if (partial) acc.push(partial);
        flush();
      })
      .catch(() => undefined);
    return () => ac.abort();
  }, [id, tty, follow]);
  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [lines, follow]);
  const q = search.toLowerCase();
  const shown = q ? lines.filter((l) => l.toLowerCase().includes(q)) : lines;
  return (
    <div>
      <div class="toolbar">
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow
        </label>
        <label>
          Search <input type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} data-testid="log-search" />
        </label>
        <span class="muted">
          {shown.length} of {lines.length} lines
        </span>
      </div>
      <pre class="logs" ref={pre} data-testid="logs" aria-live="polite">
        {shown.join('\n')}
      </pre>
    </div>
  );
}
