/** Help texts in docker's layout: Usage, summary, Aliases, Options. */
import type { FlagDef } from './flags';
import type { CommandSpec } from './command';

function flagLine(f: FlagDef): string {
  const names = f.short ? `-${f.short}, --${f.name}` : `    --${f.name}`;
  return f.type === 'bool' ? names : `${names} ${f.type}`;
}

function defaultNote(f: FlagDef): string {
  if (f.defaultText !== undefined) return ` (default ${f.defaultText})`;
  const d = f.default;
  if (d === undefined || d === '' || d === false || d === 0) return '';
  return typeof d === 'string' ? ` (default "${d}")` : ` (default ${String(d)})`;
}

export function formatOptions(flags: readonly FlagDef[]): string {
  const visible = [...flags.filter((f) => !f.hidden)].sort((a, b) => a.name.localeCompare(b.name));
  const left = visible.map(flagLine);
  const width = Math.max(0, ...left.map((s) => s.length));
  const lines: string[] = [];
  visible.forEach((f, i) => {
    const help = (f.help + defaultNote(f)).split('\n');
    lines.push(`  ${left[i].padEnd(width)}   ${help[0]}`);
    for (const more of help.slice(1)) lines.push(`  ${' '.repeat(width)}   ${more}`);
  });
  return lines.join('\n');
}

export function commandHelp(prog: string, path: string, spec: CommandSpec): string {
  let s = `Usage:  ${prog} ${path}${spec.usage ? ' ' + spec.usage : ''}\n\n${spec.summary}\n`;
  if (spec.aliases && spec.aliases.length > 1) s += `\nAliases:\n  ${spec.aliases.map((a) => `${prog} ${a}`).join(', ')}\n`;
  const opts = formatOptions(spec.flags);
  if (opts) s += `\nOptions:\n${opts}\n`;
  return s;
}
