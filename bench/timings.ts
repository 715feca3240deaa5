/**
 * berthd's --debug timing lines (src/common/timing.ts) read back by the benches: one line per
 * API call (`api METHOD PATH STATUS at=… dur=…`) and per timed span inside the daemon
 * (`span NAME ID at=… dur=…`), and a table of where a command's time went.
 */
import { median } from './lib';

/** One line of the daemon's --debug timing: an API call or a span. */
export interface Timing {
  kind: 'api' | 'span';
  /** `POST /containers/{id}/start` or a span's name */
  name: string;
  /** the container, exec or build the line is about: the first 12 digits of its ID */
  id: string;
  at: number;
  dur: number;
}

const LINE = /\b(api|span) (.+?) at=(\d+\.\d+) dur=(\d+\.\d+)/;

export function parseTimings(text: string): Timing[] {
  const out: Timing[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    let name = m[2];
    const id = /\b([0-9a-f]{12})(?:[0-9a-f]{52})?\b/.exec(name)?.[1] ?? '';
    if (m[1] === 'api') {
      // `POST /v1.50/containers/<id>/start?x=1 204` → `POST /containers/{id}/start`
      const [method, url] = name.split(' ');
      name = `${method} ${url.split('?')[0].replace(/^\/v\d+\.\d+/, '').replace(/\/[0-9a-f]{64}(?=\/|$)/g, '/{id}')}`;
    } else {
      // the ID a span is about: a container's or exec's, or a snapshot key's (`build-1a2b3c`)
      name = name.replace(/ (?:[0-9a-f]{12}|[a-z]+-[0-9a-f]{1,12})$/, '');
    }
    out.push({ kind: m[1] as Timing['kind'], name, id, at: Number(m[3]), dur: Number(m[4]) });
  }
  return out;
}

/** Per name, the offset (from the client's spawn) and duration of each run's timings. */
export class Breakdown {
  private readonly rows = new Map<string, { kind: Timing['kind']; at: number[]; dur: number[]; times: number }>();
  private readonly firstCall: number[] = [];
  private readonly afterLast: number[] = [];

  /** One run: the client started at `t0` and ended at `t1` (epoch ms). */
  add(timings: Timing[], t0: number, t1: number): void {
    const perName = new Map<string, { kind: Timing['kind']; at: number; dur: number; times: number }>();
    for (const t of timings) {
      // a span that happens several times in one run (a record saved at each step) counts its sum
      const seen = perName.get(`${t.kind} ${t.name}`);
      if (seen) {
        seen.dur += t.dur;
        seen.times++;
      } else perName.set(`${t.kind} ${t.name}`, { kind: t.kind, at: t.at - t0, dur: t.dur, times: 1 });
    }
    for (const [key, v] of perName) {
      const row = this.rows.get(key) ?? { kind: v.kind, at: [], dur: [], times: v.times };
      row.at.push(v.at);
      row.dur.push(v.dur);
      row.times = Math.max(row.times, v.times);
      this.rows.set(key, row);
    }
    const calls = timings.filter((t) => t.kind === 'api');
    if (calls.length) {
      this.firstCall.push(Math.min(...calls.map((c) => c.at)) - t0);
      this.afterLast.push(t1 - Math.max(...calls.map((c) => c.at + c.dur)));
    }
  }

  print(title: string): void {
    if (!this.rows.size) return;
    console.log(`\n${title}: median start (ms after the client's spawn) and duration, ms`);
    const lines: [string, number, number][] = [];
    for (const [key, r] of this.rows) {
      const name = key.startsWith('api ') ? key.slice(4) : `  ${key.slice(5)}`;
      lines.push([r.times > 1 ? `${name} (${r.times} times, summed; first start)` : name, median(r.at), median(r.dur)]);
    }
    lines.sort((a, b) => a[1] - b[1]);
    if (this.firstCall.length) lines.unshift(['client: spawn to its first API call', 0, median(this.firstCall)]);
    const w = Math.max(...lines.map((l) => l[0].length));
    for (const [name, at, dur] of lines) console.log(`${name.padEnd(w)}  ${at.toFixed(1).padStart(7)}  ${dur.toFixed(1).padStart(7)}`);
    if (this.afterLast.length) console.log(`${'client: last answer to its exit'.padEnd(w)}  ${''.padStart(7)}  ${median(this.afterLast).toFixed(1).padStart(7)}`);
  }
}
