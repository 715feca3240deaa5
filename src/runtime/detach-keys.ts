import { invalid } from '../common/errors';
import { parseKeySequence } from '../common/detach-keys';

export { KeySequenceDetector } from '../common/detach-keys';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** The `detachKeys` of an attach or exec, in dockerd's words when it is not a key sequence. */
export function parseDetachKeys(spec: string): Buffer {
  const keys = parseKeySequence(spec);
  if (!keys) throw invalid(`Invalid detach keys (${spec}) provided`);
  return keys;
}
