// Parsers for option values, reported by commander as usage errors (exit 2) when they fail.
import { InvalidArgumentError } from 'commander';
import { isPaddedBase64 } from '../domain/base64.js';

/** `--context k=v`, repeatable: accumulates into one record; a repeated key is refused. */
export function collectPair(
  value: string,
  previous: Record<string, string> | undefined,
): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('expected key=value');
  const key = value.slice(0, at);
  if (previous && key in previous) throw new InvalidArgumentError(`"${key}" given twice`);
  return { ...previous, [key]: value.slice(at + 1) };
}

/** A repeatable option (`--role a --role b`): accumulates its values in order. */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parseInteger(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
    const parsed = Number(value);
    if (parsed < min || parsed > max) throw new InvalidArgumentError(`expected ${min}..${max}`);
    return parsed;
  };
}

export function parseTimestamp(value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new InvalidArgumentError('expected an ISO-8601 date, e.g. 2030-01-31T00:00:00Z');
  return new Date(time).toISOString();
}

/** Signatures and MACs given on the command line are standard base64. */
export function parseBase64(value: string): Buffer {
  const compact = value.replace(/\s+/g, '');
  if (!isPaddedBase64(compact)) {
    throw new InvalidArgumentError('expected standard base64');
  }
  return Buffer.from(compact, 'base64');
}
