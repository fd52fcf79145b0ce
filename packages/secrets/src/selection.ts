// Which values an operation touches: glob patterns on names (`*PASSWORD*`, `db.*`, `services.**`),
// matched case-insensitively. A JSON path such as `$.db.password` is the dotted name `db.password`.

export interface Selection {
  /** Only names matching one of these (default: every name). */
  only?: string[];
  /** Never names matching one of these. */
  except?: string[];
}

export function compilePattern(pattern: string): RegExp {
  const normalised = pattern.startsWith('$.') ? pattern.slice(2) : pattern === '$' ? '**' : pattern;
  let source = '';
  for (let i = 0; i < normalised.length; i++) {
    const char = normalised[i]!;
    if (char === '*' && normalised[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (char === '*') source += '[^.]*';
    else if (char === '?') source += '[^.]';
    else source += char.replace(/[\\^$+?.()|{}[\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

export function selects(selection: Selection, name: string): boolean {
  const matches = (patterns: string[]) => patterns.some((pattern) => compilePattern(pattern).test(name));
  if (selection.only && selection.only.length > 0 && !matches(selection.only)) return false;
  return !(selection.except && matches(selection.except));
}
