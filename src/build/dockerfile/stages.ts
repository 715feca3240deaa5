import { invalid } from '../../common/errors';
import { expandWord } from './expand';
import type { GlobalArgs } from './args';
import type { Dockerfile, Instruction, Stage } from './types';

/**
 * Which stages a build needs: the target (the last stage unless --target names one) and,
 * transitively, the stages it builds FROM, copies from (`COPY --from`) or mounts
 * (`RUN --mount=from=`). Other stages are skipped, as BuildKit does.
 */

/** A stage by name (case-insensitive) or by index; a FROM or --from that names no stage is an image. */
export function findStage(df: Dockerfile, ref: string): Stage | undefined {
  const lower = ref.toLowerCase();
  const byName = df.stages.find((s) => s.name === lower);
  if (byName) return byName;
  if (/^\d+$/.test(ref)) return df.stages[Number(ref)];
  return undefined;
}

/** The stage a build ends at; `failed to reach build target X in Dockerfile` if none. */
export function targetStage(df: Dockerfile, target?: string): Stage {
  if (target === undefined || target === '') return df.stages[df.stages.length - 1];
  const st = findStage(df, target);
  if (!st) throw invalid(`failed to reach build target ${target} in Dockerfile`);
  return st;
}

export interface StageDeps {
  /** the stage named by FROM, if it names one */
  base?: Stage;
  /** stages read by COPY --from or RUN --mount=from=, in the order first used */
  copyFrom: Stage[];
}

function fromRefs(i: Instruction): string[] {
  if (i.kind === 'COPY' && i.from !== undefined) return [i.from];
  if (i.kind === 'RUN') return i.mounts.flatMap((m) => (m.from !== undefined ? [m.from] : []));
  return [];
}

/**
 * What one stage depends on. FROM may only name an earlier stage (a later or its own name
 * is an image); `--from` may name any other stage by name, but an index must be earlier.
 * Names are expanded with the global args when given (`FROM ${BASE}`, `--from=${SRC}`).
 */
export function stageDependencies(df: Dockerfile, stage: Stage, globals?: GlobalArgs): StageDeps {
  const exp = (s: string) => (globals ? expandWord(s, globals.values, df.directives.escape) : s);
  const baseRef = exp(stage.baseName).toLowerCase();
  const base = df.stages.find((s) => s.index < stage.index && s.name === baseRef);
  const copyFrom: Stage[] = [];
  for (const instr of stage.instructions) {
    for (const raw of fromRefs(instr)) {
      const ref = exp(raw);
      let dep: Stage | undefined;
      if (/^\d+$/.test(ref)) {
        const n = Number(ref);
        if (n >= stage.index) {
          throw invalid(`dockerfile parse error on line ${instr.line}: invalid from flag value ${ref}: refers to current or future build stage`);
        }
        dep = df.stages[n];
      } else {
        dep = df.stages.find((s) => s.name === ref.toLowerCase());
        if (dep === stage) throw invalid(`circular dependency detected on stage: ${stage.name}`);
      }
      if (dep && !copyFrom.includes(dep)) copyFrom.push(dep);
    }
  }
  return { ...(base && { base }), copyFrom };
}

/**
 * The stages to build for `target`, in Dockerfile order. A `--from` may name a later
 * stage, so build in `buildOrder` when dependencies must come first. Cycles are refused.
 */
export function neededStages(df: Dockerfile, target?: string, globals?: GlobalArgs): Stage[] {
  const goal = targetStage(df, target);
  const needed = new Set<number>();
  const visiting = new Set<number>();
  const visit = (st: Stage) => {
    if (needed.has(st.index)) return;
    if (visiting.has(st.index)) throw invalid(`circular dependency detected on stage: ${st.name ?? st.index}`);
    visiting.add(st.index);
    const deps = stageDependencies(df, st, globals);
    if (deps.base) visit(deps.base);
    for (const d of deps.copyFrom) visit(d);
    visiting.delete(st.index);
    needed.add(st.index);
  };
  visit(goal);
  return df.stages.filter((s) => needed.has(s.index));
}

/** The needed stages ordered so each comes after everything it depends on. */
export function buildOrder(df: Dockerfile, target?: string, globals?: GlobalArgs): Stage[] {
  const order: Stage[] = [];
  const done = new Set<number>();
  const visit = (st: Stage) => {
    if (done.has(st.index)) return;
    done.add(st.index);
    const deps = stageDependencies(df, st, globals);
    if (deps.base) visit(deps.base);
    for (const d of deps.copyFrom) visit(d);
    order.push(st);
  };
  neededStages(df, target, globals); // checks target and cycles
  visit(targetStage(df, target));
  return order;
}
