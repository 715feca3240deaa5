/** Numbers as the docker CLI shows them: the CLI's own functions (Node-free, so they bundle for the browser). */
import { bytesSize, humanDuration, humanSize } from '../../common/units';

/** Binary units, as `docker stats` shows memory ("1.5GiB"). */
export const bytes = (n: number): string => bytesSize(n);

/** Decimal units, as `docker images` and `docker system df` show sizes ("4.26MB"). */
export const siBytes = (n: number): string => humanSize(n);

/** A time (seconds since the epoch) as docker's CREATED column says it ("3 hours ago"). */
export const ago = (seconds: number): string => `${humanDuration(Math.max(0, Date.now() - seconds * 1000))} ago`;

export const shortId = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
