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
