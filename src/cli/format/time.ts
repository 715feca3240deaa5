/** Go's time.Time.String() layout, "2006-01-02 15:04:05 -0700 MST", in local time. */
export function goTimeString(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const offStr = `${sign}${p(Math.floor(Math.abs(off) / 60))}${p(Math.abs(off) % 60)}`;
  let zone = 'UTC';
  if (off !== 0) {
    try {
      const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((x) => x.type === 'timeZoneName');
      zone = part && /^[A-Z]{2,5}$/.test(part.value) ? part.value : offStr;
    } catch {
      zone = offStr;
    }
  }
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())} ${offStr} ${zone}`;
}

/**
 * Go's time.Time.String() for a time the API sent as RFC 3339 text, as docker
 * shows it after decoding: "2021-03-09 21:41:29.798999529 +0000 UTC". The wall
 * clock and offset are the text's own; a "Z" time is in UTC; an offset that is
 * the local zone's at that moment gets the local zone's name, any other offset
 * is named by itself ("+0100"). Text that does not parse shows as Go's zero time.
 */
export function goTimeStringFromRfc3339(text: string | undefined): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(text ?? '');
  if (!m) return '0001-01-01 00:00:00 +0000 UTC';
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const fraction = frac.slice(0, 9).replace(/0+$/, '');
  const wall = `${y}-${mo}-${d} ${h}:${mi}:${s}${fraction ? '.' + fraction : ''}`;
  if (zone.toUpperCase() === 'Z') return `${wall} +0000 UTC`;
  const offset = zone.replace(':', '');
  const offsetMinutes = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const instant = new Date(text as string);
  let name = offset;
  if (!Number.isNaN(instant.getTime()) && -instant.getTimezoneOffset() === offsetMinutes) {
    const local = goTimeString(instant);
    name = local.slice(local.lastIndexOf(' ') + 1);
  }
  return `${wall} ${offset} ${name}`;
}
