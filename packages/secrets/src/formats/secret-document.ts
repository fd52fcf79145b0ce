// What the three file formats share: the string values of a file, by name, in file order, and the
// file's text with some of them replaced and every other byte (comments, order, quoting) kept.
import { basename } from 'node:path';
import { SecretsError } from '../errors.js';

export type SecretFormat = 'dotenv' | 'json' | 'yaml';

export interface SecretEntry {
  /** The variable name (.env), or the dotted path with `[i]` for array items (JSON, YAML). */
  name: string;
  /** The decoded string value (quotes and escapes removed). */
  value: string;
}

export interface SecretDocument {
  readonly format: SecretFormat;
  readonly entries: readonly SecretEntry[];
  /** The text with the named values replaced, in the style (quoting) each value had. */
  render(replacements: ReadonlyMap<string, string>): string;
}

/** The format a file name implies: `.env`, `.env.*`, `*.env` are dotenv; `.json`; `.yaml`, `.yml`. */
export function formatOfPath(path: string): SecretFormat {
  const name = basename(path).toLowerCase();
  if (name.endsWith('.json') || name.endsWith('.jsonc')) return 'json';
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return 'yaml';
  if (name === '.env' || name.startsWith('.env.') || name.endsWith('.env')) return 'dotenv';
  throw new SecretsError(
    'UsageError',
    `cannot tell the format of ${basename(path)}: name it .env, .json or .yaml, or give the format`,
  );
}

export function duplicateName(name: string): SecretsError {
  return new SecretsError('ParseError', `the name ${name} appears more than once`, { variable: name });
}

/**
 * Renders, then parses the result again and checks that every replaced value reads back as given:
 * an editing mistake is an error here, never a silently wrong file.
 */
export function renderChecked(
  document: SecretDocument,
  parse: (text: string) => SecretDocument,
  replacements: ReadonlyMap<string, string>,
  render: () => string,
): string {
  const text = render();
  const reread = new Map(parse(text).entries.map((entry) => [entry.name, entry.value]));
  for (const [name, value] of replacements) {
    if (reread.get(name) !== value) {
      throw new SecretsError(
        'ParseError',
        `the ${document.format} value of ${name} could not be written back faithfully`,
        {
          variable: name,
        },
      );
    }
  }
  return text;
}
