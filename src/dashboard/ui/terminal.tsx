/**
 * A shell in the container: an exec with a TTY (POST /containers/{id}/exec, as `exec -it`),
 * its stream carried over a WebSocket to xterm.js; resizes follow the terminal's size.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { csrfToken, post } from './api';

export function ContainerTerminal({ id }: { id: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [status, setStatus] = useState('connecting…');
  useEffect(() => {
    const term = new Terminal({ cursorBlink: true, fontSize: 14, theme: { background: '#111111', foreground: '#eeeeee' } });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    let ws: WebSocket | undefined;
    let closed = false;
    const start = async () => {
      const exec = await post<{ Id: string }>(`/containers/${encodeURIComponent(id)}/exec`, {
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
        Env: ['TERM=xterm-256color'],
        Cmd: ['/bin/sh', '-c', 'if [ -x /bin/bash ]; then exec /bin/bash; else exec /bin/sh; fi'],
        ConsoleSize: [term.rows, term.cols],
      });
      if (closed || !exec) return;
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      ws = new WebSocket(`${proto}://${location.host}/terminal?exec=${exec.Id}&csrf=${encodeURIComponent(csrfToken())}`);
      ws.binaryType = 'arraybuffer';
      const encoder = new TextEncoder();
      ws.onopen = () => {
        setStatus('connected');
        ws!.send(JSON.stringify({ resize: [term.cols, term.rows] }));
        term.focus();
      };
      ws.onmessage = (m) => term.write(new Uint8Array(m.data as ArrayBuffer));
      ws.onclose = () => setStatus('session ended');
      term.onData((d) => ws?.readyState === WebSocket.OPEN && ws.send(encoder.encode(d)));
      term.onResize(({ cols, rows }) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ resize: [cols, rows] })));
    };
    start().catch((e: Error) => setStatus(`could not start a shell: ${e.message}`));
    const onResize = () => fit.fit();
    window.addEventListener('resize', onResize);
    return () => {
      closed = true;
      window.removeEventListener('resize', onResize);
      ws?.close();
      term.dispose();
    };
  }, [id]);
  return (
    <div>
      <p class="muted" role="status" data-testid="terminal-status">
        Terminal: {status}
      </p>
      <div class="terminal" data-testid="terminal" ref={box} />
    </div>
  );
}
