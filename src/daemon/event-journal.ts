import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { EngineEvent, EventBus } from './events';

/**
 * The events of the last while, kept so `events --since` can replay them, also after a daemon
 * restart: appended to a JSON-lines file, read back at start-up (a line that does not parse,
 * as a crash in the middle of a write leaves, is skipped and counted), and bounded: past
 * MAX_EVENTS the older half is dropped and the file rewritten.
 */
const MAX_EVENTS = 10_000;

export class EventJournal {
  private events: EngineEvent[] = [];
  private file?: FileHandle;
  private writing: Promise<unknown> = Promise.resolve();

  private constructor(private readonly path: string) {}

  static async open(path: string, bus: EventBus, log: (m: string) => void): Promise<EventJournal> {
    const j = new EventJournal(path);
    const text = await fsp.readFile(path, 'utf8').catch(() => '');
    let corrupt = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const ev = JSON.parse(line) as EngineEvent;
        if (typeof ev.timeNano === 'number' && typeof ev.Type === 'string') j.events.push(ev);
        else corrupt++;
      } catch {
        corrupt++;
      }
    }
    if (corrupt) log(`events journal: skipped ${corrupt} unreadable line(s)`);
    j.events = j.events.slice(-MAX_EVENTS);
    if (corrupt || j.events.length === MAX_EVENTS) await j.rewrite();
    j.file = await fsp.open(path, 'a', 0o600);
    bus.on('event', (ev: EngineEvent) => j.append(ev));
    return j;
  }

  /** Events with since <= time <= until (nanoseconds), oldest first. */
  between(sinceNano: number, untilNano: number): EngineEvent[] {
    return this.events.filter((e) => e.timeNano >= sinceNano && e.timeNano <= untilNano);
  }

  private append(ev: EngineEvent): void {
    this.events.push(ev);
    const line = `${JSON.stringify(ev)}\n`;
    this.writing = this.writing.then(async () => {
      if (this.events.length > MAX_EVENTS * 1.5) {
        this.events = this.events.slice(-MAX_EVENTS);
        await this.rewrite();
        return;
      }
      await this.file?.appendFile(line);
    }).catch(() => undefined);
  }

  private async rewrite(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    await fsp.writeFile(tmp, this.events.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
    await fsp.rename(tmp, this.path);
    if (this.file) {
      await this.file.close();
      this.file = await fsp.open(this.path, 'a', 0o600);
    }
  }

  async close(): Promise<void> {
    await this.writing;
    await this.file?.close();
  }
}
