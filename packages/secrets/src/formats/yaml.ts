// YAML files through the `yaml` package's document model (comments kept): every string scalar by its
// dotted path; a replacement rewrites only that scalar's source range, in its own style (plain,
// quoted, or a block scalar `|` / `>`), so everything else stays byte for byte.
import { isMap, isScalar, isSeq, parse, parseDocument, Scalar, type Node } from 'yaml';
import { SecretsError } from '../errors.js';
import { duplicateName, renderChecked, type SecretDocument, type SecretEntry } from './secret-document.js';

interface YamlValue extends SecretEntry {
  start: number;
  end: number;
  type: Scalar['type'];
  inFlow: boolean;
}

export function parseYaml(text: string): SecretDocument {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new SecretsError('ParseError', `YAML is not well formed: ${doc.errors[0]!.code}`);
  }
  const values: YamlValue[] = [];
  const names = new Set<string>();
  const walk = (node: Node | null | undefined, name: string, inFlow: boolean) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined) continue;
        walk(pair.value as Node | null, name === '' ? key : `${name}.${key}`, inFlow || Boolean(node.flow));
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) =>
        walk(item as Node, `${name}[${index}]`, inFlow || Boolean(node.flow)),
      );
    } else if (isScalar(node) && typeof node.value === 'string' && node.range) {
      if (names.has(name)) throw duplicateName(name);
      names.add(name);
      values.push({
        name,
        value: node.value,
        start: node.range[0],
        end: node.range[1],
        type: node.type,
        inFlow,
      });
    }
  };
  walk(doc.contents as Node | null, '', false);

  const document: SecretDocument = {
    format: 'yaml',
    entries: values.map(({ name, value }) => ({ name, value })),
    render: (replacements) =>
      renderChecked(document, parseYaml, replacements, () => {
        let out = '';
        let at = 0;
        for (const entry of values) {
          const replacement = replacements.get(entry.name);
          if (replacement === undefined) continue;
          out += text.slice(at, entry.start) + encodeScalar(text, entry, replacement);
          at = entry.end;
        }
        return out + text.slice(at);
      }),
  };
  return document;
}

const doubleQuoted = (value: string) => JSON.stringify(value);

function encodeScalar(text: string, entry: YamlValue, value: string): string {
  switch (entry.type) {
    case 'QUOTE_DOUBLE':
      return doubleQuoted(value);
    case 'QUOTE_SINGLE':
      return value.includes('\n') ? doubleQuoted(value) : `'${value.replace(/'/g, "''")}'`;
    case 'BLOCK_LITERAL':
    case 'BLOCK_FOLDED':
      return blockScalar(text, entry, value);
    default:
      return !entry.inFlow && plainSafe(value) ? value : doubleQuoted(value);
  }
}

function plainSafe(value: string): boolean {
  if (value === '' || value !== value.trim() || value.includes('\n')) return false;
  try {
    return parse(`k: ${value}`)?.k === value && !/[#]|: /.test(value);
  } catch {
    return false;
  }
}

/**
 * A block scalar in the same style and indentation; chomping (`-`, clip, `+`) from the value's
 * trailing newlines. A folded value with inner newlines is written literal (`|`): same value.
 */
function blockScalar(text: string, entry: YamlValue, value: string): string {
  const lineStart = text.lastIndexOf('\n', entry.start - 1) + 1;
  const lineIndent = /^ */.exec(text.slice(lineStart))![0].length;
  const body = text.slice(entry.start, entry.end).split('\n').slice(1);
  const firstContent = body.find((line) => line.trim() !== '');
  const indent = ' '.repeat(firstContent ? /^ */.exec(firstContent)![0].length : lineIndent + 2);
  const trailing = /\n*$/.exec(value)![0].length;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  const content = trailing === 0 ? value : value.slice(0, -1);
  const lines = content.split('\n');
  const style = entry.type === 'BLOCK_FOLDED' && !content.includes('\n') ? '>' : '|';
  const indicator = lines[0]?.startsWith(' ') ? String(indent.length - lineIndent) : '';
  return `${style}${indicator}${chomp}\n${lines.map((line) => (line === '' ? '' : indent + line)).join('\n')}\n`;
}
