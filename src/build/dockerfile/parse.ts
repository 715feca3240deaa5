import { BerthError, invalid } from '../../common/errors';
import { chompTabs, findHeredocs } from './heredoc';
import { INSTRUCTION_KINDS, parseFrom, parseInstruction } from './instructions';
import { SourceLines } from './source';
import type { ArgInstruction, Dockerfile, Heredoc, InstructionKind, Stage } from './types';
import { extractFlags, fields, jsonArray, quotedWords, splitInstruction } from './words';

export type * from './types';

/**
 * Parses a Dockerfile into its stages. Nothing is expanded here; see expand.ts and
 * args.ts for what the builder does with each instruction in its scope.
 */
export function parseDockerfile(text: string): Dockerfile {
  const src = new SourceLines(text);
  const directives = src.readDirectives();
  const stages: Stage[] = [];
  const globalArgs: ArgInstruction[] = [];
  let sawInstruction = false;

  for (let logical = src.nextLogical(directives.escape); logical; logical = src.nextLogical(directives.escape)) {
    sawInstruction = true;
    const { line } = logical;
    const at = (e: unknown): never => {
      if (e instanceof BerthError) throw invalid(`dockerfile parse error on line ${line}: ${e.message}`);
      throw e;
    };
    const { name, rest } = splitInstruction(logical.text);
    const kind = name.toUpperCase();

    if (kind === 'FROM') {
      let from;
      try {
        from = parseFrom(rest);
      } catch (e) {
        at(e);
      }
      stages.push({ ...from!, index: stages.length, instructions: [], line, original: logical.text });
      continue;
    }
    if (!INSTRUCTION_KINDS.has(kind)) at(invalid(`unknown instruction: ${kind}`));

    const heredocs = readHeredocs(src, kind, rest, directives.escape, line);
    const endLine = Math.max(logical.endLine, src.position);
    let instr;
    try {
      instr = parseInstruction(kind as InstructionKind, rest, {
        line, endLine, original: logical.text, escape: directives.escape, heredocs,
      });
    } catch (e) {
      at(e);
    }
    if (instr!.kind === 'ARG' && stages.length === 0) {
      globalArgs.push(instr!);
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) throw invalid('no build stage in current context');
    stage.instructions.push(instr!);
  }

  if (!sawInstruction) throw invalid('Dockerfile cannot be empty');
  if (stages.length === 0) throw invalid('dockerfile contains no stages to build');
  return { directives, stages, globalArgs, warnings: src.warnings };
}

/**
 * RUN, COPY and ADD in their non-JSON form may open here-documents; their bodies are the
 * lines right after the instruction, one after the other in the order they were opened.
 */
function readHeredocs(src: SourceLines, kind: string, args: string, escape: string, line: number): Heredoc[] {
  if (kind !== 'RUN' && kind !== 'COPY' && kind !== 'ADD') return [];
  const { rest } = extractFlags(args);
  let isJson = false;
  try {
    isJson = jsonArray(rest) !== undefined;
  } catch {
    isJson = true; // a JSON array of non-strings: the instruction reports it
  }
  if (isJson) return [];
  const words = kind === 'RUN' ? quotedWords(rest, escape) : fields(rest).slice(0, -1);
  return findHeredocs(words, escape).map((m) => {
    const body = src.readHeredoc(m.name, m.chomp, line);
    return { name: m.name, content: m.chomp ? chompTabs(body) : body, expand: m.expand, chomp: m.chomp };
  });
}
