import { invalid } from '../common/errors';
import { parseSize } from '../common/units';

/**
 * A container's log driver and options (`--log-driver`, `--log-opt`, HostConfig.LogConfig),
 * over the daemon's (`log-driver`, `log-opts` in daemon.json).
 *
 * berth keeps every log as conmon writes it (CRI lines in `container.log`) whichever file
 * driver is named; what the options change is how much disk it may take. Docker's json-file
 * driver keeps one file that grows without limit by default; berth, so that no container
 * decides how much disk its log takes, defaults to what Docker's `local` driver keeps:
 * 5 files of 20 MiB. `max-size=-1` asks for no limit.
 */
export interface LogConfig {
  Type: string;
  Config?: Record<string, string>;
}

/** How much log a container keeps: files of at most `maxSize` bytes (0 for no limit), `maxFiles` of them. */
export interface LogLimits {
  maxSize: number;
  maxFiles: number;
}

export const DEFAULT_LOG_DRIVER = 'json-file';
export const DEFAULT_LOG_OPTS: Record<string, string> = { 'max-size': '20m', 'max-file': '5' };

/** The drivers whose files berth keeps, and the options each takes (Docker's lists). */
const DRIVERS: Record<string, string[]> = {
  'json-file': ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'],
  local: ['max-file', 'max-size', 'compress'],
  'k8s-file': ['max-file', 'max-size', 'tag'],
  // keeps nothing: `docker logs` is refused
  none: [],
};
/** options every driver takes (how the daemon buffers a log) */
const COMMON_OPTS = ['mode', 'max-buffer-size'];

/** Refuses a driver berth does not keep and options it does not know, in dockerd's words. */
export function validateLogConfig(cfg: LogConfig | undefined, daemonDriver = DEFAULT_LOG_DRIVER): void {
  const driver = cfg?.Type || daemonDriver;
  const known = DRIVERS[driver];
  if (!known) throw invalid(`logger: no log driver named '${driver}' is registered`);
  for (const [key, value] of Object.entries(cfg?.Config ?? {})) {
    if (!known.includes(key) && !COMMON_OPTS.includes(key)) throw invalid(`unknown log opt '${key}' for ${driver} log driver`);
    if (typeof value !== 'string') throw invalid(`json: cannot unmarshal ${typeof value} into Go struct field LogConfig.HostConfig.LogConfig.Config of type string`);
  }
  logLimits(cfg, {});
}

/**
 * The LogConfig a new container keeps, as dockerd fills it in at create: no driver named means
 * the daemon's, and the daemon's options fill in what a container on that driver leaves out.
 */
export function effectiveLogConfig(cfg: LogConfig | undefined, daemonDriver = DEFAULT_LOG_DRIVER, daemonOpts: Record<string, string> = {}): LogConfig {
  const Type = cfg?.Type || daemonDriver;
  const Config = { ...(Type === daemonDriver ? daemonOpts : {}), ...(cfg?.Config ?? {}) };
  return { Type, Config };
}

/** The limits a container's log keeps to: its own options over the daemon's over berth's. */
export function logLimits(cfg: LogConfig | undefined, daemonOpts: Record<string, string>): LogLimits {
  const opts = { ...DEFAULT_LOG_OPTS, ...daemonOpts, ...(cfg?.Config ?? {}) };
  const rawSize = opts['max-size'];
  let maxSize: number;
  if (rawSize === '-1') maxSize = 0;
  else {
    try {
      maxSize = parseSize(rawSize, true);
    } catch (e) {
      throw invalid((e as Error).message);
    }
  }
  const rawFiles = opts['max-file'];
  const maxFiles = /^-?\d+$/.test(rawFiles) ? Number(rawFiles) : NaN;
  if (Number.isNaN(maxFiles)) throw invalid(`strconv.Atoi: parsing "${rawFiles}": invalid syntax`);
  if (maxFiles < 1) throw invalid('max-file cannot be less than 1');
  return { maxSize, maxFiles };
}
