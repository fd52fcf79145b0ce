// JSON (and JSONC) files through jsonc-parser: every string leaf by its dotted path (`db.password`,
// `servers[0].token`); a replacement edits only that string's bytes, so formatting and comments stay.
import { applyEdits, parseTree, type Edit, type Node, type ParseError } from 'jsonc-parser';
import { SecretsError } from '../errors.js';
import { duplicateName, renderChecked, type SecretDocument, type SecretEntry } from './secret-document.js';

interface JsonValue extends SecretEntry {
  offset: number;
  length: number;
}

export function parseJson(text: string): SecretDocument {
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0 || !root) {
    throw new SecretsError('ParseError', `JSON is not well formed (at offset ${errors[0]?.offset ?? 0})`);
  }
  const values: JsonValue[] = [];
  const names = new Set<string>();
  const walk = (node: Node, name: string) => {
    if (node.type === 'object') {
      for (const property of node.children ?? []) {
        const [key, value] = property.children ?? [];
        if (!key || !value) continue;
        walk(value, name === '' ? String(key.value) : `${name}.${String(key.value)}`);
      }
    } else if (node.type === 'array') {
      (node.children ?? []).forEach((item, index) => walk(item, `${name}[${index}]`));
    } else if (node.type === 'string') {
      if (names.has(name)) throw duplicateName(name);
      names.add(name);
      values.push({ name, value: node.value as string, offset: node.offset, length: node.length });
    }
  };
  walk(root, '');

  const document: SecretDocument = {
    format: 'json',
    entries: values.map(({ name, value }) => ({ name, value })),
    render: (replacements) =>
      renderChecked(document, parseJson, replacements, () => {
        const edits: Edit[] = [];
        for (const entry of values) {
          const replacement = replacements.get(entry.name);
          if (replacement !== undefined) {
            edits.push({ offset: entry.offset, length: entry.length, content: JSON.stringify(replacement) });
          }
        }
        return applyEdits(text, edits);
      }),
  };
  return document;
}
