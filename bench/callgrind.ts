// Reading callgrind's dumps and turning their instruction counts into per-request costs and ratios.
// Pure functions: bench/instructions.ts runs the servers, this reads what they left.
import { existsSync, readFileSync } from 'node:fs';

/** The total instruction count of one callgrind dump (its `summary:` or `totals:` line). */
export function dumpInstructions(text: string): number | undefined {
  const match = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * The file of a process's n-th dump: `--callgrind-out-file=<prefix>` writes `<prefix>.1`, `.2`...
 * for dumps requested with callgrind_control, and `<prefix>` itself at exit.
 */
export const dumpFile = (prefix: string, n: number): string => `${prefix}.${n}`;

/** The dump's instruction count once callgrind has written it completely (undefined until then). */
export function readDump(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  return dumpInstructions(readFileSync(file, 'utf8'));
}

export interface InstructionRow {
  row: string;
  requests: number;
  instructions: number;
  perRequest: number;
}

export function instructionRow(row: string, requests: number, instructions: number): InstructionRow {
  return { row, requests, instructions, perRequest: instructions / requests };
}

/** The repeat with the median cost per request (the lower middle one of an even count). */
export function medianRow(samples: readonly InstructionRow[]): InstructionRow {
  if (samples.length === 0) throw new Error('medianRow: no samples');
  const sorted = [...samples].sort((a, b) => a.perRequest - b.perRequest);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export interface InstructionRatio {
  name: string;
  /** denominator's instructions per request ÷ numerator's: the share of the cheaper route's speed kept. */
  ratio: number;
}

/**
 * `a ÷ b` in the sense of the throughput ratios (what `a` keeps of `b`'s rate): `b`'s instructions
 * per request over `a`'s, for each pair whose rows were both measured.
 */
export function instructionRatios(
  rows: readonly InstructionRow[],
  pairs: readonly (readonly [string, string])[],
): InstructionRatio[] {
  const byRow = new Map(rows.map((row) => [row.row, row.perRequest]));
  return pairs.flatMap(([numerator, denominator]) => {
    const a = byRow.get(numerator);
    const b = byRow.get(denominator);
    return a && b ? [{ name: `${numerator} ÷ ${denominator}`, ratio: b / a }] : [];
  });
}
