import { EventEmitter } from 'node:events';

/** Docker's event object (GET /events), kept here so every part of the daemon can publish. */
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon' | 'plugin' | 'node' | 'service' | 'secret' | 'config';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local' | 'swarm';
  time: number;
  timeNano: number;
  /** deprecated fields still sent by Docker for containers */
  status?: string;
  id?: string;
  from?: string;
}

/** The daemon's event bus: publishers call `emit`, the events endpoint and waiters subscribe. */
export class EventBus extends EventEmitter {
  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const now = process.hrtime.bigint();
    const timeNano = BigInt(Date.now()) * 1_000_000n + (now % 1_000_000n);
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(timeNano / 1_000_000_000n),
      timeNano: Number(timeNano),
    };
    if (type === 'container') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.emit('event', ev);
    return ev;
  }
}
