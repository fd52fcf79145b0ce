// JSON files that hold secrets (the configuration, the sealed root key) are parsed with failures
// reduced to a line and column: V8's JSON.parse messages quote the text around the error (part of a
// passphrase, once), and only sometimes give a position. jsonc-parser, in strict JSON mode, finds the
// offset of the first error without returning any content.
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';

export interface JsonSyntaxError {
  line: number;
  column: number;
  /** jsonc-parser's name for the error (e.g. "CommaExpected"): names the grammar, never the text. */
  reason: string;
}

export function parseJsonOrLocate(text: string): { value: unknown } | { error: JsonSyntaxError } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    const errors: ParseError[] = [];
    parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    const offset = first?.offset ?? 0;
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    return {
      error: {
        line,
        column: offset - (before.lastIndexOf('\n') + 1) + 1,
        reason: first ? printParseErrorCode(first.error) : 'InvalidJSON',
      },
    };
  }
}

export const describeSyntaxError = ({ line, column, reason }: JsonSyntaxError) =>
  `not valid JSON at line ${line}, column ${column} (${reason})`;
