import { describe, expect, it } from 'vitest';
import { roundOrder, roundSchedule } from '../../bench/rounds.js';

describe('bench round order', () => {
  it('alternates direction and rotates every second round', () => {
    const orders = Array.from({ length: 6 }, (_, round) => roundOrder(['a', 'b', 'c'], round).join(''));
    expect(orders).toEqual(['abc', 'cba', 'bca', 'acb', 'cab', 'bac']);
  });

  it('puts every item in every position exactly twice over 2n rounds', () => {
    for (const n of [1, 2, 3, 4, 11]) {
      const items = Array.from({ length: n }, (_, i) => i);
      const seen = items.map(() => items.map(() => 0));
      for (let round = 0; round < 2 * n; round++) {
        roundOrder(items, round).forEach((item, position) => seen[item]![position]!++);
      }
      for (const positions of seen) expect(positions).toEqual(items.map(() => 2));
    }
  });

  it('does not repeat the same order for two items', () => {
    expect([0, 1, 2, 3].map((round) => roundOrder(['x', 'y'], round).join(''))).toEqual([
      'xy',
      'yx',
      'yx',
      'xy',
    ]);
  });

  it('keeps neighbours next to each other', () => {
    const items = ['baseline', 'aead-floor', 'encrypt', 'decrypt', 'sign'];
    for (let round = 0; round < 10; round++) {
      const order = roundOrder(items, round);
      const distance = Math.abs(order.indexOf('aead-floor') - order.indexOf('encrypt'));
      expect([1, items.length - 1]).toContain(distance);
    }
  });

  it('schedules every cell once per round, grouped by concurrency', () => {
    const rows = ['baseline', 'encrypt', 'sign'];
    for (let round = 0; round < 4; round++) {
      const cells = roundSchedule(rows, [1, 16, 64], round);
      expect(cells).toHaveLength(9);
      expect(new Set(cells.map((c) => `${c.row}@${c.concurrency}`)).size).toBe(9);
      const groups = cells.map((c) => c.concurrency).filter((c, i, all) => i === 0 || all[i - 1] !== c);
      expect(groups).toHaveLength(3);
    }
    expect(roundSchedule(rows, [1, 16, 64], 1)[0]).toEqual({ row: 'sign', concurrency: 64 });
  });

  it('leaves out the cells of rows that do not run at a concurrency, keeping the others in order', () => {
    const rows = ['encrypt', 'encrypt@pg-1', 'encrypt@pg-2'];
    const runsAt = (row: string, concurrency: number) => row !== 'encrypt@pg-2' || concurrency !== 1;
    for (let round = 0; round < 4; round++) {
      const all = roundSchedule(rows, [1, 16], round);
      const cells = roundSchedule(rows, [1, 16], round, runsAt);
      expect(cells).toEqual(all.filter((c) => runsAt(c.row, c.concurrency)));
      expect(cells).toHaveLength(5);
    }
  });
});
