// .env files: `NAME=value`, `export NAME=value`, '#' comments (whole-line or after an unquoted value),
// single quotes (literal), double quotes (multi-line; \n \r \t \" \\ escapes) and unquoted values.
import { SecretsError } from '../errors.js';
import { duplicateName, renderChecked, type SecretDocument, type SecretEntry } from './secret-document.js';

type Quote = '"' | "'" | '';

interface DotenvValue extends SecretEntry {
  /** The raw value's span in the text, quotes included. */
  start: number;
  end: number;
  quote: Quote;
}

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;

export function parseDotenv(text: string): SecretDocument {
  const values: DotenvValue[] = [];
  let i = 0;
  let line = 1;
  const fail = (message: string, variable?: string) =>
    new SecretsError(
      'ParseError',
      `.env line ${line}: ${message}`,
      variable === undefined ? {} : { variable },
    );
  const skipBlanks = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  const toLineEnd = () => {
    while (i < text.length && text[i] !== '\n') i++;
  };

  while (i < text.length) {
    skipBlanks();
    if (text[i] === '\n' || text[i] === '\r' || text[i] === '#' || i >= text.length) {
      toLineEnd();
    } else {
      if (text.startsWith('export', i) && (text[i + 6] === ' ' || text[i + 6] === '\t')) {
        i += 6;
        skipBlanks();
      }
      NAME.lastIndex = i;
      const name = NAME.exec(text)?.[0];
      if (!name) throw fail('expected NAME=value');
      i += name.length;
      skipBlanks();
      if (text[i] !== '=') throw fail(`expected '=' after ${name}`, name);
      i++;
      skipBlanks();
      const start = i;
      const quote = text[i];
      let value: string;
      if (quote === '"' || quote === "'") {
        i++;
        let decoded = '';
        while (i < text.length && text[i] !== quote) {
          const char = text[i]!;
          if (char === '\n') line++;
          if (quote === '"' && char === '\\' && i + 1 < text.length) {
            const next = text[i + 1]!;
            decoded += ESCAPES[next] ?? `\\${next}`;
            i += 2;
          } else {
            decoded += char;
            i++;
          }
        }
        if (i >= text.length) throw fail(`the quoted value of ${name} is not closed`, name);
        i++;
        value = decoded;
        values.push({ name, value, start, end: i, quote });
        skipBlanks();
        if (i < text.length && text[i] !== '\n' && text[i] !== '\r' && text[i] !== '#') {
          throw fail(`unexpected text after the quoted value of ${name}`, name);
        }
      } else {
        let end = i;
        while (
          end < text.length &&
          text[end] !== '\n' &&
          !(text[end] === '#' && /\s/.test(text[end - 1] ?? ''))
        )
          end++;
        let valueEnd = end;
        while (valueEnd > start && /\s/.test(text[valueEnd - 1]!)) valueEnd--;
        values.push({ name, value: text.slice(start, valueEnd), start, end: valueEnd, quote: '' });
        i = end;
      }
      toLineEnd();
    }
    if (text[i] === '\n') {
      i++;
      line++;
    }
  }
  const seen = new Set<string>();
  for (const { name } of values) {
    if (seen.has(name)) throw duplicateName(name);
    seen.add(name);
  }

  const document: SecretDocument = {
    format: 'dotenv',
    entries: values.map(({ name, value }) => ({ name, value })),
    render: (replacements) =>
      renderChecked(document, parseDotenv, replacements, () => {
        let out = '';
        let at = 0;
        for (const entry of values) {
          const replacement = replacements.get(entry.name);
          if (replacement === undefined) continue;
          out += text.slice(at, entry.start) + encodeValue(replacement, entry.quote);
          at = entry.end;
        }
        return out + text.slice(at);
      }),
  };
  return document;
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' };

function encodeValue(value: string, quote: Quote): string {
  const doubleQuoted = () => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (quote === '"') return doubleQuoted();
  if (quote === "'") return value.includes("'") ? doubleQuoted() : `'${value}'`;
  const plainSafe =
    value === value.trim() && !/[\n\r"'`\\]/.test(value) && !/\s#/.test(value) && !value.startsWith('#');
  return plainSafe ? value : doubleQuoted();
}
