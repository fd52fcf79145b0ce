// The order of the measurements in each round. Rounds alternate direction and rotate, so slow drift
// (a neighbour's build starting, the SQLite file growing, thermal limits) and short bursts of noise
// land on every cell alike instead of always on the ones measured last; a ratio's two cells stay
// in the same concurrency group, measured seconds apart in the same round.

/**
 * `items` in the order of round `round` (0-based): rotated left by floor(round / 2) and reversed on
 * odd rounds. Over 2n rounds every item takes every position exactly twice, and items next to each
 * other stay next to each other (a plain rotation by `round` would repeat itself for two items).
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const n = items.length;
  if (n === 0) return [];
  const shift = Math.floor(round / 2) % n;
  const rotated = [...items.slice(shift), ...items.slice(0, shift)];
  return round % 2 === 1 ? rotated.reverse() : rotated;
}

export interface Cell<Row> {
  row: Row;
  concurrency: number;
}

/**
 * Every (row, concurrency) cell of round `round`, once: grouped by concurrency, the groups and the
 * rows inside each group both in `roundOrder`. With `runsAt`, a row that does not run at a
 * concurrency has no cell there (the others keep their order).
 */
export function roundSchedule<Row>(
  rows: readonly Row[],
  concurrencies: readonly number[],
  round: number,
  runsAt: (row: Row, concurrency: number) => boolean = () => true,
): Cell<Row>[] {
  return roundOrder(concurrencies, round).flatMap((concurrency) =>
    roundOrder(rows, round)
      .filter((row) => runsAt(row, concurrency))
      .map((row) => ({ row, concurrency })),
  );
}
