import { describe, expect, it } from 'vitest';
import { dumpInstructions, instructionRatios, instructionRow, medianRow } from '../../bench/callgrind.js';

// The head of a real dump (callgrind 3.19, `--dump-instr=no`), cut after the totals.
const DUMP = `# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 16162
cmd:  /usr/bin/node --single-threaded bin/keyhaven.js server
part: 1

desc: I1 cache:
desc: Timerange: Basic block 9036147212 - 9253011112
desc: Trigger: Client Request

positions: line
events: Ir
summary: 1127827133


totals: 1127827133
`;

describe('callgrind dumps', () => {
  it('reads the instruction total of a dump', () => {
    expect(dumpInstructions(DUMP)).toBe(1_127_827_133);
    expect(dumpInstructions(DUMP.replace(/^summary.*$/m, ''))).toBe(1_127_827_133);
  });

  it('reads nothing from a dump that is not written yet', () => {
    expect(dumpInstructions(DUMP.slice(0, DUMP.indexOf('summary')))).toBeUndefined();
    expect(dumpInstructions('')).toBeUndefined();
  });

  it('reports the median repeat, the lower middle one of an even count', () => {
    const rows = [900, 300, 600].map((n) => instructionRow('encrypt', 3, n * 3));
    expect(medianRow(rows).perRequest).toBe(600);
    expect(medianRow(rows.slice(0, 2)).perRequest).toBe(300);
    expect(() => medianRow([])).toThrow();
  });

  it('divides like the throughput ratios: fewer instructions per request is the faster row', () => {
    const rows = [instructionRow('aead-floor', 1000, 440e6), instructionRow('encrypt', 1000, 550e6)];
    const [ratio] = instructionRatios(rows, [
      ['encrypt', 'aead-floor'],
      ['decrypt', 'baseline'],
    ]);
    expect(ratio).toEqual({ name: 'encrypt ÷ aead-floor', ratio: 0.8 });
    expect(instructionRatios(rows, [['decrypt', 'baseline']])).toEqual([]);
  });
});
