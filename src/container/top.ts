import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../common/errors';
import { run } from '../common/exec';
import { cgroupDir, type CgroupVersion } from './cgroups';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/**
 * `docker top`: the host's `ps` with the user's arguments, keeping the rows whose PID is
 * in the container's cgroup, as dockerd does.
 */
export async function containerTop(cgroupsPath: string, version: CgroupVersion, psArgs: string): Promise<TopResult> {
  const procsFile = path.join(cgroupDir('pids', cgroupsPath, version), 'cgroup.procs');
  const pids = new Set((await fsp.readFile(procsFile, 'utf8')).split('\n').filter(Boolean));
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ['-ef'];
  let stdout: string;
  try {
    ({ stdout } = await run('ps', args));
  } catch (e) {
    throw invalid(`Error running ps: ${(e as Error).message}`);
  }
  const lines = stdout.split('\n').filter((l) => l.trim());
  if (lines.length === 0) return { Titles: [], Processes: [] };
  const titles = lines[0].trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalid(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    // the last column (the command) may hold spaces
    const row = [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
    if (pids.has(row[pidCol])) processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}
