import { randomInt } from 'node:crypto';

// Docker's generated names are "adjective_surname"; ours use the same shape with our own words.
const LEFT = ['agile', 'bold', 'brave', 'calm', 'clever', 'eager', 'fair', 'gentle', 'happy', 'jolly', 'keen', 'kind', 'lively', 'lucid', 'merry', 'nimble', 'proud', 'quick', 'quiet', 'sharp', 'steady', 'swift', 'tender', 'vivid', 'wise', 'zen'];
const RIGHT = ['albatross', 'anchor', 'bollard', 'breakwater', 'buoy', 'capstan', 'cove', 'dock', 'estuary', 'ferry', 'fjord', 'galley', 'harbor', 'hull', 'jetty', 'keel', 'lagoon', 'lighthouse', 'marina', 'mooring', 'pier', 'quay', 'rudder', 'schooner', 'tide', 'wharf'];

export function generateName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const base = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    const name = i < 10 ? base : `${base}${randomInt(10)}`;
    if (!taken(name)) return name;
  }
}
